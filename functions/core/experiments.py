"""Message experiments: which wording (template variant) and which tone a message gets, learned from payments.

Per segment (stage x tier x language) and template, a Beta(1 + rewards, 1 + exposures - rewards)
posterior per variant; the choice is Thompson sampling among the candidates (the compliant variants
the lender tests, minus the retired), after a warm-up (every candidate below `min_exposures` is
served uniformly first) and with a floor of uniform exploration. A pinned variant always wins.
A reminder's tone is a second experiment of the same message when the lender lists tones to test: its
arms are the tones (the pseudo-template `tone`), chosen, counted and rewarded like the variants. Which channel a
reminder tries first is a third when the lender lists channels to test (the pseudo-template `channel`), for
debtors whose channels their own answers have not ordered yet.
An exposure is a sent message chosen here; a reward is a payment within the reward window after it,
when it is the last collection message before the payment (once per message). docs/experiments.md.

Pure: the random source is passed in (the decision's is `Draws(job_id)`, so a re-run scheduler picks the
same variant for the same due instance).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache, lru_cache
from hashlib import blake2b
from itertools import combinations
from math import exp, lgamma, log, log1p
from random import Random as _Random
from typing import Protocol

from functions.core.account import Stage
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
# The tone experiment: `tone` arms in the same segment as the wording's (stat keys `tone#friendly`, ...), for
# reminders only. Every tone of every reminder variant is rendered and checked for its disclosures by
# tests/unit/core/test_messages.py, so each is a compliant candidate.
TONE = "tone"
TONED_TEMPLATES = frozenset({"reminder"})
TESTABLE_TONES = ("friendly", "neutral", "firm")
# The channel experiment: which channel a reminder tries first (`channel` arms, stat keys `channel#email`,
# `channel#sms`), for debtors whose own answers have not ordered their channels yet (core.channels) and who did not
# choose one. Only an order: the compliance gate still decides each channel (consent, opt-outs, caps, the window),
# and a message the gate moved to another channel counts for no channel arm.
CHANNEL = "channel"
CHANNELED_TEMPLATES = frozenset({"reminder"})
TESTABLE_CHANNELS = ("email", "sms")
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
    pool_weight: int = 0  # a segment's prior: up to this many exposures of the lender's other segments (`pooled`)

    def stat_keys(self) -> tuple[str, ...]:
        """Every arm's stat key (`<template>#<variant>`, `tone#<tone>`): what one segment's standings can hold."""
        return tuple(stat_key(template, v) for template, variants in self.candidates.items() for v in variants)


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


# The segments whose evidence is pooled (`pooled`): every stage, segmentation.tier_for's tiers and the languages
# templates are written in (i18n.TEMPLATE_LANGUAGES; tests/unit/core/test_experiments.py checks both lists). A
# debtor's other language (`fr`, `es-mx`) is a segment of its own, which gets the pool as its prior but is not in it.
SEGMENT_TIERS = (1, 2, 3, 4)
POOLED_LANGUAGES = ("en", "es")


def pooled_segments() -> tuple[str, ...]:
    """The segment keys a lender's pool sums (stage x tier x language): the store reads them in one batch."""
    return tuple(
        segment_key(stage.value, tier, language)
        for stage in Stage
        for tier in SEGMENT_TIERS
        for language in POOLED_LANGUAGES
    )


def pooled(segment: str, segments: Mapping[str, SegmentStandings], weight: int) -> dict[str, Standing]:
    """`segment`'s standings with the evidence of the lender's other segments as its prior (partial pooling).

    Per arm, the other segments' exposures N and rewards R, and the segment's own n and r: the prior is worth
    m = min(N, weight) exposures at the others' rate, k = m R / N rewards (rounded half up, in integers), and the
    segment's standing becomes (n + m, r + k): the Beta posterior Beta(1 + r + k, 1 + n - r + m - k). A new
    segment starts from what the lender learned elsewhere, shrunk to at most `weight` messages' worth; as its own
    exposures grow past `weight` they dominate, so a segment that truly differs still learns its own best arm.
    The warm-up counts the pooled exposures: an arm is past it when the segment and the prior together have
    `min_exposures`. `weight` 0 (or no other evidence) leaves the segment's own standings."""
    own = segments.get(segment, {})
    if weight <= 0:
        return dict(own)
    others: dict[str, list[int]] = {}
    for key, standings in segments.items():
        if key == segment:
            continue
        for arm, standing in standings.items():
            total = others.setdefault(arm, [0, 0])
            total[0] += standing.exposures
            total[1] += min(standing.rewards, standing.exposures)
    result: dict[str, Standing] = {}
    for arm in own.keys() | others.keys():
        mine = own.get(arm, _EMPTY)
        exposures, rewards = others.get(arm, (0, 0))
        prior = min(exposures, weight)
        prior_rewards = (2 * prior * rewards + exposures) // (2 * exposures) if exposures else 0
        result[arm] = Standing(mine.exposures + prior, min(mine.rewards, mine.exposures) + prior_rewards)
    return result


