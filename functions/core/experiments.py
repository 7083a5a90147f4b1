"""Message experiments: which wording (template variant) a message gets, learned from payments.

Per segment (stage x tier x language) and template, a Beta(1 + rewards, 1 + exposures - rewards)
posterior per variant; the choice is Thompson sampling among the candidates (the compliant variants
the lender tests, minus the retired), after a warm-up (every candidate below `min_exposures` is
served uniformly first) and with a floor of uniform exploration. A pinned variant always wins.
An exposure is a sent message chosen here; a reward is a payment within the reward window after it,
when it is the last collection message before the payment (once per message). docs/experiments.md.

Pure: the random source is passed in (the decision seeds it from the job id, so a re-run scheduler
picks the same variant for the same due instance).
"""

from __future__ import annotations

import random
import re
import threading
from _random import Random as _BaseRandom
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from hashlib import sha512

from functions.core.audit import AuditEvent, EventType

# The variants each template words differently, every one rendered in every language, tone, regime and
# channel by tests/unit/core/test_messages.py, which checks each carries every disclosure the message must
# (Reg F 1006.18(e), 1006.6(e), ...). Only these are ever candidates; a template not listed is never tested
# (the validation notice keeps the CFPB model form's wording, receipts and notices are transactional).
COMPLIANT_VARIANTS: dict[str, tuple[str, ...]] = {
    "reminder": ("a", "b"),
    "promise_due": ("a", "b"),
}
DEFAULT_VARIANT = "a"
NOT_COLLECTION = frozenset({"receipt", "payment_failed"})  # transactional: never the message a payment rewards

PINNED, ONLY, EXPLORE, WARM_UP, THOMPSON = "pinned", "only", "explore", "warm-up", "thompson"
_TOKEN = re.compile(r"experiment: (\S+) ([a-z_]+)/([A-Za-z0-9_-]+) \(([a-z-]+)\)")


@dataclass(frozen=True, slots=True)
class Settings:
    """A lender's compiled experiments policy (policy.ExperimentsPolicy): per template, its candidates."""

    candidates: dict[str, tuple[str, ...]]  # template -> compliant, tested, not retired variants
    pins: dict[str, str] = field(default_factory=dict)  # template -> the variant always sent
    reward_window: timedelta = timedelta(days=7)
    exploration: float = 0.05
    min_exposures: int = 50


@dataclass(frozen=True, slots=True)
class Standing:
    """What a variant did in a segment: messages sent (exposures) and messages rewarded by a payment."""

    exposures: int = 0
    rewards: int = 0

    @property
    def beta(self) -> tuple[int, int]:
        """The Beta posterior's parameters from a uniform prior (rewards clamped to exposures: a lost
        exposure increment must not make the posterior impossible)."""
        rewards = min(self.rewards, self.exposures)
        return 1 + rewards, 1 + self.exposures - rewards


_EMPTY = Standing()

# Standings of one segment, keyed by `stat_key(template, variant)`.
SegmentStandings = Mapping[str, Standing]
# The standings of a lender's segment by its key (the scheduler loads and caches them per run).
Standings = Callable[[str], SegmentStandings]


@dataclass(frozen=True, slots=True)
class Choice:
    """The variant chosen for a message, where (segment) and how; recorded as a token of `Job.reason`."""

    segment: str
    template: str
    variant: str
    how: str

    @property
    def token(self) -> str:
        return f"experiment: {self.segment} {self.template}/{self.variant} ({self.how})"

    @property
    def stat_key(self) -> str:
        return stat_key(self.template, self.variant)


_CHOICE_SLOTS = tuple(vars(Choice)[name].__set__ for name in Choice.__slots__)
assert Choice.__slots__ == ("segment", "template", "variant", "how")


def _choice(segment: str, template: str, variant: str, how: str) -> Choice:
    """`Choice(...)` without the frozen dataclass's __init__ (an object.__setattr__ per field: the decision's hot
    path). tests/unit/core/test_experiments.py checks it equals the dataclass's."""
    choice = object.__new__(Choice)
    set_segment, set_template, set_variant, set_how = _CHOICE_SLOTS
    set_segment(choice, segment)
    set_template(choice, template)
    set_variant(choice, variant)
    set_how(choice, how)
    return choice


