"""Hardship: a plan if what they can afford fits, else a settlement within bounds, else a person."""

from datetime import UTC, date, datetime, timedelta

from functions.core.hardship import Outcome, assess, settlement_amount
from functions.core.lender import PlanBounds, SettlementBounds
from functions.core.money import Money

TODAY = date(2026, 3, 9)
NOW = datetime(2026, 3, 9, 15, tzinfo=UTC)
PLANS = PlanBounds(max_installments=6, min_installment_minor=2_500, max_start_days=30)
ON = SettlementBounds(enabled=True, min_percent=80, offer_days=14)
OFF = SettlementBounds(enabled=False)


def ask(balance: int, affordable: int, settlement: SettlementBounds = ON):
    return assess(
        balance=Money(balance, "USD"), affordable_monthly=Money(affordable, "USD"), today=TODAY, now=NOW,
        plans=PLANS, settlement=settlement,
    )  # fmt: skip


def test_what_they_can_afford_becomes_the_shortest_plan_that_fits() -> None:
    answer = ask(15_350, 4_000)

    assert answer.outcome is Outcome.PLAN and answer.plan is not None
    assert answer.plan.installments == 4
    assert (answer.plan.installment.minor, answer.plan.last_installment.minor) == (3_837, 3_839)
    assert answer.plan.start_by == TODAY + timedelta(days=30)


def test_too_little_a_month_for_a_plan_gets_a_settlement_they_can_reach() -> None:
    answer = ask(15_350, 2_100)  # 8 months needed: over the 6 allowed; 80% = 122.80 <= 6 x 21.00

    assert answer.outcome is Outcome.SETTLEMENT and answer.settlement is not None
    assert answer.settlement.amount == Money(12_280, "USD")
    assert answer.settlement.expires_at == NOW + timedelta(days=14)


def test_without_settlement_or_out_of_reach_a_person_takes_over() -> None:
    assert ask(15_350, 2_100, OFF).outcome is Outcome.REFERRAL
    assert ask(15_350, 1_000).outcome is Outcome.REFERRAL  # 6 x 10.00 < 122.80
    assert ask(15_350, 0).outcome is Outcome.REFERRAL


def test_settlement_rounds_up_to_the_minor_unit() -> None:
    assert settlement_amount(Money(10_001, "USD"), 80) == Money(8_001, "USD")