class Draws:
    """A job's random draws, a function of its key alone: uniforms from BLAKE2b of (key, block) in counter mode,
    eight 53-bit uniforms per 64-byte block. What `choose` needs (`random`, `choice`, and `betavariate` for more
    than two candidates), without seeding a Mersenne Twister per job (3-4 µs with its first refill): the
    decision makes one per job from the job id, so a re-run scheduler draws the same for the same due instance.
    tests/unit/core/test_experiments.py checks the uniforms and the choices' distributions."""

    __slots__ = ("_key", "_block", "_digest", "_next")

    def __init__(self, key: str) -> None:
        self._key = key
        self._block = -1
        self._digest = b""
        self._next = 8  # the next word of the block: none yet

    def _word(self) -> int:
        """The next 64-bit word: word i of block n is bytes 8i..8i+8 (little-endian) of BLAKE2b-512 of the key's
        UTF-8 with the salt n (16 bytes, little-endian; block 0's salt is BLAKE2b's default, zeros)."""
        index = self._next
        if index == 8:
            self._block = block = self._block + 1
            material = self._key.encode()
            self._digest = (
                blake2b(material).digest()
                if block == 0
                else blake2b(material, salt=block.to_bytes(16, "little")).digest()
            )
            index = 0
        self._next = index + 1
        return _WORD.unpack_from(self._digest, 8 * index)[0]  # type: ignore[no-any-return]

    def random(self) -> float:
        """A uniform in [0, 1): the top 53 bits of the next 64-bit word (as `random.Random.random`'s resolution)."""
        return (self._word() >> 11) * _TWO_TO_MINUS_53

    def choice(self, seq: Sequence[str]) -> str:
        """A uniform pick: `len(seq)` times the next 64-bit word, its integer part (bias below len(seq) / 2**64)."""
        return seq[(self._word() * len(seq)) >> 64]

    # `random.Random`'s own Python implementations, which draw only through `self.random()`: for three or more
    # candidates whose exact win probabilities would take too long a sum (`win_probabilities`).
    betavariate = _Random.betavariate
    gammavariate = _Random.gammavariate


_WORD = struct.Struct("<Q")
_TWO_TO_MINUS_53 = 2.0**-53


class Generator(Protocol):
    """What `choose` draws from: `Draws` in the decision, any `random.Random` too."""

    def random(self) -> float: ...

    def choice(self, seq: Sequence[str], /) -> str: ...

    def betavariate(self, alpha: float, beta: float, /) -> float: ...


@lru_cache(maxsize=4096)
def win_probability(first: tuple[int, int], second: tuple[int, int]) -> float:
    """P(X > Y) for X ~ Beta(*first) and Y ~ Beta(*second) independent, integer parameters >= 1: exact, a finite sum
    (E. Miller, "Formulas for Bayesian A/B testing", 2015):

        P(Y > X) = sum over i < a_Y of B(a_X + i, b_X + b_Y) / ((b_Y + i) B(1 + i, b_Y) B(a_X, b_X))

    with consecutive terms in the ratio (a_X + i)(b_Y + i) / ((a_X + b_X + b_Y + i)(1 + i)), summed in logs (a
    term may underflow). It sums over the smallest of the four parameters (P(X > Y) = P(1 - X < 1 - Y), and 1 - X
    ~ Beta(b, a)): rewards are mostly few. Two candidates' Thompson choice is the better one with this
    probability: `choose` draws one uniform against it instead of two Beta variates. Cached: a tick's decisions
    of one segment share the standings."""
    (a1, b1), (a2, b2) = first, second
    smallest = min(a1, b1, a2, b2)
    if smallest == a1:
        return _greater((a2, b2), (a1, b1))  # P(X > Y), summed over a_X
    if smallest == a2:
        return 1.0 - _greater((a1, b1), (a2, b2))  # 1 - P(Y > X), summed over a_Y
    if smallest == b2:
        return _greater((b1, a1), (b2, a2))  # P(1 - Y > 1 - X), summed over b_Y
    return 1.0 - _greater((b2, a2), (b1, a1))  # 1 - P(1 - X > 1 - Y), summed over b_X


