"""Applying payments to an account: once per PaymentIntent, in any order, refunds included.

The balance after payments is a function of the *set* of payments, never of the order their events
arrived in: every change re-runs the allocation over all payments (oldest first, by time then id)
from the balance before any of them (the stored balance plus what the stored payments took off).
So a duplicate changes nothing, a late `succeeded` lands where it belongs, and a refund gives back
exactly what its payment took. A payment is allocated in `ALLOCATION_ORDER` (fees, then interest,
then principal); what is left over is held as a credit for the debtor.

Status follows the balance: an active account whose balance reaches zero is PAID; a refund that
makes a PAID account owe again reopens it (ACTIVE). Settlement (closing for less than the balance)
is not modelled on the account yet, so no payment makes an account SETTLED here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import date, datetime

from functions.core.account import (
    Account,
    AccountStatus,
    Balance,
    Channel,
    Installment,
    InstallmentStatus,
    Payment,
    Plan,
    PlanStatus,
    PromiseStatus,
    days_past_due,
    stage_for,
)
from functions.core.clock import ensure_utc, local_date
from functions.core.declines import DeclineAdvice, advise
from functions.core.jobs import Job, Template, Tone
from functions.core.money import Money

# Which balance component a payment pays first. A lender policy may override it later
# (`LenderProfile.payments.allocation_order`, not there yet); this is the default every lender gets.
ALLOCATION_ORDER: tuple[str, ...] = ("fees", "interest", "principal")
COMPONENTS = frozenset(ALLOCATION_ORDER)
SOURCE_CHECKOUT = "checkout"
SOURCE_INSTALLMENT = "installment"
SOURCE_SETTLEMENT = "settlement"  # pays an accepted settlement offer: the rest of the balance is forgiven
CONSECUTIVE_MISSES_BREAK_PLAN = 2


class PaymentError(ValueError):
    """A payment that cannot be applied to this account (another currency, a negative amount)."""


@dataclass(frozen=True, slots=True)
class PaymentFact:
    """What a Stripe event tells us about one payment (a PaymentIntent, or a bare charge)."""

    payment_id: str
    amount: Money
    at: datetime
    source: str = SOURCE_CHECKOUT
    plan_id: str | None = None
    installment: int | None = None
    refunded_minor: int = 0  # cumulative, as Stripe reports `amount_refunded`


@dataclass(frozen=True, slots=True)
class PaymentFailure:
    payment_id: str
    at: datetime
    decline_code: str | None
    plan_id: str | None = None
    installment: int | None = None


def net_minor(payment: Payment) -> int:
    return max(0, payment.amount.minor - payment.refunded_minor)


def balance_before_payments(account: Account) -> Balance:
    """The balance as it was before any payment recorded on the account took its share."""
    balance = account.balance
    currency = balance.currency
    fees = balance.fees.minor + sum(p.fees_minor for p in account.payments)
    interest = balance.interest.minor + sum(p.interest_minor for p in account.payments)
    principal = balance.principal.minor + sum(p.principal_minor for p in account.payments)
    return Balance(Money(principal, currency), Money(interest, currency), Money(fees, currency))


def allocate(
    base: Balance, payments: tuple[Payment, ...], order: tuple[str, ...] = ALLOCATION_ORDER
) -> tuple[Balance, tuple[Payment, ...], int]:
    """Run every payment (oldest first) against `base`: the balance left, each payment's allocation,
    and the total credit (the part of the payments above the balance)."""
    if set(order) != COMPONENTS or len(order) != len(COMPONENTS):
        raise PaymentError(f"allocation order must name each of {sorted(COMPONENTS)} once, got {order}")
    remaining = {"fees": base.fees.minor, "interest": base.interest.minor, "principal": base.principal.minor}
    allocated: list[Payment] = []
    credit = 0
    for payment in sorted(payments, key=lambda p: (ensure_utc(p.at), p.payment_id)):
        left = net_minor(payment)
        parts = dict.fromkeys(ALLOCATION_ORDER, 0)
        for component in order:
            take = min(left, max(0, remaining[component]))
            parts[component] = take
            remaining[component] -= take
            left -= take
        credit += left
        allocated.append(
            replace(
                payment,
                fees_minor=parts["fees"],
                interest_minor=parts["interest"],
                principal_minor=parts["principal"],
                credit_minor=left,
            )
        )
    currency = base.currency
    balance = Balance(
        Money(remaining["principal"], currency),
        Money(remaining["interest"], currency),
        Money(remaining["fees"], currency),
    )
    return balance, tuple(allocated), credit


def find_payment(account: Account, payment_id: str) -> Payment | None:
    return next((p for p in account.payments if p.payment_id == payment_id), None)


def apply_payment(account: Account, fact: PaymentFact, order: tuple[str, ...] = ALLOCATION_ORDER) -> Account:
    """The account with this payment applied once (and its refunds, as far as `fact` knows them).

    Returns the same object when nothing changes (a duplicate, or an older view of the refunds)."""
    if fact.amount.currency != account.balance.currency:
        raise PaymentError(f"a {fact.amount.currency} payment cannot pay a {account.balance.currency} account")
    if fact.amount.minor <= 0 or fact.refunded_minor < 0:
        raise PaymentError("a payment amount must be positive and a refund not negative")
    existing = find_payment(account, fact.payment_id)
    refunded = min(fact.amount.minor, fact.refunded_minor)
    if existing is not None:
        if refunded <= existing.refunded_minor:
            return account  # already applied, refunds included: nothing new
        payments = tuple(replace(p, refunded_minor=refunded) if p is existing else p for p in account.payments)
    else:
        payment = Payment(
            payment_id=fact.payment_id,
            amount=fact.amount,
            at=ensure_utc(fact.at),
            refunded_minor=refunded,
            source=fact.source,
        )
        payments = (*account.payments, payment)
    plan = _mark_installment(account.plan, fact) if existing is None else account.plan
    return _rebuild(account.with_changes(plan=plan), payments, order)


def apply_refund(
    account: Account, payment_id: str, refunded_total_minor: int, fact: PaymentFact | None = None
) -> Account:
    """Record that `refunded_total_minor` of a payment has been refunded so far (Stripe's cumulative
    `amount_refunded`). A refund whose payment we have not seen yet applies the payment first (`fact`)."""
    existing = find_payment(account, payment_id)
    if existing is None:
        if fact is None:
            return account
        return apply_payment(account, replace(fact, refunded_minor=refunded_total_minor))
    return apply_payment(
        account,
        PaymentFact(payment_id, existing.amount, existing.at, existing.source, refunded_minor=refunded_total_minor),
    )


def _mark_installment(plan: Plan | None, fact: PaymentFact) -> Plan | None:
    if plan is None or fact.installment is None or fact.plan_id != plan.plan_id:
        return plan
    installments = tuple(
        replace(i, status=InstallmentStatus.PAID, payment_id=fact.payment_id) if i.number == fact.installment else i
        for i in plan.installments
    )
    return replace(plan, installments=installments)


def rebase(
    account: Account, lender_balance: Balance, known_until: date | None, order: tuple[str, ...] = ALLOCATION_ORDER
) -> Account:
    """The account after its lender sent a new balance (a portfolio re-upload) while it has payments
    collected through cleardue.

    The lender's figures count the payments it knows of: those up to its `last_payment_date`
    (`known_until`, a date in the debtor's zone). Every later payment, or every payment when the lender
    names no date, is taken off the lender's figures, so a payment the lender has not heard of yet is
    never billed again (overstating a debt is what 1006.18(c)(1) forbids; understating it until the
    lender's next file is the safe side). The status follows (paid, active again, settled)."""
    if lender_balance.currency != account.balance.currency:
        raise PaymentError(
            f"the lender's {lender_balance.currency} balance cannot replace a {account.balance.currency} balance "
            "that has payments"
        )
    if not account.payments:
        return account.with_changes(balance=lender_balance)
    tz = account.debtor.timezone
    known = [p for p in account.payments if known_until is not None and local_date(p.at, tz) <= known_until]
    currency = lender_balance.currency
    base = Balance(
        Money(lender_balance.principal.minor + sum(p.principal_minor for p in known), currency),
        Money(lender_balance.interest.minor + sum(p.interest_minor for p in known), currency),
        Money(lender_balance.fees.minor + sum(p.fees_minor for p in known), currency),
    )
    return _rebuild(account, account.payments, order, base)


def _rebuild(
    account: Account, payments: tuple[Payment, ...], order: tuple[str, ...], base: Balance | None = None
) -> Account:
    base = base if base is not None else balance_before_payments(account)
    balance, allocated, credit = allocate(base, payments, order)
    currency = balance.currency
    owes = balance.total.is_positive
    status = account.status
    settled = any(p.source == SOURCE_SETTLEMENT and net_minor(p) > 0 for p in allocated)
    if status is AccountStatus.ACTIVE and not owes:
        status = AccountStatus.PAID
    elif status is AccountStatus.ACTIVE and settled:
        status = AccountStatus.SETTLED  # the offer was paid: the remaining balance is forgiven
    elif status is AccountStatus.PAID and owes:
        status = AccountStatus.SETTLED if settled else AccountStatus.ACTIVE  # a refund reopened it
    elif status is AccountStatus.SETTLED and not settled:
        status = AccountStatus.ACTIVE if owes else AccountStatus.PAID  # the settlement payment was refunded
    by_id = {p.payment_id: p for p in allocated}
    plan = _plan_after(account.plan, by_id, owes)
    promise = account.promise
    if promise is not None and promise.status is PromiseStatus.PENDING:
        paid = sum(net_minor(p) for p in allocated if p.at >= promise.made_at)
        if paid >= promise.amount.minor:
            promise = replace(promise, status=PromiseStatus.KEPT)
    return account.with_changes(
        balance=balance,
        payments=tuple(by_id[p.payment_id] for p in payments),  # keep the stored order (arrival)
        credit=Money(credit, currency) if credit else None,
        status=status,
        plan=plan,
        promise=promise,
    )


def _plan_after(plan: Plan | None, payments: dict[str, Payment], owes: bool) -> Plan | None:
    """Installments paid by a payment that was refunded in full are due again; a plan whose
    installments are all paid, or whose account owes nothing, is completed (and reopens if not)."""
    if plan is None:
        return None
    installments: list[Installment] = []
    for installment in plan.installments:
        paid_by = payments.get(installment.payment_id or "")
        if installment.status is InstallmentStatus.PAID and paid_by is not None and net_minor(paid_by) == 0:
            installment = replace(installment, status=InstallmentStatus.SCHEDULED)
        installments.append(installment)
    all_paid = all(i.status is InstallmentStatus.PAID for i in installments)
    status = plan.status
    if status is PlanStatus.CURRENT and (all_paid or not owes):
        status = PlanStatus.COMPLETED
    elif status is PlanStatus.COMPLETED and owes and not all_paid:
        status = PlanStatus.CURRENT
    return replace(plan, installments=tuple(installments), status=status)


def apply_failure(account: Account, failure: PaymentFailure, max_retries: int) -> tuple[Account, DeclineAdvice]:
    """Record a failed charge. A failure for a payment already applied (a late `payment_failed`
    after its `succeeded`) changes nothing. A plan installment that failed is retried only on a soft
    decline within `max_retries`; otherwise it is missed, and the second consecutive miss breaks the plan."""
    plan = account.plan
    plan_running = plan is not None and plan.status in (PlanStatus.CURRENT, PlanStatus.AWAITING_CARD)
    advice = advise(failure.decline_code, plan_open=not plan_running)
    if find_payment(account, failure.payment_id) is not None:
        return account, advice
    if plan is None or failure.installment is None or failure.plan_id != plan.plan_id:
        return account, advice
    installments: list[Installment] = []
    for installment in plan.installments:
        if installment.number == failure.installment and installment.status is not InstallmentStatus.PAID:
            attempts = installment.attempts + 1
            retry = advice.retry and attempts <= max_retries
            installment = replace(
                installment,
                attempts=attempts,
                status=InstallmentStatus.FAILED if retry else InstallmentStatus.MISSED,
                payment_id=failure.payment_id,
            )
        installments.append(installment)
    status = plan.status
    if status is PlanStatus.CURRENT and consecutive_misses(tuple(installments)) >= CONSECUTIVE_MISSES_BREAK_PLAN:
        status = PlanStatus.BROKEN
    return account.with_changes(plan=replace(plan, installments=tuple(installments), status=status)), advice


def consecutive_misses(installments: tuple[Installment, ...]) -> int:
    """The longest run of missed installments, in installment order."""
    longest = run = 0
    for installment in sorted(installments, key=lambda i: i.number):
        run = run + 1 if installment.status is InstallmentStatus.MISSED else 0
        longest = max(longest, run)
    return longest


def save_card(account: Account, plan_id: str, customer_id: str | None, payment_method_id: str | None) -> Account:
    """The plan's card saved through Checkout in setup mode: the plan becomes CURRENT."""
    plan = account.plan
    if plan is None or plan.plan_id != plan_id or plan.status not in (PlanStatus.AWAITING_CARD, PlanStatus.CURRENT):
        return account
    updated = replace(
        plan,
        customer_id=customer_id or plan.customer_id,
        payment_method_id=payment_method_id or plan.payment_method_id,
        status=PlanStatus.CURRENT if (payment_method_id or plan.payment_method_id) else plan.status,
    )
    return account if updated == plan else account.with_changes(plan=updated)


def notice_channel(account: Account) -> Channel | None:
    """Where a receipt or a failed-payment notice goes: the debtor's preferred channel if usable,
    else email, else SMS (with consent); None when no channel can reach them."""

    def usable(channel: Channel) -> bool:
        if account.blocked_channels.get(channel) is not None:
            return False
        if channel is Channel.EMAIL:
            return bool(account.debtor.email)
        return bool(account.debtor.phone) and account.debtor.sms_consent

    candidates = [account.preferred_channel] if account.preferred_channel else []
    candidates += [Channel.EMAIL, Channel.SMS]
    return next((c for c in candidates if c is not None and usable(c)), None)


def _notice_job(
    account: Account, template: Template, payment_id: str, now: datetime, channel: Channel, reason: str
) -> Job:
    """A transactional notice about one payment: the same payment, template and channel always give the same job id."""
    material = f"{account.account_id}|{template.value}|{payment_id}|{channel.value}"
    return Job(
        job_id=hashlib.sha256(material.encode("utf-8")).hexdigest()[:32],
        account_id=account.account_id,
        channel=channel,
        template=template.value,
        variant="a",
        stage=stage_for(days_past_due(account.due_date, local_date(now, account.debtor.timezone))),
        scheduled_for=ensure_utc(now),
        tone=Tone.FRIENDLY,
        reason=reason,
    )


def receipt_job(account: Account, payment_id: str, now: datetime, channel: Channel) -> Job:
    """One receipt per payment and channel: the same payment always gives the same job id."""
    return _notice_job(account, Template.RECEIPT, payment_id, now, channel, f"receipt payment={payment_id}")


def payment_failed_job(
    account: Account, failure: PaymentFailure, advice: DeclineAdvice, now: datetime, channel: Channel
) -> Job:
    """One notice per failed PaymentIntent and channel; `reason` carries the next step for the sender:
    `payment_failed payment=<pi> decline=<code> next_step=<NextStep> retry=<yes|no>`."""
    reason = (
        f"payment_failed payment={failure.payment_id} decline={advice.code} "
        f"next_step={advice.next_step.value} retry={'yes' if advice.retry else 'no'}"
    )
    return _notice_job(account, Template.PAYMENT_FAILED, failure.payment_id, now, channel, reason)


def parse_reason(reason: str | None) -> dict[str, str]:
    """The `key=value` tokens of a notice job's reason (what the sender reads: `next_step`, `payment`)."""
    tokens = (reason or "").split()
    return dict(token.split("=", 1) for token in tokens if "=" in token)


__all__ = [
    "ALLOCATION_ORDER",
    "PaymentError",
    "PaymentFact",
    "PaymentFailure",
    "allocate",
    "apply_failure",
    "apply_payment",
    "apply_refund",
    "balance_before_payments",
    "notice_channel",
    "parse_reason",
    "rebase",
    "payment_failed_job",
    "receipt_job",
    "save_card",
]
