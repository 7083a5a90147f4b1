"""The lender report's figures: each slice, the funnel and the experiments' standings on small portfolios whose
answers are known."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest

from functions.core import propensity, reporting
from functions.core.audit import EventType
from functions.core.audit_check import RULE_TIME, CheckRules
from functions.core.experiments import Standing
from functions.core.kpis import AccountRecord
from tests.events.factories import make_account
from tests.events.trails import Trail, paid

PLACED = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # make_account is due 2026-02-20: 10 days past due (early)
AS_OF = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
OWED = 12_000 + 850 + 2_500
NOON_CHICAGO = timedelta(hours=3)  # 15:00 UTC + 3 h = 12:00 in Chicago (inside the contact window)


def day(n: int) -> datetime:
    return PLACED + timedelta(days=n) + NOON_CHICAGO


def test_daily_rows_run_from_placement_to_as_of_with_running_totals() -> None:
    # Given one account paid in full on day 2 after two emails and a text, and one never paid
    full = make_account("FULL")
    trail = Trail(full).sent(day(0)).sent(day(1), "sms").sent(day(1))
    trail.add(EventType.PORTAL_VERIFIED, day(2))
    full = paid(full, OWED, day(2) + timedelta(minutes=5), trail)
    trail.sent(day(9), "email", "receipt")  # after as_of: left out
    other = make_account("OTHER")
    records = [AccountRecord(full, trail.events, PLACED), AccountRecord(other, [], PLACED + timedelta(days=1))]

    # When
    rows = reporting.daily(records, AS_OF)

    # Then one USD row per day from 2 to 6 March, the payment and its running recovery rate on the 4th
    assert [row.day for row in rows] == [date(2026, 3, d) for d in range(2, 7)]
    assert {row.currency for row in rows} == {"USD"}
    assert [row.messages for row in rows] == [1, 2, 0, 0, 0]
    assert rows[1].messages_by_channel == {"email": 1, "sms": 1}
    assert [row.accounts_placed for row in rows] == [1, 2, 2, 2, 2]
    assert rows[2].payments == 1 and rows[2].verified == 1 and rows[2].resolved == 1
    assert rows[2].collected_minor == OWED
    assert [row.collected_to_date_minor for row in rows] == [0, 0, OWED, OWED, OWED]
    assert rows[1].recovery_rate_to_date == 0
    assert rows[2].recovery_rate_to_date == OWED / (2 * OWED)


def test_a_refund_takes_its_amount_off_its_day() -> None:
    account = make_account("R")
    trail = Trail(account).sent(day(0))
    account = paid(account, 5_000, day(1), trail, "pi_1")
    trail.add(EventType.PAYMENT_REFUNDED, day(2), payment="pi_1", refunded_minor=2_000, status="active")

    rows = reporting.daily([AccountRecord(account, trail.events, PLACED)], AS_OF)

    assert [row.collected_minor for row in rows][:3] == [0, 5_000, -2_000]
    assert rows[-1].collected_to_date_minor == 3_000
    assert rows[2].refunds == 1


def test_the_funnel_counts_a_later_step_as_passing_the_earlier_ones() -> None:
    # A: every step seen; B: messaged then paid with no receipt or open seen; C: paid, never messaged; D: messaged
    a = make_account("A").with_changes(engagement={"email:delivered": 2, "email:opened": 1, "email:clicked": 1})
    trail_a = Trail(a).sent(day(0)).sent(day(1))
    trail_a.add(EventType.PORTAL_VERIFIED, day(1)).add(EventType.PORTAL_CHECKOUT_STARTED, day(1))
    a = paid(a, OWED, day(1), trail_a)
    b = make_account("B")
    trail_b = Trail(b).sent(day(0), "sms")
    b = paid(b, 1_000, day(2), trail_b)
    c = make_account("C")
    trail_c = Trail(c)
    c = paid(c, 1_000, day(0), trail_c)
    d = make_account("D").with_changes(engagement={"email:delivered": 1})
    trail_d = Trail(d).sent(day(0)).sent(day(0), "email", "receipt")
    records = [AccountRecord(x, t.events, PLACED) for x, t in ((a, trail_a), (b, trail_b), (c, trail_c), (d, trail_d))]

    steps, paid_without_message = reporting.funnel(records, AS_OF)

    by_name = {step.step: step for step in steps}
    assert [step.step for step in steps] == ["messaged", "delivered", "opened", "verified", "committed", "paid"]
    assert [step.accounts for step in steps] == [3, 3, 2, 2, 2, 2]
    assert by_name["delivered"].observed == 2 and by_name["delivered"].signals == 3
    assert by_name["opened"].observed == 1 and by_name["opened"].signals == 2
    assert by_name["messaged"].signals == 4  # collection messages only: the receipt is not one
    assert by_name["paid"].observed == 2
    assert paid_without_message == 1


def test_slices_by_entry_stage_tier_channel_and_variant() -> None:
    early = make_account("EARLY")
    early = early.with_changes(tier=1, debtor=replace(early.debtor, phone_is_mobile=True, sms_consent=True))
    trail_early = Trail(early).sent(day(0)).sent(day(1), "sms", variant="b")
    early = paid(early, OWED, day(2), trail_early)
    mid = make_account("MID", due=date(2026, 2, 10)).with_changes(tier=2)  # 20 days past due when placed
    trail_mid = Trail(mid).sent(day(0), variant="b")
    records = [AccountRecord(early, trail_early.events, PLACED), AccountRecord(mid, trail_mid.events, PLACED)]

    result = reporting.figures("acme", records, AS_OF)

    assert list(result.by_stage) == ["early", "mid"]
    assert result.by_stage["early"].collected_minor == {"USD": OWED} and result.by_stage["mid"].accounts == 1
    assert list(result.by_tier) == ["1", "2"]
    assert result.by_tier["1"].recovery_rate == {"USD": 1.0}
    assert {k: v.messages for k, v in result.messages_by_channel.items()} == {"email": 2, "sms": 1}
    assert {k: v.messages for k, v in result.messages_by_variant.items()} == {"reminder/a": 1, "reminder/b": 2}
    assert result.messages_by_variant["reminder/b"].payments == 1  # the text was the last touch before paying
    assert {k: v.messages for k, v in result.messages_by_tier.items()} == {"1": 2, "2": 1}
    assert result.overall.accounts == 2 and result.violations == 0


def test_the_independent_check_counts_violations_by_rule() -> None:
    account = make_account("NIGHT")
    trail = Trail(account).sent(PLACED.replace(hour=8))  # 02:00 in Chicago
    result = reporting.figures("acme", [AccountRecord(account, trail.events, PLACED)], AS_OF)
    assert result.violations_by_rule == {RULE_TIME: 1}


def test_experiment_standings_name_the_likely_best_variant_the_same_way_every_time() -> None:
    standings = {
        "early#1#en": {
            "reminder#a": Standing(400, 20),
            "reminder#b": Standing(400, 60),
            "promise_due#a": Standing(5, 1),
        },
        "mid#1#en": {"reminder#a": Standing(10, 1), "reminder#b": Standing(10, 1)},
    }

    rows = reporting.experiment_standings(standings)

    early = {(r.template, r.variant): r for r in rows if r.segment == "early#1#en"}
    assert early[("reminder", "b")].probability_best > 0.99
    assert early[("reminder", "b")].rate == 60 / 400
    assert early[("promise_due", "a")].probability_best is None  # a single variant: nothing to compare
    totals = {(r.template, r.variant): r for r in rows if r.segment == "all"}
    assert (totals[("reminder", "a")].exposures, totals[("reminder", "a")].rewards) == (410, 21)
    assert rows == reporting.experiment_standings(standings)


def test_experiment_segments_come_from_the_decisions_the_trails_record() -> None:
    account = make_account("X")
    trail = Trail(account).sent(day(0), decision="stage early; experiment: early#2#en reminder/b (warm-up)")
    trail.sent(day(1), decision="stage early")
    assert reporting.experiment_segments([AccountRecord(account, trail.events, PLACED)]) == ["early#2#en"]


def test_accounts_placed_after_as_of_are_left_out() -> None:
    early = make_account("EARLY")
    late = make_account("LATE")
    records = [AccountRecord(early, [], PLACED), AccountRecord(late, [], AS_OF + timedelta(days=1))]

    result = reporting.figures("acme", records, AS_OF)

    assert result.overall.accounts == 1
    assert result.daily[-1].accounts_placed == 1


# --- what cleardue learned -------------------------------------------------------------------------------

MON, WED, SUN = 0, 2 * 24, 6 * 24  # hour-of-week offsets (core.engagement.hour_of_week: Monday 00:00 is 0)
PRIORS = {
    "early#1#email": {MON + 9: 5, WED + 9: 3, MON + 22: 2},
    "early#1#any": {MON + 13: 4, SUN + 2: 1},
    "mid#0#sms": {WED + 19: 6, 200: 3, MON + 5: 0},  # out of the week, and a zero: ignored
}


def test_send_time_sums_the_priors_by_local_hour_and_channel_with_each_segments_best_hours() -> None:
    result = reporting.send_time(PRIORS)

    assert result.responses == 21
    assert {hour: n for hour, n in enumerate(result.by_hour) if n} == {2: 1, 9: 8, 13: 4, 19: 6, 22: 2}
    assert (
        result.by_channel["email"][9] == 8 and result.by_channel["any"][13] == 4 and sum(result.by_channel["sms"]) == 6
    )
    assert result.by_weekday == (11, 0, 9, 0, 0, 0, 1)
    assert result.best_hours == (9, 19, 13)
    assert result.in_window == 8 + 4 + 6  # 08:00-21:00: not 02:00 nor 22:00
    assert result.window_share == pytest.approx(18 / 21)
    email = next(s for s in result.segments if s.segment == "early#1#email")
    assert (email.stage, email.tier, email.channel, email.responses) == ("early", "1", "email", 10)
    assert email.best_hours == (9, 22) and email.window_share == pytest.approx(0.8)
    assert ("mid#0#sms", 200, 3) not in result.cells and ("mid#0#sms", WED + 19, 6) in result.cells
    assert len(result.cells) == 6


def test_an_hour_counts_in_the_window_only_when_it_lies_wholly_inside() -> None:
    result = reporting.send_time({"early#1#email": {8: 1, 20: 1}}, time(8, 30), time(20, 30))

    assert result.in_window == 0 and result.window_share == 0.0
    assert reporting.send_time({"early#1#email": {8: 1, 20: 1}}).in_window == 2


def test_empty_priors_have_no_share_and_no_best_hour() -> None:
    result = reporting.send_time({})

    assert (result.responses, result.window_share, result.best_hours, result.segments) == (0, None, (), [])


def test_the_model_figures_are_its_artifacts_evaluation_with_a_weighted_calibration_gap() -> None:
    model = propensity.default_model()

    result = reporting.model_figures(model, "shipped")

    evaluation = model.evaluation
    assert (result.version, result.source, result.auc, result.brier) == (
        model.version, "shipped", evaluation["auc"], evaluation["brier"],
    )  # fmt: skip
    assert result.held_out == evaluation["examples"] and result.training["examples"] == model.training["examples"]
    assert [b.bin for b in result.reliability] == [row["bin"] for row in evaluation["reliability"]]
    bins = evaluation["reliability"]
    gap = sum(b["count"] * abs(b["predicted"] - b["observed"]) for b in bins) / sum(b["count"] for b in bins)
    assert result.calibration_error == pytest.approx(gap)


def test_a_model_without_an_evaluation_or_with_a_malformed_bin_still_has_figures() -> None:
    model = propensity.default_model()
    bare = replace(
        model, evaluation={"auc": None, "reliability": [{"bin": "0.0-0.1"}, *model.evaluation["reliability"][:1]]}
    )

    result = reporting.model_figures(bare, "s3://b/k")

    assert (result.auc, result.brier, result.held_out) == (None, None, None)
    assert len(result.reliability) == 1 and result.calibration_error is not None


def test_the_learned_section_uses_the_lenders_window_and_is_absent_unless_given() -> None:
    account = make_account("L-1")
    records = [AccountRecord(account, [], PLACED)]
    rules = CheckRules(window_start=time(9, 0), window_end=time(12, 0))

    result = reporting.figures(
        "acme", records, AS_OF, check_rules=rules, priors=PRIORS, model=propensity.default_model(), model_source="x"
    )

    assert result.sendtime is not None and result.sendtime.in_window == 8  # only 09:00 is inside 09:00-12:00
    assert result.model is not None and result.model.source == "x"
    bare = reporting.figures("acme", records, AS_OF)
    assert bare.sendtime is None and bare.model is None
