"""KPIs from accounts and their trails: each figure on a small portfolio whose answer is known."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from functions.core import kpis
from functions.core.account import (
    Account,
    AccountStatus,
    Installment,
    Plan,
    PlanStatus,
)
from functions.core.audit import EventType
from functions.core.money import Money
from functions.core.payments import SOURCE_SETTLEMENT, PaymentFact, apply_payment
from tests.events.factories import make_account
from tests.events.trails import Trail, paid

PLACED = datetime(2026, 2, 1, 15, 0, tzinfo=UTC)  # due 2026-02-20 (make_account); 15,350 owed
AS_OF = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
OWED = 12_000 + 850 + 2_500


def record(account: Account, trail: Trail) -> kpis.AccountRecord:
    return kpis.AccountRecord(account, trail.events, PLACED)


def portfolio() -> list[kpis.AccountRecord]:
    """Four USD accounts: paid in full after two emails, settled after a text, half paid, untouched."""
    full = make_account("FULL")
    trail_full = Trail(full).sent(PLACED + timedelta(days=20)).sent(PLACED + timedelta(days=23))
    trail_full.add(EventType.PORTAL_VERIFIED, PLACED + timedelta(days=23, hours=1), check="date_of_birth")
    full = paid(full, OWED, PLACED + timedelta(days=24), trail_full)
    trail_full.sent(PLACED + timedelta(days=24, minutes=1), "email", "receipt")

    settled = make_account("SETTLED")
    trail_settled = Trail(settled).sent(PLACED + timedelta(days=20), "sms", variant="b")
    settled = paid(settled, 10_000, PLACED + timedelta(days=30), trail_settled, source=SOURCE_SETTLEMENT)

    half = make_account("HALF")
    trail_half = (
        Trail(half).sent(PLACED + timedelta(days=20)).add(EventType.EMAIL_COMPLAINED, PLACED + timedelta(days=21))
    )
    half = paid(half, 5_000, PLACED + timedelta(days=50), trail_half)
    half = half.with_changes(engagement={"email:opened": 2})

    untouched = make_account("NONE")
    trail_none = Trail(untouched).sent(PLACED + timedelta(days=20), "sms")
    trail_none.add(EventType.CONSENT_REVOKED, PLACED + timedelta(days=20, hours=2), channel="sms", keyword="STOP")
    return [
        record(full, trail_full),
        record(settled, trail_settled),
        record(half, trail_half),
        record(untouched, trail_none),
    ]


def test_recovery_is_collected_over_placed_in_minor_units_per_currency() -> None:
    records = portfolio()
    yen = make_account("YEN", currency="JPY", principal=20_000, interest=0, fees=0)
    yen_trail = Trail(yen).sent(PLACED + timedelta(days=20))
    yen = apply_payment(yen, PaymentFact("pi_yen", Money(5_000, "JPY"), PLACED + timedelta(days=21)))

    result = kpis.overall([*records, kpis.AccountRecord(yen, yen_trail.events, PLACED)], AS_OF)

    assert result.placed_minor == {"JPY": 20_000, "USD": 4 * OWED}  # the settled account's forgiven rest included
    assert result.collected_minor == {"JPY": 5_000, "USD": OWED + 10_000 + 5_000}
    assert result.recovery_rate["USD"] == pytest.approx((OWED + 15_000) / (4 * OWED))
    assert result.recovery_rate["JPY"] == 0.25
    assert result.messages_per_unit_recovered["JPY"] == pytest.approx(1 / 5_000)  # JPY has no minor digits
    assert result.messages_per_unit_recovered["USD"] == pytest.approx(6 / ((OWED + 15_000) / 100))


def test_an_overpayment_held_as_credit_is_not_collected() -> None:
    account = make_account("OVER")
    trail = Trail(account)
    account = paid(account, OWED + 1_000, PLACED + timedelta(days=3), trail)
    result = kpis.overall([record(account, trail)], AS_OF)
    assert result.collected_minor == {"USD": OWED} and result.recovery_rate == {"USD": 1.0}


def test_resolution_cure_contact_and_engagement() -> None:
    result = kpis.overall(portfolio(), AS_OF)
    assert (result.accounts, result.resolved, result.cured) == (4, 2, 1)  # settled resolves but does not cure
    assert result.resolution_rate == 0.5 and result.cure_rate == 0.25
    assert result.median_days_to_resolution == pytest.approx((24 + 30) / 2)
    assert result.contacted == 4
    assert result.right_party_contacts == 3  # verified and paid, paid, paid; STOP is not proof of the right party
    assert result.right_party_contact_rate == 0.75
    assert result.engaged == 3


def test_messages_opt_outs_and_complaints_per_thousand() -> None:
    result = kpis.overall(portfolio(), AS_OF)
    assert result.messages == 6 and result.messages_by_channel == {"email": 4, "sms": 2}
    assert (result.opt_outs, result.complaints) == (1, 1)
    assert result.opt_outs_per_1000_messages == pytest.approx(1000 / 6)
    assert result.complaints_per_1000_messages == pytest.approx(1000 / 6)


def test_preference_changes_count_only_channels_newly_opted_out() -> None:
    account = make_account("PREF")
    trail = Trail(account).sent(PLACED + timedelta(days=20))
    trail.add(EventType.PORTAL_PREFERENCES_CHANGED, PLACED + timedelta(days=21), opt_out=["sms"])
    trail.add(EventType.PORTAL_PREFERENCES_CHANGED, PLACED + timedelta(days=22), opt_out=["sms", "email"])
    trail.add(EventType.PORTAL_PREFERENCES_CHANGED, PLACED + timedelta(days=23), opt_out=["email"])
    assert kpis.overall([record(account, trail)], AS_OF).opt_outs == 2


def test_promises_kept_broken_and_pending() -> None:
    account = make_account("PROMISES", timezone="America/New_York")
    trail = Trail(account).sent(PLACED + timedelta(days=20))
    made = PLACED + timedelta(days=21)
    trail.add(EventType.PORTAL_PROMISE_MADE, made, amount_minor=3_000, currency="USD", due="2026-02-25")
    account = paid(account, 3_000, datetime(2026, 2, 27, 3, 0, tzinfo=UTC), trail)  # within 2 days' grace: kept
    trail.add(
        EventType.PORTAL_PROMISE_MADE, made + timedelta(days=10), amount_minor=4_000, currency="USD", due="2026-03-05"
    )
    trail.add(
        EventType.PORTAL_PROMISE_MADE, made + timedelta(days=60), amount_minor=4_000, currency="USD", due="2026-05-10"
    )
    result = kpis.overall([record(account, trail)], AS_OF)
    assert (result.promises_made, result.promises_kept, result.promises_broken, result.promises_pending) == (3, 1, 1, 1)
    assert result.promise_kept_rate == 0.5


def test_plans_started_completed_and_replaced() -> None:
    def plan(plan_id: str, status: PlanStatus) -> Plan:
        return Plan(plan_id, PLACED, (Installment(1, date(2026, 3, 1), Money(OWED, "USD")),), status)

    done = make_account("DONE").with_changes(plan=plan("p1", PlanStatus.COMPLETED), status=AccountStatus.PAID)
    running = make_account("RUN").with_changes(plan=plan("p3", PlanStatus.CURRENT))
    replaced = make_account("REPL").with_changes(plan=plan("p5", PlanStatus.AWAITING_CARD))
    trails = [
        Trail(done).add(EventType.PLAN_CARD_SAVED, PLACED, plan="p1"),
        Trail(running).add(EventType.PLAN_CARD_SAVED, PLACED, plan="p3"),
        Trail(replaced).add(EventType.PLAN_CARD_SAVED, PLACED, plan="p4"),
    ]
    result = kpis.overall([record(a, t) for a, t in zip((done, running, replaced), trails, strict=True)], AS_OF)
    assert (result.plans_started, result.plans_completed, result.plans_current) == (3, 1, 1)
    assert result.plan_completion_rate == pytest.approx(1 / 3)
    assert result.cured == 2  # paid in full (through its plan), and a plan current


def test_roll_rates_between_stages() -> None:
    # due 2026-02-20: early opens 02-21, mid 03-08, late 03-23, advanced 04-22 (00:00 Chicago)
    records = portfolio()
    result = kpis.overall(records, AS_OF)
    # FULL resolved on 02-25 (in early), SETTLED on 03-03 (in early), HALF and NONE still owe.
    assert result.roll_rates["early->mid"] == {"entered": 4, "rolled": 2, "rate": 0.5}
    assert result.roll_rates["mid->late"] == {"entered": 2, "rolled": 2, "rate": 1.0}
    assert result.roll_rates["pre_due->early"] == {"entered": 4, "rolled": 4, "rate": 1.0}
    early = kpis.overall(records, datetime(2026, 3, 10, tzinfo=UTC))
    assert "mid->late" not in early.roll_rates  # late has not opened yet: not counted
    late_placed = kpis.AccountRecord(make_account("LATE"), [], datetime(2026, 3, 25, tzinfo=UTC))
    assert kpis.overall([late_placed], AS_OF).roll_rates == {"late->advanced": {"entered": 1, "rolled": 1, "rate": 1.0}}


def test_collected_by_stage_of_the_payment() -> None:
    result = kpis.overall(portfolio(), AS_OF)
    assert result.collected_by_stage_minor == {"USD": {"early": OWED + 10_000, "late": 5_000}}  # HALF paid on day 31


def test_grouping_by_lender_and_tier() -> None:
    records = portfolio()
    other = make_account("X", lender_id="globex").with_changes(tier=2)
    records.append(kpis.AccountRecord(other, Trail(other).sent(PLACED + timedelta(days=20)).events, PLACED))
    lenders = kpis.compute(records, AS_OF, group_by=kpis.by_lender)
    assert sorted(lenders) == ["acme", "globex"]
    assert lenders["acme"].accounts == 4 and lenders["globex"].messages == 1
    tiers = kpis.compute(records, AS_OF, group_by=kpis.by_tier)
    assert tiers[2].accounts == 1 and tiers[None].accounts == 4
    assert kpis.overall([], AS_OF).recovery_rate == {}
    assert isinstance(lenders["acme"].as_dict()["roll_rates"], dict)


def test_messages_by_variant_with_last_touch_attribution() -> None:
    stats = kpis.messages_by(portfolio(), keys=("channel", "variant"))
    email_a, sms_b = stats[("email", "a")], stats[("sms", "b")]
    assert (email_a.messages, email_a.accounts) == (4, 2)
    assert email_a.payments == 1 and email_a.collected_minor == {"USD": OWED}  # HALF paid 30 days later: none
    assert email_a.portal_visits == 1 and email_a.complaints == 1
    assert sms_b.payments == 0  # settled 10 days after the text: outside the 7-day window
    assert stats[("sms", "a")].opt_outs == 1
    assert email_a.complaints_per_1000_messages == 250.0
    by_tier = kpis.messages_by(portfolio(), keys=("lender", "tier", "template"))
    assert by_tier[("acme", "none", "receipt")].messages == 1
