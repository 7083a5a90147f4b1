"""Message experiments: Thompson sampling per segment, warm-up, exploration, pins, retirements, attribution."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from functions.core import experiments, messages
from functions.core.audit import AuditEvent, EventType
from functions.core.compliance import gate_policy
from functions.core.decision import decide
from functions.core.experiments import Settings, Standing, choose, rewarded_message, segment_key, stat_key
from functions.core.lender import LenderProfile
from functions.core.policy import ExperimentsPolicy, OutreachPolicy
from tests.events.factories import make_account

SEGMENT = "mid#2#en"
NOW = datetime(2026, 3, 8, 14, 0, tzinfo=UTC)


def settings(**changes: object) -> Settings:
    policy = ExperimentsPolicy(enabled=True, **changes)  # type: ignore[arg-type]
    compiled = policy.compile()
    assert compiled is not None
    return compiled


def play(rounds: int, rates: dict[str, float], seed: int, config: Settings) -> list[str]:
    """A synthetic bandit: each round chooses a variant, which pays with its own probability."""
    env = random.Random(seed + 1)  # the world's randomness, apart from the bandit's
    rng = random.Random(seed)
    stats: dict[str, Standing] = {}
    chosen = []
    for _ in range(rounds):
        choice = choose("reminder", SEGMENT, stats, config, rng)
        assert choice is not None
        key = choice.stat_key
        before = stats.get(key, Standing())
        stats[key] = Standing(before.exposures + 1, before.rewards + (env.random() < rates[choice.variant]))
        chosen.append(choice.variant)
    return chosen


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_bandit_converges_to_the_better_variant(seed: int) -> None:
    # Given variant b pays 8 % of the time and a 5 %, when 5,000 messages are sent,
    chosen = play(5_000, {"a": 0.05, "b": 0.08}, seed, settings())
    # then the better variant gets most of the last 1,000, and both were tried (warm-up, exploration).
    last = Counter(chosen[-1_000:])
    assert last["b"] > 700, last
    assert Counter(chosen)["a"] >= 50


def test_warm_up_serves_every_candidate_before_the_posterior_is_used() -> None:
    config = settings(min_exposures=50, exploration=0.0)
    stats = {stat_key("reminder", "a"): Standing(500, 400), stat_key("reminder", "b"): Standing(10, 0)}
    rng = random.Random(7)
    picks = {choose("reminder", SEGMENT, stats, config, rng) for _ in range(50)}
    assert {(c.variant, c.how) for c in picks if c} == {("b", experiments.WARM_UP)}


def test_exploration_floor_keeps_trying_the_loser() -> None:
    config = settings(min_exposures=0, exploration=0.05)
    stats = {stat_key("reminder", "a"): Standing(10_000, 5_000), stat_key("reminder", "b"): Standing(10_000, 10)}
    rng = random.Random(11)
    picks = Counter(choose("reminder", SEGMENT, stats, config, rng).variant for _ in range(4_000))  # type: ignore[union-attr]
    assert 40 < picks["b"] < 160  # about half of 5 % of 4,000


def test_a_retired_or_non_compliant_variant_is_never_chosen() -> None:
    config = settings(retired={"reminder": ("b",)}, min_exposures=0, exploration=0.5)
    rng = random.Random(5)
    stats = {stat_key("reminder", "b"): Standing(1_000, 900), stat_key("reminder", "c"): Standing(1_000, 1_000)}
    variants = {choose("reminder", SEGMENT, stats, config, rng).variant for _ in range(1_000)}  # type: ignore[union-attr]
    assert variants == {"a"}
    # Templates without compliant variants are never under test.
    assert choose("validation_notice", SEGMENT, {}, settings(), rng) is None
    assert choose("receipt", SEGMENT, {}, settings(), rng) is None


def test_a_pin_always_wins() -> None:
    config = settings(pins={"reminder": "b"}, exploration=0.5)
    stats = {stat_key("reminder", "a"): Standing(10_000, 9_000), stat_key("reminder", "b"): Standing(10_000, 1)}
    rng = random.Random(3)
    assert {choose("reminder", SEGMENT, stats, config, rng) for _ in range(200)} == {
        experiments.Choice(SEGMENT, "reminder", "b", experiments.PINNED)
    }


def test_the_choice_is_deterministic_with_a_seed() -> None:
    assert play(800, {"a": 0.05, "b": 0.08}, 42, settings()) == play(800, {"a": 0.05, "b": 0.08}, 42, settings())


def test_the_reseeded_generator_draws_what_a_new_random_seeded_with_the_key_draws() -> None:
    """`experiments.seeded` stands in for `random.Random(job_id)` in the decision: same draws, whatever came before."""
    for key in ("", "0123456789abcdef0123456789abcdef", "é-ü", "job#42"):
        reference = random.Random(key)
        expected = [reference.random(), reference.betavariate(31, 471), reference.choice("abc"), reference.gauss(0, 1)]
        rng = experiments.seeded(key)
        assert [rng.random(), rng.betavariate(31, 471), rng.choice("abc"), rng.gauss(0, 1)] == expected
        rng.gauss(0, 1)  # leaves a cached normal behind: the next seeding must clear it, as a new Random has none
        again = experiments.seeded(key)
        assert [again.random(), again.betavariate(31, 471), again.choice("abc"), again.gauss(0, 1)] == expected


def test_the_fast_choice_is_the_dataclasses_choice() -> None:
    fields = (SEGMENT, "reminder", "b", experiments.THOMPSON)
    fast, slow = experiments._choice(*fields), experiments.Choice(*fields)
    assert fast == slow and hash(fast) == hash(slow) and repr(fast) == repr(slow) and fast.token == slow.token


@pytest.mark.parametrize(
    "section",
    [
        {"variants": {"reminder": ("a", "z")}},  # no such compliant wording
        {"pins": {"validation_notice": "b"}},  # the model form is never tested
        {"retired": {"reminder": ("a", "b")}},  # nothing left to send
        {"pins": {"reminder": "b"}, "retired": {"reminder": ("b",)}},  # a pin on a retired variant
        {"exploration": 0.9},
        {"reward_window_days": 0},
        {"surprise": True},
    ],
)
def test_the_policy_rejects_what_would_send_a_non_compliant_or_no_variant(section: dict) -> None:
    with pytest.raises(ValidationError):
        OutreachPolicy(experiments=section)


def test_existing_policies_validate_with_experiments_off() -> None:
    rules = LenderProfile(lender_id="acme", creditor_name="Acme").rules()
    assert OutreachPolicy().experiments.enabled is False and rules.experiments is None


def test_compliant_variants_are_the_ones_the_templates_word() -> None:
    # Every candidate is a variant the message layer renders (and test_messages checks for every disclosure).
    for template, variants in experiments.COMPLIANT_VARIANTS.items():
        assert set(variants) <= set(messages.VARIANTS)
        for language in ("en", "es"):
            assert "variant" in (messages.TEMPLATES / language / f"{template}.j2").read_text(), template
    assert Path(messages.TEMPLATES).is_dir()


# --- the decision -----------------------------------------------------------------------------------


def lender(**experiments_policy: object):
    return LenderProfile(
        lender_id="acme", creditor_name="Acme", outreach={"experiments": {"enabled": True, **experiments_policy}}
    ).rules()


def test_the_decision_uses_the_experiment_only_with_standings_and_the_lender_enabled() -> None:
    account = make_account().with_changes(next_contact_at=NOW)
    rules = lender(pins={"reminder": "b"})
    seen: list[str] = []

    def standings(segment: str) -> dict[str, Standing]:
        seen.append(segment)
        return {}

    job = decide(account, NOW, rules, gate_policy(rules), standings=standings).job
    assert job is not None and job.variant == "b"
    assert job.reason.endswith("; experiment: mid#2#en reminder/b (pinned)")
    assert seen == [segment_key("mid", 2, "en")]
    assert experiments.parse_choice(job.reason) == experiments.Choice("mid#2#en", "reminder", "b", "pinned")
    # Without standings (every existing caller), or with the lender's experiments off: variant "a", reason unchanged.
    plain = decide(account, NOW, rules, gate_policy(rules)).job
    assert plain is not None and plain.variant == "a" and "experiment" not in plain.reason
    off = LenderProfile(lender_id="acme", creditor_name="Acme").rules()
    assert decide(account, NOW, off, gate_policy(off), standings=standings).job.variant == "a"  # type: ignore[union-attr]


def test_the_decision_picks_the_same_variant_for_the_same_due_instance() -> None:
    account = make_account().with_changes(next_contact_at=NOW)
    rules = lender()
    variants = {decide(account, NOW, rules, gate_policy(rules), standings=lambda s: {}).job.variant for _ in range(5)}  # type: ignore[union-attr]
    assert len(variants) == 1


# --- attribution -------------------------------------------------------------------------------------


def sent(at: datetime, event_id: str, variant: str = "b", template: str = "reminder", decision: str | None = None):
    token = experiments.Choice(SEGMENT, template, variant, experiments.THOMPSON).token
    return AuditEvent(
        "acme#1",
        at,
        EventType.REMINDER_SENT,
        event_id,
        "sender",
        {"template": template, "variant": variant, "decision": decision if decision is not None else f"x; {token}"},
    )


def test_a_payment_rewards_the_last_collection_message_within_the_window() -> None:
    paid = NOW + timedelta(days=2)
    trail = [
        sent(NOW - timedelta(days=3), "job:1", "a"),
        sent(NOW, "job:2", "b"),
        sent(NOW + timedelta(days=1), "job:r", "a", template="receipt", decision=""),  # transactional: skipped
        sent(paid + timedelta(hours=1), "job:3", "a"),  # after the payment
    ]
    found = rewarded_message(trail, paid, timedelta(days=7))
    assert found is not None and found[0] == "job:2" and found[1].variant == "b"
    assert rewarded_message(trail[:3], NOW + timedelta(days=7, seconds=1), timedelta(days=7)) is None  # too late
    not_an_experiment = [sent(NOW, "job:4", "a", decision="stage mid; reminder by email")]
    assert rewarded_message(not_an_experiment, paid, timedelta(days=7)) is None
