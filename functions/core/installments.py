"""Plan installments charged off-session: which one is due at `now`, under which key, and when to look again.

An installment's life (the webhooks own the outcomes, the charger only starts charges):

    SCHEDULED, no payment_id --charger--> SCHEDULED + payment_id (a charge in flight)
        --payment_intent.succeeded--> PAID
        --payment_intent.payment_failed, soft decline, attempts <= max_retries--> FAILED (retried later)
        --payment_intent.payment_failed, otherwise--> MISSED (two consecutive misses break the plan)
    FAILED --charger, on its retry day--> SCHEDULED + the new payment_id (in flight again)

`attempts` counts the failed charges (`core.payments.apply_failure` adds one per failure), so the charge
being made is attempt `attempts + 1`, and attempt k is made on the local day `due + (k - 1) * spacing`,
where `spacing` spreads the plan's `max_retries` over its `missed_grace_days` (at least one day apart).
A hard decline (`declines.advise(...).retry` False) is never FAILED, so it is never retried here.

A SCHEDULED installment that carries a payment_id is either being charged (its PaymentIntent is not
settled yet) or was refunded in full (the payment is on the account with nothing left): neither is
charged automatically. Every charge is keyed `installment:<plan>:<number>:<attempt>`, so however many
times a charge job is delivered or re-enqueued, Stripe creates one PaymentIntent for that attempt.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from functions.core.account import Account, Installment, InstallmentStatus, Plan, PlanStatus
from functions.core.clock import at_local_time, ensure_utc
from functions.core.lender import PlanBounds
from functions.core.money import Money

CHARGE_TIME = time(9, 0)  # local wall-clock time a charge is made on its day (a failure notice then lands in hours)
RECHECK = timedelta(hours=1)  # a charge queued or in flight is looked at again this soon
# Looking again hourly stops this long after an attempt's moment: Stripe retries a webhook for 3 days, and a charge
# that keeps failing (a detached card, a long outage) is for a person (the charges DLQ alarm) rather than hourly jobs.
RECHECK_HORIZON = timedelta(days=4)


class ChargeJob(BaseModel):
    """The SQS message from the scheduler to the charger. `job_id` is the charge's idempotency key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job_id: str = Field(min_length=16, max_length=200)
    account_id: str = Field(min_length=3)
    plan_id: str = Field(min_length=1)
    installment: int = Field(ge=1)
    attempt: int = Field(ge=1)
    scheduled_for: AwareDatetime


@dataclass(frozen=True, slots=True)
class Charge:
    """One off-session charge to make now: attempt `attempt` of installment `installment` of the plan."""

    account_id: str
    lender_id: str
    plan_id: str
    installment: int
    attempt: int
    amount: Money
    customer_id: str
    payment_method_id: str
    day: date  # the debtor's local day this attempt belongs to

    @property
    def key(self) -> str:
        return idempotency_key(self.plan_id, self.installment, self.attempt)

    def job(self, now: datetime) -> ChargeJob:
        return ChargeJob(
            job_id=self.key,
            account_id=self.account_id,
            plan_id=self.plan_id,
            installment=self.installment,
            attempt=self.attempt,
            scheduled_for=ensure_utc(now),
        )


def idempotency_key(plan_id: str, installment: int, attempt: int) -> str:
    """Deterministic per (plan, installment, attempt): the one PaymentIntent of that attempt at Stripe."""
    return f"installment:{plan_id}:{installment}:{attempt}"


