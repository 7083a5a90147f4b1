"""Message experiments: Thompson sampling per segment, warm-up, exploration, pins, retirements, attribution."""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from functions.core import experiments, messages
from functions.core.account import Channel, Contact, Debtor, Promise, Stage
from functions.core.audit import AuditEvent, EventType
from functions.core.compliance import gate_policy
from functions.core.decision import decide
from functions.core.experiments import Settings, Standing, choose, rewarded_message, segment_key, stat_key
from functions.core.lender import LenderProfile
from functions.core.money import Money
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


def test_the_draws_are_a_function_of_the_key() -> None:
    """`experiments.Draws(job_id)`: the same key draws the same, another key draws otherwise, uniforms in [0, 1)."""
    first = experiments.Draws("job#42")
    uniforms = [first.random() for _ in range(20)]  # past the first block of eight
    again = experiments.Draws("job#42")
    assert [again.random() for _ in range(20)] == uniforms
    assert all(0.0 <= u < 1.0 for u in uniforms) and len(set(uniforms)) == 20
    assert experiments.Draws("job#43").random() != uniforms[0]
    assert experiments.Draws("").random() != experiments.Draws("é").random()
    # Block 0 is BLAKE2b's default salt (zeros): the same words as the salted form every later block takes.
    zero_salt = hashlib.blake2b(b"job#42", salt=bytes(16)).digest()
    assert uniforms[0] == (int.from_bytes(zero_salt[:8], "little") >> 11) * 2.0**-53


def test_the_draws_are_uniform() -> None:
    """Across keys (as across job ids): uniforms with the mean, spread and deciles of U(0, 1), and uniform picks."""
    n = 20_000
    uniforms = [experiments.Draws(f"job-{k}").random() for k in range(n)]
    assert abs(sum(uniforms) / n - 0.5) < 4.5 * (1 / 12 / n) ** 0.5
    deciles = Counter(int(u * 10) for u in uniforms)
    assert all(abs(deciles[d] - n / 10) < 4.5 * (n * 0.1 * 0.9) ** 0.5 for d in range(10)), deciles
    picks = Counter(experiments.Draws(f"pick-{k}").choice("abc") for k in range(n))
    assert all(abs(picks[c] - n / 3) < 4.5 * (n * 2 / 9) ** 0.5 for c in "abc"), picks


@pytest.mark.parametrize(
    ("first", "second"),
    [((1, 1), (1, 1)), ((3, 8), (5, 9)), ((31, 471), (41, 461)), ((12, 3), (2, 40)), ((201, 2800), (230, 2771))],
)
def test_the_win_probability_is_exact(first: tuple[int, int], second: tuple[int, int]) -> None:
    """`win_probability(x, y)` = P(X > Y) for independent Beta posteriors: the same by each of its four sums,
    complementary when swapped, and what a Monte Carlo of `random.Random.betavariate` finds."""
    p = experiments.win_probability(first, second)
    (a1, b1), (a2, b2) = first, second
    greater = experiments._greater
    sums = [
        greater((a2, b2), (a1, b1)),
        1 - greater((a1, b1), (a2, b2)),
        greater((b1, a1), (b2, a2)),
        1 - greater((b2, a2), (b1, a1)),
    ]
    assert all(abs(found - p) < 1e-9 for found in sums), sums
    assert abs(p + experiments.win_probability(second, first) - 1) < 1e-9
    rng = random.Random(17)
    n = 40_000
    wins = sum(rng.betavariate(*first) > rng.betavariate(*second) for _ in range(n)) / n
    assert abs(wins - p) <= 4.5 * (p * (1 - p) / n) ** 0.5 + 1e-9, (wins, p)


