"""Hardship: the debtor says what they can afford each month; we answer with what fits the lender's bounds.

In order: a plan within the plan bounds (as few installments as the amount allows), else a one-time
settlement within the settlement bounds (if the lender enables it) that the debtor could reach within
the longest plan, else a referral to a person. Never an amount the lender did not authorise."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from functions.core.lender import PlanBounds, SettlementBounds
from functions.core.money import Money
from functions.core.plans import split_equal


class Outcome(StrEnum):
    PLAN = "plan"
    SETTLEMENT = "settlement"
    REFERRAL = "referral"


@dataclass(frozen=True, slots=True)
class PlanOffer:
    installments: int
    installment: Money  # the equal installment (the last one carries the remainder)
    last_installment: Money
    start_by: date


@dataclass(frozen=True, slots=True)
class SettlementOffer:
    amount: Money
    percent: int  # of the balance
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class HardshipAnswer:
    outcome: Outcome
    plan: PlanOffer | None = None
    settlement: SettlementOffer | None = None


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def settlement_amount(balance: Money, percent: int) -> Money:
    """`percent` of the balance, rounded up to the minor unit (never below the lender's floor)."""
    return Money(_ceil_div(balance.minor * percent, 100), balance.currency)


def assess(
    *,
    balance: Money,
    affordable_monthly: Money,
    today: date,
    now: datetime,
    plans: PlanBounds,
    settlement: SettlementBounds,
) -> HardshipAnswer:
    """What we can offer someone who can afford `affordable_monthly` a month on `balance`."""
    if affordable_monthly.currency != balance.currency:
        raise ValueError("the affordable amount must be in the balance's currency")
    if not balance.is_positive:
        return HardshipAnswer(Outcome.REFERRAL)
    if affordable_monthly.minor >= plans.min_installment_minor:
        count = max(2, _ceil_div(balance.minor, affordable_monthly.minor))
        if count <= plans.max_installments and balance.minor // count >= plans.min_installment_minor:
            amounts = split_equal(balance, count)
            return HardshipAnswer(
                Outcome.PLAN,
                plan=PlanOffer(count, amounts[0], amounts[-1], today + timedelta(days=plans.max_start_days)),
            )
    if settlement.enabled and affordable_monthly.is_positive:
        amount = settlement_amount(balance, settlement.min_percent)
        if amount.minor <= affordable_monthly.minor * plans.max_installments:
            return HardshipAnswer(
                Outcome.SETTLEMENT,
                settlement=SettlementOffer(amount, settlement.min_percent, now + timedelta(days=settlement.offer_days)),
            )
    return HardshipAnswer(Outcome.REFERRAL)
