"""Payment plans a debtor may choose without a person: equal installments within the lender's bounds."""

from __future__ import annotations

import calendar
import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from functions.core.account import Installment, Plan, PlanStatus
from functions.core.errors import Rejected
from functions.core.lender import PlanBounds
from functions.core.money import Money

MONTHLY = 30  # PlanBounds.interval_days == 30 means the same day every month


class PlanRejected(Rejected):
    """A plan outside the lender's bounds; the message says what would fit."""


@dataclass(frozen=True, slots=True)
class PlanTerms:
    """What a debtor may choose today (amounts in minor units of the balance's currency)."""

    max_installments: int
    min_installment: Money
    earliest_start: date
    latest_start: date


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_dates(start: date, count: int, interval_days: int) -> list[date]:
    if interval_days == MONTHLY:
        return [add_months(start, index) for index in range(count)]
    return [start + timedelta(days=interval_days * index) for index in range(count)]


def split_equal(amount: Money, count: int) -> list[Money]:
    """`count` equal installments in minor units; the remainder goes on the last one."""
    if count < 1:
        raise ValueError("a plan has at least one installment")
    base = amount.minor // count
    return [Money(base, amount.currency)] * (count - 1) + [Money(amount.minor - base * (count - 1), amount.currency)]


def terms(balance: Money, today: date, bounds: PlanBounds) -> PlanTerms | None:
    """The plan choices open on `balance` today, or None if no plan of 2+ installments fits the minimum."""
    most = min(bounds.max_installments, balance.minor // bounds.min_installment_minor)
    if most < 2:
        return None
    return PlanTerms(
        max_installments=most,
        min_installment=Money(bounds.min_installment_minor, balance.currency),
        earliest_start=today,
        latest_start=today + timedelta(days=bounds.max_start_days),
    )


def plan_id_for(account_id: str, installments: int, start: date, version: int) -> str:
    """Deterministic: the same choice on the same account state is the same plan (retries, double taps)."""
    digest = hashlib.sha256(f"{account_id}|{installments}|{start.isoformat()}|{version}".encode()).hexdigest()
    return f"plan_{digest[:20]}"


def build(
    *,
    account_id: str,
    version: int,
    balance: Money,
    installments: int,
    start: date,
    today: date,
    now: datetime,
    bounds: PlanBounds,
) -> Plan:
    """The plan the debtor chose, awaiting a saved card; PlanRejected if it is outside the bounds."""
    offered = terms(balance, today, bounds)
    if offered is None:
        raise PlanRejected("plan_unavailable", "This balance is too small to split into installments.")
    if not 2 <= installments <= offered.max_installments:
        raise PlanRejected(
            "plan_installments", f"Choose between 2 and {offered.max_installments} installments for this balance."
        )
    if not offered.earliest_start <= start <= offered.latest_start:
        raise PlanRejected(
            "plan_start_date",
            f"The first installment can be from {offered.earliest_start.isoformat()} "
            f"to {offered.latest_start.isoformat()}.",
        )
    amounts = split_equal(balance, installments)
    return Plan(
        plan_id=plan_id_for(account_id, installments, start, version),
        created_at=now,
        installments=tuple(
            Installment(number=index + 1, due=day, amount=amount)
            for index, (day, amount) in enumerate(
                zip(due_dates(start, installments, bounds.interval_days), amounts, strict=True)
            )
        ),
        status=PlanStatus.AWAITING_CARD,
    )