def test_the_win_probability_in_closed_form() -> None:
    # Beta(a, 1) against a uniform: P(X > U) = E[X] = a / (a + 1); two uniforms: 1/2.
    for a in (1, 2, 5, 40):
        assert abs(experiments.win_probability((a, 1), (1, 1)) - a / (a + 1)) < 1e-12
    # Beta(1, b) against a uniform: P(X > U) = E[X] = 1 / (1 + b).
    assert abs(experiments.win_probability((1, 7), (1, 1)) - 1 / 8) < 1e-12


def picked(stats: dict[str, Standing], config: Settings, job_id: str) -> str:
    """The variant `choose` picks for a reminder with the draws the decision makes for `job_id`."""
    choice = choose("reminder", SEGMENT, stats, config, experiments.Draws(job_id))
    assert choice is not None
    return choice.variant


@pytest.mark.parametrize(("a", "b"), [(Standing(500, 30), Standing(500, 40)), (Standing(60, 2), Standing(80, 5))])
def test_the_decisions_thompson_choice_has_thompson_samplings_distribution(a: Standing, b: Standing) -> None:
    """Over many job ids, the variant `choose` picks with `Draws(job_id)` is b as often as b's Beta draw beats a's:
    the exact probability, and the classical two-draw Thompson sample with `random.Random`."""
    config = settings(min_exposures=0, exploration=0.0)
    stats = {stat_key("reminder", "a"): a, stat_key("reminder", "b"): b}
    n = 20_000
    picks = Counter(picked(stats, config, f"job-{k}") for k in range(n))
    exact = experiments.win_probability(b.beta, a.beta)
    sigma = (exact * (1 - exact) / n) ** 0.5
    assert abs(picks["b"] / n - exact) <= 4.5 * sigma, (picks, exact)
    rng = random.Random(23)
    classical = sum(rng.betavariate(*b.beta) > rng.betavariate(*a.beta) for _ in range(n)) / n
    assert abs(picks["b"] / n - classical) <= 4.5 * 2**0.5 * sigma, (picks, classical)


@pytest.mark.parametrize(
    "betas",
    [
        ((3, 8), (5, 9), (2, 2)),
        ((21, 481), (31, 471), (41, 461)),  # three tones, warmed up
        ((12, 3), (2, 40), (7, 7)),
        ((1, 1), (5, 1), (1, 5), (3, 3)),
    ],
)
def test_the_win_probabilities_of_more_candidates_are_exact(betas: tuple[tuple[int, int], ...]) -> None:
    """`win_probabilities`: each candidate's chance that its Beta draw is the highest sums to 1, does not depend on
    the order the candidates come in, and is what a Monte Carlo of `random.Random.betavariate` finds."""
    p = experiments.win_probabilities(betas)
    assert p is not None and abs(sum(p) - 1) < 1e-9, p
    reversed_p = experiments.win_probabilities(betas[::-1])
    assert reversed_p is not None and all(abs(x - y) < 1e-9 for x, y in zip(p, reversed_p[::-1], strict=True))
    rng = random.Random(29)
    n = 40_000
    wins = Counter[int]()
    for _ in range(n):
        draws = [rng.betavariate(*beta) for beta in betas]
        wins[draws.index(max(draws))] += 1
    for i, probability in enumerate(p):
        assert abs(wins[i] / n - probability) <= 4.5 * (probability * (1 - probability) / n) ** 0.5 + 1e-9, (i, wins, p)


def test_the_win_probabilities_in_closed_form() -> None:
    # k uniforms: 1/k each. Beta(a, 1) against two uniforms: the integral of a x^(a-1) x^2 = a / (a + 2).
    assert experiments.win_probabilities(((1, 1),) * 3) == pytest.approx((1 / 3,) * 3, abs=1e-12)
    assert experiments.win_probabilities(((1, 1),) * 5) == pytest.approx((1 / 5,) * 5, abs=1e-12)
    for a in (1, 2, 7, 40):
        first = experiments.win_probabilities(((a, 1), (1, 1), (1, 1)))
        assert first is not None and abs(first[0] - a / (a + 2)) < 1e-12
    # Two candidates: the pairwise sum's.
    assert experiments.win_probabilities(((3, 8), (5, 9))) == pytest.approx(
        (experiments.win_probability((3, 8), (5, 9)), experiments.win_probability((5, 9), (3, 8))), abs=1e-12
    )
    # Too long a sum (many rewards on every arm): None, and `choose` draws each posterior instead.
    assert experiments.win_probabilities(((500, 3000), (600, 3000), (550, 3000))) is None


