"""Send-time optimisation: the debtor's hour-of-week histogram with their segment's prior, inside the window."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from functions.core.account import Debtor, Promise
from functions.core.compliance import gate_policy
from functions.core.decision import Learned, decide
from functions.core.engagement import Signal
from functions.core.lender import LenderProfile
from functions.core.money import Money
from functions.core.policy import ContactWindow, OutreachPolicy
from functions.core.sendtime import Priors, best_slot, in_window, prior_increment, prior_segment
from tests.events.factories import make_account

NOW = datetime(2026, 3, 8, 14, 0, tzinfo=UTC)  # Sunday 09:00 in Chicago; the account is 16 days past due (mid)
CHICAGO = ZoneInfo("America/Chicago")
ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Puerto_Rico",
    "Europe/London",
    "Europe/Madrid",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
]
TUESDAY_10 = 1 * 24 + 10  # hour of week (Monday 00:00 is 0)
WEDNESDAY_19 = 2 * 24 + 19


def profile(**outreach: object) -> LenderProfile:
    return LenderProfile(lender_id="acme", creditor_name="Acme", outreach=OutreachPolicy.model_validate(outreach))


RULES = profile().rules()
OFF = profile(learning=False).rules()


def decide_at(account, now=NOW, rules=RULES, learned=None):
    return decide(account.with_changes(next_contact_at=now), now, rules, gate_policy(rules), learned=learned)


def mid_tier_2_priors(peak: int, responses: int = 60) -> Priors:
    """A lender whose mid-stage, tier-2 email responses all came at one hour of the week."""
    return Priors({prior_segment("mid", 2, "email"): {peak: responses}})


def local(moment: datetime) -> tuple[int, int]:
    at = moment.astimezone(CHICAGO)
    return at.weekday(), at.hour


def test_the_segment_prior_places_a_debtor_without_history() -> None:
    plain = decide_at(make_account())
    learned = decide_at(make_account(), learned=Learned(priors=mid_tier_2_priors(TUESDAY_10)))
    assert plain.job is not None and learned.job is not None
    # The cadence says Wednesday 09:00 Chicago; the prior's peak within the next 24 hours is... none (Tuesday
    # has passed), so the best scored slot is the cadence's moment or later, never earlier.
    assert learned.next_contact_at == plain.next_contact_at
    wednesday = decide_at(make_account(), learned=Learned(priors=mid_tier_2_priors(WEDNESDAY_19)))
    assert local(wednesday.next_contact_at) == (2, 19)
    assert any(line.startswith("send time: Wed 19:00 local (prior mid#2#email)") for line in wednesday.why)


def test_thin_history_follows_the_prior_and_rich_history_wins() -> None:
    priors = Learned(priors=mid_tier_2_priors(WEDNESDAY_19))
    thursday_8 = 3 * 24 + 8  # inside the 24 hours after the cadence's Wednesday 09:00
    thin = make_account().with_changes(engagement={f"how:{thursday_8}": 1, "email:opened": 1})
    assert local(decide_at(thin, learned=priors).next_contact_at) == (2, 19)  # one response: the segment knows more
    rich = make_account().with_changes(engagement={f"how:{thursday_8}": 8, "email:opened": 8})
    plan = decide_at(rich, learned=priors)
    assert local(plan.next_contact_at) == (3, 8)  # eight responses at Thursday 08:00: the debtor's own pattern
    assert any("this debtor's responses" in line for line in plan.why)


def test_a_reminder_allowed_now_waits_for_a_better_hour_later_today_and_never_past_it() -> None:
    # NOW is Sunday 09:00 in Chicago. A segment that answers on Sundays at 19:00:
    sunday_19 = 6 * 24 + 19
    evening = Learned(priors=mid_tier_2_priors(sunday_19))
    timed = decide_at(make_account(), learned=evening)
    assert timed.job is None and timed.reason == "timed" and local(timed.next_contact_at) == (6, 19)
    assert "send time: held to Sun 19:00 local (prior mid#2#email)" in timed.why
    # At 19:00 it goes (nothing later today is better), and so it does at 20:30 (no whole hour left in the window).
    at_19 = decide_at(make_account(), now=timed.next_contact_at, learned=evening)
    assert at_19.job is not None and at_19.job.template == "reminder"
    assert decide_at(make_account(), now=NOW + timedelta(hours=11, minutes=30), learned=evening).job is not None
    # The segment's hour is tomorrow, not today: nothing to wait for today.
    assert decide_at(make_account(), learned=Learned(priors=mid_tier_2_priors(WEDNESDAY_19))).job is not None
    # Learning off, or a message that is not a reminder (a promise due today): sent now.
    assert decide_at(make_account(), rules=OFF, learned=evening).job is not None
    promised = make_account().with_changes(
        promise=Promise(Money(5_000, "USD"), date(2026, 3, 8), NOW - timedelta(days=3))
    )
    notice = decide_at(promised, learned=evening).job
    assert notice is not None and notice.template == "promise_due"
    # A debtor whose own responses say mornings is not held for the segment's evening.
    mornings = make_account().with_changes(engagement={f"how:{6 * 24 + 9}": 6, "email:opened": 6})
    assert decide_at(mornings, learned=evening).job is not None


def test_without_a_prior_the_debtors_own_histogram_needs_three_responses() -> None:
    plain = decide_at(make_account())
    two = decide_at(make_account().with_changes(engagement={f"how:{WEDNESDAY_19}": 2}))
    assert two.next_contact_at == plain.next_contact_at
    four = decide_at(make_account().with_changes(engagement={f"how:{WEDNESDAY_19}": 4}))
    assert local(four.next_contact_at) == (2, 19)


def test_learning_off_keeps_the_cadences_hour_whatever_was_learned() -> None:
    plain = decide_at(make_account(), rules=OFF)
    learned = decide_at(
        make_account().with_changes(engagement={f"how:{WEDNESDAY_19}": 9, "email:opened": 9}),
        rules=OFF,
        learned=Learned(priors=mid_tier_2_priors(WEDNESDAY_19)),
    )
    assert learned.next_contact_at == plain.next_contact_at == NOW + timedelta(days=3)
    assert not any(line.startswith("send time") for line in learned.why)


def test_a_thin_segment_borrows_the_tiers_then_the_lenders_prior() -> None:
    priors = Priors(
        {
            prior_segment("mid", 2, "email"): {5: 3},  # too few to trust
            prior_segment("late", 2, "sms"): {TUESDAY_10: 30},
            prior_segment("early", 3, "any"): {WEDNESDAY_19: 40},
        }
    )
    tier = priors.prior("mid", 2, "email")
    assert tier is not None and tier.level == "tier 2" and tier.responses == 33
    lender = priors.prior("mid", 4, "email")
    assert lender is not None and lender.level == "lender" and lender.responses == 73
    narrow = priors.prior("early", 3, "email")  # the segment's channel-less responses count for every channel
    assert narrow is not None and narrow.level == "early#3#email" and narrow.weights[WEDNESDAY_19] == 1.0
    assert Priors({prior_segment("mid", 2, "email"): {5: 3}}).prior("mid", 2, "email") is None


def test_a_response_counts_in_its_segments_prior_at_its_local_hour() -> None:
    at = datetime(2026, 3, 11, 0, 30, tzinfo=UTC)  # Tuesday 19:30 in Chicago
    due = datetime(2026, 2, 20).date()
    assert prior_increment(Signal.OPENED, "email", at, "America/Chicago", due, 2) == ("mid#2#email", 24 + 19)
    assert prior_increment(Signal.PAID, None, at, "America/Chicago", due, None) == ("mid#0#any", 24 + 19)
    assert prior_increment(Signal.DELIVERED, "email", at, "America/Chicago", due, 2) is None


def test_the_best_slot_is_dst_safe() -> None:
    new_york = ZoneInfo("America/New_York")
    # Saturday 2026-03-07 10:00 EST; the clocks go forward on Sunday 08 at 02:00.
    earliest = datetime(2026, 3, 7, 15, 0, tzinfo=UTC)
    own = [0] * 168
    own[164], own[166] = 5, 9  # Sundays at 20:00 local, and at 22:00 (outside 08-21)
    moment, note = best_slot(earliest, ("America/New_York",), time(8), time(21), tuple(own), None, horizon_hours=48)
    at = moment.astimezone(new_york)
    assert (at.date().isoformat(), at.hour) == ("2026-03-08", 20) and at.utcoffset() == timedelta(hours=-4)
    assert note is not None and moment >= earliest
    only_outside = [0] * 168
    only_outside[166] = 9
    assert best_slot(earliest, ("America/New_York",), time(8), time(21), tuple(only_outside), None) == (earliest, None)


@settings(max_examples=300, deadline=None)
@given(
    zones=st.lists(st.sampled_from(ZONES), min_size=1, max_size=3, unique=True),
    start=st.integers(min_value=8, max_value=14),
    length=st.integers(min_value=1, max_value=13),
    offset_minutes=st.integers(min_value=0, max_value=60 * 24 * 14),
    peaks=st.lists(st.integers(min_value=0, max_value=167), min_size=1, max_size=6),
    own_peaks=st.lists(st.integers(min_value=0, max_value=167), max_size=6),
    cadence_days=st.integers(min_value=1, max_value=7),
)
def test_the_chosen_time_is_inside_the_window_in_every_zone_and_never_before_the_cadence(
    zones, start, length, offset_minutes, peaks, own_peaks, cadence_days
) -> None:
    end = min(start + length, 21)
    window = ContactWindow(start=time(start), end=time(end))
    rules = profile(window=window.model_dump(), stages=_stages(cadence_days)).rules()
    now = datetime(2026, 1, 5, tzinfo=UTC) + timedelta(minutes=offset_minutes)
    priors = Priors(
        {prior_segment(stage, tier, "email"): dict.fromkeys(peaks, 25) for stage in _NAMES for tier in (1, 2, 3, 4)}
    )
    d = make_account().debtor
    debtor = Debtor(d.name, d.email, None, zones[0], "en", timezones=tuple(zones))
    engagement = {f"how:{p}": 3 for p in own_peaks}
    account = make_account(due=(now - timedelta(days=20)).date()).with_changes(debtor=debtor, engagement=engagement)
    if not in_window(now, tuple(zones), window.start, window.end):
        return  # the gate holds a contact outside the window: no job, nothing to place
    plan = decide_at(account, now=now, rules=rules, learned=Learned(priors=priors))
    if plan.job is None:
        return
    moved = [line for line in plan.why if line.startswith("send time")]
    cadence = now + timedelta(days=cadence_days)
    assert plan.next_contact_at >= cadence
    assert plan.next_contact_at <= cadence + timedelta(hours=25)
    if moved:  # a moved contact is always inside the window in every zone the debtor may be in
        assert in_window(plan.next_contact_at, tuple(zones), window.start, window.end)
    else:
        assert plan.next_contact_at == cadence


_NAMES = ("pre_due", "early", "mid", "late", "advanced")


def _stages(cadence_days: int) -> list[dict[str, object]]:
    return [
        {"stage": "early", "first_dpd": 1, "last_dpd": 15, "cadence_days": cadence_days},
        {"stage": "mid", "first_dpd": 16, "last_dpd": 30, "cadence_days": cadence_days},
        {"stage": "late", "first_dpd": 31, "last_dpd": None, "cadence_days": cadence_days},
    ]


def test_the_sparse_histogram_is_the_dense_one_and_slots_the_same() -> None:
    """`own_hours` (the decision's, sparse) holds `own_histogram`'s non-zero hours, and `best_slot` picks the same slot
    and note from either, with and without a prior."""
    import random

    from functions.core.sendtime import own_histogram, own_hours

    rng = random.Random(13)
    priors = Priors({prior_segment("mid", 2, "email"): {rng.randrange(168): rng.randint(1, 9) for _ in range(12)}})
    prior = priors.prior("mid", 2, "email")
    assert prior is not None
    assert own_hours({}) is None and own_hours({"email:delivered": 3, "how:9": 0, "how:168": 2, "how:x": 1}) is None
    for _ in range(400):
        counts: dict[str, int] = {f"how:{rng.randrange(170)}": rng.randint(0, 4) for _ in range(rng.randint(1, 7))}
        counts["how:007"] = rng.randint(0, 2)  # the same hour as "how:7", another way
        counts["email:opened"] = 2
        dense, sparse = own_histogram(counts), own_hours(counts)
        if dense is None:
            assert sparse is None
            continue
        assert sparse == {how: count for how, count in enumerate(dense) if count}
        earliest = NOW + timedelta(days=rng.randint(0, 30), hours=rng.randint(0, 23), minutes=rng.choice((0, 17)))
        zones = tuple(rng.sample(ZONES, rng.choice((1, 1, 2))))
        for with_prior in (None, prior):
            expected = best_slot(earliest, zones, time(8), time(21), dense, with_prior)
            assert best_slot(earliest, zones, time(8), time(21), sparse, with_prior) == expected
            assert expected[0] == _reference_slot(earliest, zones, dense, with_prior)
            if expected[1] is not None:  # the note's local day and hour: the slot's in the first zone
                assert f"send time: {expected[0].astimezone(ZoneInfo(zones[0])):%a %H}:00 local (" in expected[1]


def _reference_slot(earliest: datetime, zones: tuple[str, ...], own: tuple[int, ...], prior: object) -> datetime:
    """The posterior's best slot as the module docstring states it, over a dense week (the scoring before it was
    made sparse): `own[how] + sum(own[hour::24]) / 7 + prior_weight * prior[how]`, the first highest positive."""
    from functions.core.sendtime import DEFAULT_PRIOR_WEIGHT, MIN_RESPONSES_TO_TIME, SEND_TIME_HORIZON_HOURS, _slots

    weights = getattr(prior, "weights", None)
    if weights is None and sum(own) < MIN_RESPONSES_TO_TIME:
        return earliest
    by_hour = [sum(own[hour::24]) / 7 for hour in range(24)]
    best: tuple[float, datetime] | None = None
    for slot, how in _slots(earliest, zones, time(8), time(21), SEND_TIME_HORIZON_HOURS):
        found = own[how] + by_hour[how % 24]
        if weights is not None:
            found += DEFAULT_PRIOR_WEIGHT * weights[how]
        if found > 0 and (best is None or found > best[0]):
            best = (found, slot)
    return earliest if best is None else best[1]