def segment_key(stage: str, tier: int, language: str) -> str:
    """The segment a message's statistics belong to: stage x tier x language (e.g. `early#2#en`)."""
    return f"{stage}#{tier}#{language.lower()}"


def stat_key(template: str, variant: str) -> str:
    return f"{template}#{variant}"


_THREAD = threading.local()
_SEED = _BaseRandom.seed  # the C generator's seeding from an int (what `random.Random.seed` ends with)


def seeded(key: str) -> random.Random:
    """A generator in the state `random.Random(key)` starts in (the same draws), without making one per call: a
    decision seeds one per job, and a new `Random` reads the OS's entropy before it is reseeded from the key
    (tests/unit/core/test_experiments.py checks the draws are the same). One per thread, reseeded by each call:
    use it before the thread's next call."""
    rng: random.Random | None = getattr(_THREAD, "rng", None)
    if rng is None:
        rng = _THREAD.rng = random.Random()
    material = key.encode()
    _SEED(rng, int.from_bytes(material + sha512(material).digest(), "big"))  # `Random.seed`'s str, version 2
    rng.gauss_next = None  # type: ignore[attr-defined]  # as `Random.seed` does (typeshed omits it)
    return rng


@cache
def _stat_keys(template: str, candidates: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(stat_key(template, v) for v in candidates)


def choose(
    template: str, segment: str, standings: SegmentStandings, settings: Settings, rng: random.Random
) -> Choice | None:
    """The variant for a `template` message in `segment`, or None when the template is not under test.

    Pinned → the pin. One candidate → it. Otherwise with probability `exploration` a uniform pick; else
    any candidate with fewer than `min_exposures` exposures is served first (uniformly among those);
    else Thompson sampling: one draw from each candidate's Beta posterior, the highest wins."""
    candidates = settings.candidates.get(template)
    if not candidates:
        return None
    pin = settings.pins.get(template)
    if pin is not None:
        return _choice(segment, template, pin, PINNED)
    if len(candidates) == 1:
        return _choice(segment, template, candidates[0], ONLY)
    if rng.random() < settings.exploration:
        return _choice(segment, template, rng.choice(candidates), EXPLORE)
    stats = [standings.get(key, _EMPTY) for key in _stat_keys(template, candidates)]
    minimum = settings.min_exposures
    under = [v for v, s in zip(candidates, stats, strict=True) if s.exposures < minimum]
    if under:
        return _choice(segment, template, rng.choice(under), WARM_UP)
    draws = [rng.betavariate(*s.beta) for s in stats]
    best = max(range(len(candidates)), key=draws.__getitem__)
    return _choice(segment, template, candidates[best], THOMPSON)


def parse_choice(reason: str | None) -> Choice | None:
    """The experiment choice a job's `reason` records, if its variant was chosen by an experiment."""
    if not reason or "experiment: " not in reason:
        return None
    match = _TOKEN.search(reason)
    if match is None:
        return None
    segment, template, variant, how = match.groups()
    return Choice(segment, template, variant, how)


def rewarded_message(trail: Iterable[AuditEvent], paid_at: datetime, window: timedelta) -> tuple[str, Choice] | None:
    """The message a payment at `paid_at` rewards, with its experiment choice: the last collection message
    sent at or before the payment, if it was sent within `window` before it and its variant was chosen by
    an experiment (last-touch attribution). Returns (its audit event id, the choice) or None."""
    last: AuditEvent | None = None
    for event in trail:
        if event.type is not EventType.REMINDER_SENT or event.at > paid_at:
            continue
        if str(event.detail.get("template")) in NOT_COLLECTION:
            continue
        if last is None or event.at >= last.at:
            last = event
    if last is None or paid_at - last.at > window:
        return None
    choice = parse_choice(last.detail.get("decision"))
    if choice is None or choice.variant != last.detail.get("variant"):
        return None
    return last.event_id, choice