def retry_spacing(bounds: PlanBounds) -> timedelta:
    """Days between attempts: the retries spread over the grace period, at least a day apart."""
    return timedelta(days=max(1, bounds.missed_grace_days // max(1, bounds.max_retries)))


def attempt_day(installment: Installment, bounds: PlanBounds) -> date:
    """The local day of the installment's next (or in-flight) attempt: its due date, then one spacing per failure."""
    return installment.due + retry_spacing(bounds) * installment.attempts


def _charging_plan(account: Account) -> Plan | None:
    """The plan whose card may be charged: current, with a saved card, on a collectible account.

    A flagged account (dispute, bankruptcy, cease, ...) or one that owes nothing is never charged."""
    plan = account.plan
    if plan is None or plan.status is not PlanStatus.CURRENT or not plan.customer_id or not plan.payment_method_id:
        return None
    return plan if account.is_collectible else None


def in_flight(account: Account, installment: Installment) -> bool:
    """A charge was made for this installment and Stripe's answer has not been applied yet."""
    if installment.status is not InstallmentStatus.SCHEDULED or installment.payment_id is None:
        return False
    return all(payment.payment_id != installment.payment_id for payment in account.payments)


def _next_attempt_day(account: Account, installment: Installment, bounds: PlanBounds) -> date | None:
    """The day of the attempt to make next, or None if this installment is not charged automatically."""
    if installment.status is InstallmentStatus.SCHEDULED and installment.payment_id is None:
        return attempt_day(installment, bounds)
    if installment.status is InstallmentStatus.FAILED and installment.attempts <= bounds.max_retries:
        return attempt_day(installment, bounds)  # a soft decline: `apply_failure` left it to be retried
    return None


def due_charges(account: Account, now: datetime, bounds: PlanBounds) -> tuple[Charge, ...]:
    """The charges to make at `now`, oldest installment first, each capped at what is still owed.

    An attempt is due from `CHARGE_TIME` on its day in the debtor's time zone, and stays due until made
    (a plan started today, or a scheduler that was down, charges late rather than never)."""
    plan = _charging_plan(account)
    if plan is None:
        return ()
    assert plan.customer_id is not None and plan.payment_method_id is not None
    now = ensure_utc(now)
    tz = account.debtor.timezone
    owed = account.balance.total
    left = owed.minor
    charges: list[Charge] = []
    for installment in sorted(plan.installments, key=lambda i: i.number):
        day = _next_attempt_day(account, installment, bounds)
        if day is None or now < at_local_time(day, CHARGE_TIME, tz):
            continue
        if installment.amount.currency != owed.currency or left <= 0:
            continue  # another currency cannot be applied (`payments.PaymentError`); nothing owed: nothing to take
        amount = min(installment.amount.minor, left)
        left -= amount
        charges.append(
            Charge(
                account_id=account.account_id,
                lender_id=account.lender_id,
                plan_id=plan.plan_id,
                installment=installment.number,
                attempt=installment.attempts + 1,
                amount=Money(amount, owed.currency),
                customer_id=plan.customer_id,
                payment_method_id=plan.payment_method_id,
                day=day,
            )
        )
    return tuple(charges)


def next_look(account: Account, now: datetime, bounds: PlanBounds) -> datetime | None:
    """When the scheduler must look at this account again for its charges (None: nothing to charge).

    The next attempt's moment when it is still ahead; `now + RECHECK` while a charge is due (its job may be
    queued, or lost) or in flight (its outcome decides the retry day), within `RECHECK_HORIZON` of the
    attempt's moment. Past that the attempt is still made whenever the account is looked at."""
    plan = _charging_plan(account)
    if plan is None:
        return None
    now = ensure_utc(now)
    tz = account.debtor.timezone
    moments: list[datetime] = []
    for installment in plan.installments:
        day = _next_attempt_day(account, installment, bounds)
        if day is None and not in_flight(account, installment):
            continue
        moment = at_local_time(day or attempt_day(installment, bounds), CHARGE_TIME, tz)
        if moment > now and day is not None:
            moments.append(moment)
        elif now < moment + RECHECK_HORIZON:
            moments.append(now + RECHECK)
    return min(moments) if moments else None


def earliest(*moments: datetime | None) -> datetime | None:
    """The earliest of the given moments that are set (None when none is)."""
    present = [moment for moment in moments if moment is not None]
    return min(present) if present else None


def record_charge(account: Account, charge: Charge, payment_intent_id: str) -> Account:
    """The account with the charge's PaymentIntent recorded on its installment (in flight), once.

    Unchanged (the same object) when Stripe's answer got there first (the webhooks already wrote this
    PaymentIntent, or a later failure), the installment is paid, or the plan is another one."""
    plan = account.plan
    if plan is None or plan.plan_id != charge.plan_id:
        return account
    installments: list[Installment] = []
    changed = False
    for installment in plan.installments:
        if (
            installment.number == charge.installment
            and installment.status in (InstallmentStatus.SCHEDULED, InstallmentStatus.FAILED)
            and installment.attempts == charge.attempt - 1
            and installment.payment_id != payment_intent_id
            and not in_flight(account, installment)
        ):
            installment = replace(installment, status=InstallmentStatus.SCHEDULED, payment_id=payment_intent_id)
            changed = True
        installments.append(installment)
    if not changed:
        return account
    return account.with_changes(plan=replace(plan, installments=tuple(installments)))


__all__ = [
    "CHARGE_TIME",
    "Charge",
    "ChargeJob",
    "due_charges",
    "earliest",
    "idempotency_key",
    "in_flight",
    "next_look",
    "record_charge",
    "retry_spacing",
]