def _greater(x: tuple[int, int], y: tuple[int, int]) -> float:
    """P(Y > X), Y's first parameter terms (Miller's sum; see `win_probability`)."""
    (ax, bx), (ay, by) = x, y
    log_term = lgamma(ax + bx) + lgamma(bx + by) - lgamma(ax + bx + by) - lgamma(bx)  # log B(ax, bx+by)/B(ax, bx)
    logs = [log_term]
    for i in range(ay - 1):
        log_term += log((ax + i) * (by + i) / ((ax + bx + by + i) * (1 + i)))
        logs.append(log_term)
    top = max(logs)
    return min(1.0, max(0.0, exp(top) * sum(exp(value - top) for value in logs)))


# The longest inclusion-exclusion sum `win_probabilities` computes exactly (its terms: the product of the other
# candidates' first parameters, summed over their subsets); past it, `choose` draws each posterior instead (the
# same distribution, slower). Rewards are mostly few: three tones at 40 rewards each are 1,681 terms per arm.
EXACT_TERMS_LIMIT = 20_000


@lru_cache(maxsize=4096)
def win_probabilities(betas: tuple[tuple[int, int], ...]) -> tuple[float, ...] | None:
    """P(candidate i's draw is the highest) for independent X_i ~ Beta(*betas[i]), integer parameters >= 1: exact
    (finite sums), or None when the sums would be longer than `EXACT_TERMS_LIMIT` terms.

        P(X_i is the highest) = integral of f_i(x) * prod over j != i of F_j(x) dx

    and for integer parameters F_j(x) = I_x(a_j, b_j) = 1 - S_j(x), S_j(x) = sum over m < a_j of
    C(n_j, m) x^m (1 - x)^(n_j - m), n_j = a_j + b_j - 1 (the binomial tail). Expanding the product by
    inclusion-exclusion over the subsets T of the others, each prod over T of S_j is a polynomial
    sum over s of c_T(s) x^s (1 - x)^(N_T - s) (the convolution of the S_j's coefficients), and
    integral of f_i(x) x^s (1 - x)^(N - s) dx = B(a_i + s, b_i + N - s) / B(a_i, b_i). Coefficients and Beta
    functions are kept in logs (they overflow a float well before the probabilities lose precision).
    Thompson sampling picks candidate i with exactly this probability, so `choose` draws one uniform against
    these instead of one Beta variate per candidate; cached, as a tick's decisions of a segment share the
    standings. Two candidates: `win_probability`."""
    count = len(betas)
    if count == 2:
        second = win_probability(betas[1], betas[0])
        return 1.0 - second, second
    heads = [a for a, _ in betas]
    for i in range(count):
        terms = 1
        for j in range(count):
            if j != i:
                terms *= heads[j] + 1  # the subsets' products, bounded by prod (a_j + 1)
        if terms > EXACT_TERMS_LIMIT:
            return None
    tails = [_log_tail(a, b) for a, b in betas]  # log c(s) of each S_j, s < a_j
    products: dict[frozenset[int], list[float]] = {frozenset(): [0.0]}
    probabilities = []
    for i, (a, b) in enumerate(betas):
        others = [j for j in range(count) if j != i]
        log_beta = lgamma(a) + lgamma(b) - lgamma(a + b)
        total = 0.0
        for size in range(count):
            for chosen in combinations(others, size):
                subset = frozenset(chosen)
                coefficients = _product(subset, tails, products)
                span = sum(betas[j][0] + betas[j][1] - 1 for j in subset)  # N_T
                logs = [
                    c + lgamma(a + s) + lgamma(b + span - s) - lgamma(a + b + span) - log_beta
                    for s, c in enumerate(coefficients)
                ]
                top = max(logs)
                term = exp(top) * sum(exp(value - top) for value in logs)
                total += -term if size % 2 else term
        probabilities.append(min(1.0, max(0.0, total)))
    return tuple(probabilities)


def _log_tail(a: int, b: int) -> list[float]:
    """log C(n, m) for m < a, n = a + b - 1: the coefficients of S(x) = P(Binomial(n, x) < a) = 1 - I_x(a, b)."""
    n = a + b - 1
    return [lgamma(n + 1) - lgamma(m + 1) - lgamma(n - m + 1) for m in range(a)]