@pytest.mark.parametrize(
    "rewards",
    [(50, 90, 60), (30, 40, 35), (500, 560, 530)],  # the last too many for the exact sum: one Beta draw each
)
def test_three_candidates_choice_has_thompson_samplings_distribution(rewards: tuple[int, int, int]) -> None:
    """Three candidates (a reminder's tones): over many job ids, each is picked as often as its Beta draw is the
    highest, by the exact probabilities or (past the sum's limit) by one posterior draw each."""
    config = Settings(candidates={"reminder": ("a", "b", "c")}, exploration=0.0, min_exposures=0)
    stats = {stat_key("reminder", v): Standing(5_000, r) for v, r in zip("abc", rewards, strict=True)}
    n = 6_000
    picks = Counter(picked(stats, config, f"job-{k}") for k in range(n))
    rng = random.Random(31)
    m = 20_000
    wins = Counter[str]()
    for _ in range(m):
        draws = {v: rng.betavariate(*stats[stat_key("reminder", v)].beta) for v in "abc"}
        wins[max(draws, key=draws.__getitem__)] += 1
    for v in "abc":
        expected = wins[v] / m
        sigma = (max(expected * (1 - expected), 1e-4) * (1 / n + 1 / m)) ** 0.5
        assert abs(picks[v] / n - expected) <= 4.5 * sigma, (v, picks, wins)
    assert choose("reminder", SEGMENT, stats, config, experiments.Draws("x")) == choose(
        "reminder", SEGMENT, stats, config, experiments.Draws("x")
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_bandit_converges_with_the_decisions_draws(seed: int) -> None:
    """The synthetic bandit again, with each round's draws from its own job id as the decision makes them."""
    env = random.Random(seed + 1)
    stats: dict[str, Standing] = {}
    chosen = []
    for n in range(5_000):
        choice = choose("reminder", SEGMENT, stats, settings(), experiments.Draws(f"{seed}-job-{n}"))
        assert choice is not None
        before = stats.get(choice.stat_key, Standing())
        paid = env.random() < {"a": 0.05, "b": 0.08}[choice.variant]
        stats[choice.stat_key] = Standing(before.exposures + 1, before.rewards + paid)
        chosen.append(choice.variant)
    assert Counter(chosen[-1_000:])["b"] > 700
    assert Counter(chosen)["a"] >= 50


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
    assert found is not None and found[0] == "job:2" and [c.variant for c in found[1]] == ["b"]
    assert rewarded_message(trail[:3], NOW + timedelta(days=7, seconds=1), timedelta(days=7)) is None  # too late
    not_an_experiment = [sent(NOW, "job:4", "a", decision="stage mid; reminder by email")]
    assert rewarded_message(not_an_experiment, paid, timedelta(days=7)) is None


# --- the tone experiment --------------------------------------------------------------------------------


def test_tones_to_test_compile_into_the_tone_experiment_and_an_unknown_tone_is_refused() -> None:
    assert experiments.TONE not in settings().candidates  # no tones listed: the stage's and tier's tone
    assert settings(tones=("neutral", "firm", "neutral")).candidates[experiments.TONE] == ("neutral", "firm")
    with pytest.raises(ValidationError, match=r"experiments.tones: \['stern'\] is not a tone"):
        ExperimentsPolicy(enabled=True, tones=("friendly", "stern"))


def test_a_reminders_tone_is_learned_among_the_lenders_tones_and_the_tone_experiment_converges() -> None:
    # Given the lender tests friendly against firm, and firm has done far worse in the segment,
    rules = lender(tones=["friendly", "firm"], exploration=0.0, min_exposures=10)
    standings = {
        stat_key("reminder", "a"): Standing(500, 25),
        stat_key("reminder", "b"): Standing(500, 25),
        stat_key(experiments.TONE, "friendly"): Standing(500, 40),
        stat_key(experiments.TONE, "firm"): Standing(500, 10),
    }
    tones = Counter()
    for n in range(200):
        account = make_account(f"T-{n}").with_changes(next_contact_at=NOW)
        job = decide(account, NOW, rules, gate_policy(rules), standings=lambda segment: standings).job
        assert job is not None and job.template == "reminder"
        choices = experiments.parse_choices(job.reason)
        # then the reason records both choices, each what the job carries,
        assert [c.template for c in choices] == ["reminder", experiments.TONE]
        assert choices[0].variant == job.variant and choices[1].variant == job.tone.value
        assert f"reminder by email, {job.tone.value}" in job.reason
        tones[job.tone.value] += 1
    # and the tone that paid is sent (the posterior gap is decisive: P(firm beats friendly) is tiny).
    assert tones["friendly"] >= 195, tones


def test_only_reminders_take_the_learned_tone() -> None:
    # A lender testing only firm: a reminder says it firmly; a promise-due notice keeps the treatment's tone.
    rules = lender(tones=["firm"])
    account = make_account().with_changes(next_contact_at=NOW)
    reminder = decide(account, NOW, rules, gate_policy(rules), standings=lambda s: {}).job
    assert reminder is not None and reminder.tone.value == "firm"
    assert reminder.reason.endswith("; experiment: mid#2#en tone/firm (only)")
    promised = account.with_changes(promise=Promise(Money(5_000, "USD"), date(2026, 3, 9), NOW - timedelta(days=3)))
    notice = decide(promised, NOW, rules, gate_policy(rules), standings=lambda s: {}).job
    assert notice is not None and notice.template == "promise_due"
    assert notice.tone is rules.treatment(Stage.MID, 2).tone and "tone/" not in notice.reason


def test_a_payment_rewards_the_tone_the_message_carried_with_its_variant() -> None:
    variant = experiments.Choice(SEGMENT, "reminder", "b", experiments.THOMPSON)
    tone = experiments.Choice(SEGMENT, experiments.TONE, "neutral", experiments.WARM_UP)
    other_tone = experiments.Choice(SEGMENT, experiments.TONE, "firm", experiments.WARM_UP)

    def message(event_id: str, tone_choice: experiments.Choice, sent_tone: str) -> AuditEvent:
        detail = {"template": "reminder", "variant": "b", "tone": sent_tone, "decision": f"x; {variant.token}; "
                  f"{tone_choice.token}"}  # fmt: skip
        return AuditEvent("acme#1", NOW, EventType.REMINDER_SENT, event_id, "sender", detail)

    found = rewarded_message([message("job:1", tone, "neutral")], NOW + timedelta(days=1), timedelta(days=7))
    assert found == ("job:1", (variant, tone))
    # A tone choice the message did not carry (it was sent in another tone) is not rewarded; its variant is.
    found = rewarded_message([message("job:2", other_tone, "neutral")], NOW + timedelta(days=1), timedelta(days=7))
    assert found == ("job:2", (variant,))
    assert (
        experiments.chosen_as_sent(tone, "promise_due", "b", "neutral", "email") is False
    )  # tones are tested on reminders


# --- the channel experiment -----------------------------------------------------------------------------


def texting(account, consent: bool = True):
    d = account.debtor
    debtor = Debtor(d.name, d.email, "+13125550147", d.timezone, "en", phone_is_mobile=True, sms_consent=consent)
    return account.with_changes(debtor=debtor, next_contact_at=NOW)


SMS_PAYS = {
    stat_key(experiments.CHANNEL, "email"): Standing(800, 8),
    stat_key(experiments.CHANNEL, "sms"): Standing(800, 40),
}


def test_channels_to_test_compile_into_the_channel_experiment_and_an_unknown_channel_is_refused() -> None:
    assert experiments.CHANNEL not in settings().candidates  # none listed: the tier's order, as before
    assert settings(channels=("sms", "email", "sms")).candidates[experiments.CHANNEL] == ("sms", "email")
    with pytest.raises(ValidationError, match=r"experiments.channels: \['call'\] is not a channel a reminder"):
        ExperimentsPolicy(enabled=True, channels=("email", "call"))


def test_a_reminder_goes_first_by_the_channel_that_paid_in_its_segment_and_says_so() -> None:
    # Given a lender testing email against texts, whose texts paid five times as often in the segment,
    rules = lender(channels=["email", "sms"], exploration=0.0, min_exposures=10)
    by = Counter()
    for n in range(100):
        account = texting(make_account(f"C-{n}"))
        job = decide(account, NOW, rules, gate_policy(rules), standings=lambda segment: SMS_PAYS).job
        assert job is not None and job.template == "reminder"
        by[job.channel.value] += 1
        # then the reason records the channel's choice, which is the channel the job goes by,
        channel = [c for c in experiments.parse_choices(job.reason) if c.template == experiments.CHANNEL]
        assert [c.variant for c in channel] == [job.channel.value], job.reason
    # and nearly every reminder goes by text, where the policy's order alone sends every one by email.
    assert by["sms"] >= 97, by
    account = texting(make_account("C-0"))
    assert decide(account, NOW, rules, gate_policy(rules)).job.channel.value == "email"  # type: ignore[union-attr]
    emails_pay = {key: Standing(s.exposures, 48 - s.rewards) for key, s in SMS_PAYS.items()}
    email_first = decide(account, NOW, rules, gate_policy(rules), standings=lambda segment: emails_pay).job
    assert email_first is not None and email_first.channel.value == "email"
    assert "experiment: mid#2#en channel/email (thompson)" in email_first.reason


def test_the_channel_experiment_never_overrides_consent_a_stated_preference_or_what_the_debtor_answers() -> None:
    rules = lender(channels=["email", "sms"], exploration=0.0, min_exposures=10)

    def job_for(account):
        job = decide(account, NOW, rules, gate_policy(rules), standings=lambda segment: SMS_PAYS).job
        assert job is not None
        return job

    # No consent to texts: the experiment's text is refused by the gate, the email goes, and it is no arm's exposure.
    refused = job_for(texting(make_account(), consent=False))
    assert refused.channel.value == "email" and "channel/" not in refused.reason
    # A debtor who chose email keeps email: what they said beats what the segment suggests.
    chose = job_for(texting(make_account()).with_changes(preferred_channel=Channel.EMAIL))
    assert chose.channel.value == "email" and "channel/" not in chose.reason
    # A debtor whose own answers ordered their channels (emails clicked, texts not): their order, not the segment's.
    answers_email = {"email:delivered": 5, "email:clicked": 3, "sms:delivered": 4, "sms:clicked": 0}
    own = job_for(texting(make_account()).with_changes(engagement=answers_email))
    assert own.channel.value == "email" and "channel/" not in own.reason
    # Every channel unanswered (the debtor's record tells neither apart): the segment's evidence picks, not a rotation.
    unanswered = {"email:delivered": 4, "email:answered": 0, "sms:delivered": 4, "sms:answered": 0}
    emails_pay = {key: Standing(s.exposures, 48 - s.rewards) for key, s in SMS_PAYS.items()}
    recent = (Contact(NOW - timedelta(days=6), Channel.EMAIL), Contact(NOW - timedelta(days=3), Channel.SMS))
    silent = texting(make_account()).with_changes(engagement=unanswered, recent_contacts=recent)
    rotation = decide(silent, NOW, rules, gate_policy(rules)).job  # without standings: the one tried longest ago
    assert rotation is not None and rotation.channel.value == "email"
    learned = decide(silent, NOW, rules, gate_policy(rules), standings=lambda segment: SMS_PAYS).job
    assert learned is not None and learned.channel.value == "sms" and "channel/sms (thompson)" in learned.reason
    assert decide(silent, NOW, rules, gate_policy(rules), standings=lambda s: emails_pay).job.channel.value == "email"  # type: ignore[union-attr]
    # Only reminders: a promise-due notice keeps the policy's order.
    promised = texting(make_account()).with_changes(
        promise=Promise(Money(5_000, "USD"), date(2026, 3, 9), NOW - timedelta(days=3))
    )
    notice = job_for(promised)
    assert notice.template == "promise_due" and notice.channel.value == "email" and "channel/" not in notice.reason


def test_a_payment_rewards_the_channel_the_message_went_by() -> None:
    by_text = experiments.Choice(SEGMENT, experiments.CHANNEL, "sms", experiments.THOMPSON)
    detail = {"template": "reminder", "variant": "a", "tone": "neutral", "channel": "sms", "decision": by_text.token}
    message = AuditEvent("acme#1", NOW, EventType.REMINDER_SENT, "job:1:sms", "sender", detail)
    assert rewarded_message([message], NOW + timedelta(days=1), timedelta(days=7)) == ("job:1:sms", (by_text,))
    assert experiments.chosen_as_sent(by_text, "reminder", "a", "neutral", "email") is False  # went by email
    assert experiments.chosen_as_sent(by_text, "promise_due", "a", "neutral", "sms") is False  # reminders only


def pooled_play(segments: int, rounds: int, rates: dict[str, float], seed: int, config: Settings) -> list[str]:
    """A synthetic lender of many small segments where the same variant is better everywhere: messages go to the
    segments in turn, each chosen from its segment's standings pooled with the others' (`experiments.pooled`)."""
    env, rng = random.Random(seed + 1), random.Random(seed)
    keys = [segment_key(stage, tier, "en") for stage in ("early", "mid", "late", "advanced") for tier in (1, 2, 3, 4)]
    keys = (keys * (segments // len(keys) + 1))[:segments]
    table: dict[str, dict[str, Standing]] = {key: {} for key in keys}
    chosen = []
    for index in range(rounds):
        segment = keys[index % len(keys)]
        choice = choose("reminder", segment, experiments.pooled(segment, table, config.pool_weight), config, rng)
        assert choice is not None
        before = table[segment].get(choice.stat_key, Standing())
        paid = env.random() < rates[choice.variant]
        table[segment][choice.stat_key] = Standing(before.exposures + 1, before.rewards + paid)
        chosen.append(choice.variant)
    return chosen


def test_pooling_starts_a_segment_from_the_other_segments_evidence() -> None:
    # Given a lender's segments: the new one has sent nothing, two others have (b ahead), and one (late#1#en) a lot,
    table = {
        "mid#2#en": {},
        "early#2#en": {"reminder#a": Standing(100, 2), "reminder#b": Standing(100, 5)},
        "early#3#en": {"reminder#a": Standing(50, 1), "reminder#b": Standing(40, 3)},
        "late#1#en": {"reminder#a": Standing(2_000, 30)},
    }
    # when the new segment is pooled with a weight of 500 exposures,
    pooled = experiments.pooled("mid#2#en", table, 500)
    # then each arm starts from the others' exposures, at most 500, at their rate (rounded half up): a from
    # 2,150 exposures with 33 rewards (500 at 7.67 rewards: 8), b from all 140 with 8.
    assert pooled == {"reminder#a": Standing(500, 8), "reminder#b": Standing(140, 8)}
    # A segment's own evidence adds to the prior, and is not in its own prior (a: 500 of 2,100 with 32: 7.62).
    assert experiments.pooled("early#3#en", table, 500) == {
        "reminder#a": Standing(50 + 500, 1 + 8),
        "reminder#b": Standing(40 + 100, 3 + 5),
    }
    # Weight 0 leaves each segment on its own.
    assert experiments.pooled("early#3#en", table, 0) == table["early#3#en"]
    assert experiments.pooled("mid#2#en", table, 0) == {}


def test_a_segment_that_differs_learns_its_own_best_variant_through_the_prior() -> None:
    # Given the rest of the lender strongly prefers b, and this segment's own 3,000 messages say a,
    table = {
        "late#4#es": {"reminder#a": Standing(1_500, 75), "reminder#b": Standing(1_500, 15)},
        "early#2#en": {"reminder#a": Standing(20_000, 200), "reminder#b": Standing(20_000, 800)},
    }
    pooled = experiments.pooled("late#4#es", table, 500)
    # then the prior is worth only 500 exposures an arm, and the segment still picks a almost always.
    assert experiments.win_probability(pooled["reminder#a"].beta, pooled["reminder#b"].beta) > 0.999
    config = settings(exploration=0.0, pool_weight=500)
    picks = Counter(choose("reminder", "late#4#es", pooled, config, random.Random(3)).variant for _ in range(200))  # type: ignore[union-attr]
    assert picks["a"] > 195, picks


def test_the_warm_up_counts_the_pooled_exposures() -> None:
    # Given the other segments sent each variant 60 times (over the 50 of the warm-up) and this one none,
    table = {"mid#2#en": {}, "early#1#en": {"reminder#a": Standing(60, 0), "reminder#b": Standing(60, 6)}}
    config = settings(exploration=0.0, min_exposures=50, pool_weight=500)
    pooled = experiments.pooled("mid#2#en", table, config.pool_weight)
    # then the new segment's choice is Thompson's (not a warm-up pick), and b is chosen nearly always.
    picks = [choose("reminder", "mid#2#en", pooled, config, random.Random(seed)) for seed in range(100)]
    assert {c.how for c in picks if c} == {experiments.THOMPSON}
    assert Counter(c.variant for c in picks if c)["b"] > 95


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pooling_finds_the_better_variant_sooner_across_many_small_segments(seed: int) -> None:
    # Given 32 segments of 150 messages each where b pays 3 % and a 1.5 % everywhere (too few for a segment on
    # its own to leave the warm-up for long),
    rates = {"a": 0.015, "b": 0.03}
    alone = pooled_play(32, 32 * 150, rates, seed, settings(pool_weight=0))
    pooled = pooled_play(32, 32 * 150, rates, seed, settings(pool_weight=500))
    # then pooling sends the better variant much more often over the run, and both are still tried.
    share_alone, share_pooled = Counter(alone)["b"] / len(alone), Counter(pooled)["b"] / len(pooled)
    assert share_alone < 0.65, share_alone
    assert share_pooled > share_alone + 0.15, (share_alone, share_pooled)
    assert Counter(pooled)["a"] >= 100


def test_the_pool_is_every_stage_tier_and_template_language() -> None:
    from functions.core import i18n

    segments = experiments.pooled_segments()
    assert experiments.POOLED_LANGUAGES == i18n.TEMPLATE_LANGUAGES
    assert len(segments) == len(set(segments)) == len(Stage) * 4 * len(i18n.TEMPLATE_LANGUAGES)
    assert {"early#1#en", "advanced#4#es", "pre_due#2#en", "none#3#es"} <= set(segments)
    assert settings(tones=("friendly", "firm")).stat_keys() == (
        "reminder#a",
        "reminder#b",
        "promise_due#a",
        "promise_due#b",
        "tone#friendly",
        "tone#firm",
    )
