"""One charge job: re-check the installment is still due for this attempt, charge it, record the attempt.

The charger starts charges; it never applies their outcome. Stripe's answer comes back as
`payment_intent.succeeded` / `payment_intent.payment_failed` through the webhooks function, which marks
the installment PAID, FAILED (retried by `core.installments`) or MISSED (two in a row break the plan).

Order of work, and why each step is safe to repeat:
1. re-read the account (strongly consistent) and ask `core.installments.due_charges` again: a job for an
   attempt that is no longer due (paid, in flight, plan broken or replaced, account flagged) charges nothing;
2. `charge_off_session` with the attempt's idempotency key: a redelivered or re-enqueued job gets the same
   PaymentIntent back from Stripe, never a second charge; a Stripe error raises (`PaymentsError`) and
   fails only this job's record, so SQS delivers it again;
3. the `installment_charge_attempted` audit event, once per attempt (its event id is the key);
4. record the PaymentIntent on the installment under the version lock (it is then in flight: no job for
   this attempt calls Stripe again), unless the webhook got there first; an account that kept changing
   (`accounts.KeptChanging`) fails the job's record, and SQS delivers it again (same key).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from functions.core import installments
from functions.core.account import Account
from functions.core.audit import AuditEvent, EventType
from functions.core.installments import Charge, ChargeJob
from functions.core.lender import PlanBounds
from functions.store import accounts, events

if TYPE_CHECKING:  # the Stripe SDK is imported only when a job is still due (functions.charger.handler)
    from functions.payments.stripe_gateway import ChargeResult
    from functions.payments.stripe_gateway import PaymentsGateway as Gateway

ACTOR = "charger"

SUCCEEDED = "succeeded"  # Stripe charged the card (the webhook applies the payment)
DECLINED = "declined"  # Stripe declined it (the webhook records the failure and tells the debtor)
PENDING = "pending"  # Stripe has not decided yet (processing): the webhook will say
NOT_DUE = "not_due"  # nothing to charge for this job any more (paid, in flight, plan changed, gone)


@dataclass(frozen=True, slots=True)
class Outcome:
    outcome: str
    job_id: str
    payment_id: str | None = None
    decline_code: str | None = None


class Charger:
    def __init__(
        self, gateway: Callable[[], Gateway], plan_bounds_for: Callable[[str], PlanBounds], due_shards: int
    ) -> None:
        self._gateway = gateway  # built on first use: a job that is no longer due never reads the Stripe secret
        self._plan_bounds_for = plan_bounds_for
        self._shards = due_shards

    def charge(self, job: ChargeJob, now: datetime) -> Outcome:
        charge = self._still_due(job, now)
        if charge is None:
            return Outcome(NOT_DUE, job.job_id)
        result = self._gateway().charge_off_session(
            account_id=charge.account_id,
            lender_id=charge.lender_id,
            plan_id=charge.plan_id,
            installment=charge.installment,
            amount=charge.amount,
            customer_id=charge.customer_id,
            payment_method_id=charge.payment_method_id,
            idempotency_key=charge.key,
        )
        outcome = SUCCEEDED if result.succeeded else DECLINED if result.decline_code else PENDING
        events.append(_attempted(charge, result, now))
        if result.payment_intent_id:  # after the audit event: a crash in between charges (replays) and records again
            self._record(charge, result.payment_intent_id, now)
        return Outcome(outcome, job.job_id, result.payment_intent_id, result.decline_code)

    def _still_due(self, job: ChargeJob, now: datetime) -> Charge | None:
        account = _read(job.account_id)
        if account is None:
            return None
        due = installments.due_charges(account, now, self._plan_bounds_for(account.lender_id))
        return next((charge for charge in due if charge.key == job.job_id), None)

    def _record(self, charge: Charge, payment_intent_id: str, now: datetime) -> None:
        def record(before: Account) -> Account:
            return installments.record_charge(before, charge, payment_intent_id)

        accounts.update_state(charge.account_id, now, self._shards, record, read=_read)


def _read(account_id: str) -> Account | None:
    """The account read strongly consistent: a charge is decided on it."""
    return accounts.get_many([account_id]).get(account_id)


def _attempted(charge: Charge, result: ChargeResult, now: datetime) -> AuditEvent:
    """The `installment_charge_attempted` event: once per attempt (its event id is the attempt's key)."""
    detail = {
        "plan": charge.plan_id,
        "installment": charge.installment,
        "attempt": charge.attempt,
        "amount_minor": charge.amount.minor,
        "currency": charge.amount.currency,
        "payment": result.payment_intent_id,
        "status": result.status,
        "decline": result.decline_code,
        "idempotency_key": charge.key,
    }
    return AuditEvent(
        charge.account_id, now, EventType.INSTALLMENT_CHARGE_ATTEMPTED, f"charge:{charge.key}", ACTOR, detail
    )