def _product(
    subset: frozenset[int], tails: list[list[float]], products: dict[frozenset[int], list[float]]
) -> list[float]:
    """The log coefficients of prod over `subset` of S_j: a convolution, memoised by subset (each arm's sums
    share the others' products)."""
    found = products.get(subset)
    if found is not None:
        return found
    last = max(subset)
    rest = _product(subset - {last}, tails, products)
    tail = tails[last]
    convolved = [float("-inf")] * (len(rest) + len(tail) - 1)
    for s, left in enumerate(rest):
        for m, right in enumerate(tail):
            convolved[s + m] = _log_add(convolved[s + m], left + right)
    products[subset] = convolved
    return convolved


def _log_add(x: float, y: float) -> float:
    if x < y:
        x, y = y, x
    return x if y == float("-inf") else x + log1p(exp(y - x))


@cache
def _stat_keys(template: str, candidates: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(stat_key(template, v) for v in candidates)


def choose(
    template: str,
    segment: str,
    standings: SegmentStandings,
    settings: Settings,
    rng: Generator,
    among: Iterable[str] | None = None,
) -> Choice | None:
    """The variant for a `template` message in `segment`, or None when the template is not under test (or, with
    `among`, the arms usable for this message, none of the candidates is).

    Pinned → the pin. One candidate → it. Otherwise with probability `exploration` a uniform pick; else
    any candidate with fewer than `min_exposures` exposures is served first (uniformly among those);
    else Thompson sampling: one draw from each candidate's Beta posterior, the highest wins (drawn as the same
    choice in distribution: one uniform against the exact probability that each candidate's draw is the
    highest, `win_probability` for two and `win_probabilities` for more, unless that sum is too long)."""
    candidates = settings.candidates.get(template)
    if candidates and among is not None:
        usable = set(among)
        candidates = tuple(c for c in candidates if c in usable)
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
    if len(stats) == 2:  # the second wins with the probability that its draw beats the first's: one uniform
        best = 1 if rng.random() < win_probability(stats[1].beta, stats[0].beta) else 0
    elif (probabilities := win_probabilities(tuple(s.beta for s in stats))) is not None:
        best = _pick(probabilities, rng.random())  # one uniform against each one's chance of the highest draw
    else:  # sums too long to be worth it: one Beta draw each, the highest
        draws = [rng.betavariate(*s.beta) for s in stats]
        best = max(range(len(candidates)), key=draws.__getitem__)
    return _choice(segment, template, candidates[best], THOMPSON)


def _pick(probabilities: tuple[float, ...], uniform: float) -> int:
    """The index whose share of [0, 1) holds `uniform` (the last one takes any rounding left over)."""
    cumulative = 0.0
    for index, probability in enumerate(probabilities):
        cumulative += probability
        if uniform < cumulative:
            return index
    return len(probabilities) - 1


def parse_choice(reason: str | None) -> Choice | None:
    """The first experiment choice a job's `reason` records (its variant's, when an experiment chose it)."""
    choices = parse_choices(reason)
    return choices[0] if choices else None


def parse_choices(reason: str | None) -> tuple[Choice, ...]:
    """Every experiment choice a job's `reason` records: the variant's, then the tone's."""
    if not reason or "experiment: " not in reason:
        return ()
    return tuple(Choice(*match.groups()) for match in _TOKEN.finditer(reason))


def chosen_as_sent(choice: Choice, template: str, variant: str, tone: str, channel: str) -> bool:
    """The choice is what the message carried: the variant's for its template, the tone's for its tone, the
    channel's for its channel (a choice the message did not carry counts nothing)."""
    if choice.template == TONE:
        return template in TONED_TEMPLATES and choice.variant == tone
    if choice.template == CHANNEL:
        return template in CHANNELED_TEMPLATES and choice.variant == channel
    return choice.template == template and choice.variant == variant


def rewarded_message(
    trail: Iterable[AuditEvent], paid_at: datetime, window: timedelta
) -> tuple[str, tuple[Choice, ...]] | None:
    """The message a payment at `paid_at` rewards, with its experiment choices: the last collection message
    sent at or before the payment, if it was sent within `window` before it and an experiment chose its variant
    or its tone (last-touch attribution). Returns (its audit event id, the choices it carried) or None."""
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
    detail = last.detail
    template, variant, tone, channel = (str(detail.get(name)) for name in ("template", "variant", "tone", "channel"))
    choices = tuple(
        c for c in parse_choices(detail.get("decision")) if chosen_as_sent(c, template, variant, tone, channel)
    )
    if not choices:
        return None
    return last.event_id, choices
