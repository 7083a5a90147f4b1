"""Stripe events applied to accounts: payments once per PaymentIntent, refunds, failures, plan cards, disputes.

Every change goes through `accounts.save_state` under the account's version lock (re-read and
re-applied on a conflict), so concurrent deliveries about the same account take turns. The side
effects that follow a fact (a receipt, a failed-payment notice) are sent *before* the fact's audit
event is written and only while that event is missing: a crash in between sends the notice again
on Stripe's retry, and the sender's idempotency on the deterministic job id makes that harmless.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from functions.core import experiments, payments
from functions.core.account import Account, AccountStatus, Channel, Flag, PlanStatus
from functions.core.audit import AuditEvent, EventType
from functions.core.engagement import Signal
from functions.core.jobs import Job
from functions.core.lender import LenderProfile
from functions.core.money import Money, MoneyError
from functions.store import StoreError, accounts, events, learning
from functions.store import experiments as experiment_store
from functions.store import webhooks as store

ACTOR = "webhooks"

APPLIED = "applied"
DUPLICATE = "duplicate"
IGNORED = "ignored"
UNMATCHED = "unmatched"  # no account to apply it to (no metadata, or an unknown account)
REFUSED = "refused"  # cannot apply to this account (another currency): acknowledged, audited, for a person


@dataclass(frozen=True, slots=True)
class Outcome:
    outcome: str
    event_type: str
    account_id: str | None = None
    applied_minor: int = 0  # newly applied money (for the AmountCollected metric)
    currency: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "event_type": self.event_type,
            "account_id": self.account_id,
            "applied_minor": self.applied_minor,
            "currency": self.currency,
            "detail": self.detail,
        }


class Notices:
    """Puts notice jobs on the queue of their channel (the senders deliver them)."""

    def __init__(self, sqs: Any, email_queue_url: str, sms_queue_url: str | None) -> None:
        self._sqs = sqs
        self._urls = {Channel.EMAIL: email_queue_url, Channel.SMS: sms_queue_url}

    def send(self, job: Job) -> bool:
        url = self._urls.get(job.channel)
        if not url:
            return False
        self._sqs.send_message(QueueUrl=url, MessageBody=job.model_dump_json())
        return True


def _metadata(obj: dict[str, Any]) -> dict[str, str]:
    meta = obj.get("metadata") or {}
    return {str(k): str(v) for k, v in meta.items()} if isinstance(meta, dict) else {}


# What a Stripe object's field may be before it is stored: its ids are short strings and its amounts are bounded
# (8 digits in minor units); a signed event carrying anything else (found by tests/fuzz/test_fuzz_webhooks.py: a
# 40-digit amount or a 1e308 reason made DynamoDB refuse the audit event, a 500 Stripe retries for days) gets None.
MAX_ID_LENGTH = 255
MAX_MINOR = 10**15
MAX_TEXT = 200


def _id(value: Any) -> str | None:
    """A Stripe id (`pi_...`) or an expanded object's id; None for anything that is not a short string or int."""
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value)
    return text if 0 < len(text) <= MAX_ID_LENGTH else None


def _int(value: Any) -> int | None:
    """An integer field (an amount in minor units, an installment number), None when it is not one or is beyond
    any real amount."""
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).lstrip("-").isdigit():
        return None
    number = int(value)
    return number if abs(number) < MAX_MINOR else None


def _text(value: Any) -> str | None:
    """A free-text field (a dispute's reason), cut to a length an audit event keeps."""
    return value[:MAX_TEXT] if isinstance(value, str) else None


def _epoch(value: Any) -> datetime | None:
    """Epoch seconds as a time, or None for anything else (Stripe's `created` fields)."""
    seconds = _int(value)
    if seconds is None or not 0 < seconds < 2**33:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC)


def event_time(event: dict[str, Any]) -> datetime:
    """Time comes from the event: Stripe's `created` (epoch seconds)."""
    return datetime.fromtimestamp(int(event["created"]), tz=UTC)


class StripeEvents:
    """Applies one verified Stripe event (a plain dict) to its account."""

    def __init__(
        self,
        notices: Notices,
        due_shards: int,
        lender: Callable[[str], LenderProfile],
        card_of_session: Callable[[str], tuple[str | None, str | None]] | None = None,
    ) -> None:
        self._notices = notices
        self._shards = due_shards
        self._lender = lender
        # A setup-mode Checkout Session names its setup intent but not the card: ask Stripe (the gateway).
        self._card_of_session = card_of_session

    def handle(self, event: dict[str, Any]) -> Outcome:
        kind = str(event.get("type") or "")
        handler = {
            "payment_intent.succeeded": self._payment_intent_succeeded,
            "checkout.session.completed": self._checkout_completed,
            "charge.refunded": self._charge_refunded,
            "payment_intent.payment_failed": self._payment_failed,
            "setup_intent.succeeded": self._setup_succeeded,
            "charge.dispute.created": self._dispute_created,
        }.get(kind)
        obj = ((event.get("data") or {}).get("object")) or {}
        if handler is None or not isinstance(obj, dict):
            return Outcome(IGNORED, kind)
        try:
            return handler(event, obj, event_time(event))
        except (payments.PaymentError, MoneyError) as exc:  # e.g. another currency, or one that is not ISO 4217
            # Retrying cannot fix it: acknowledge (Stripe would retry for days) and leave it to a person.
            account_id = self._account_id(_metadata(obj))
            if account_id is not None and accounts.get(account_id) is not None:
                events.append(
                    AuditEvent(
                        account_id,
                        event_time(event),
                        EventType.PAYMENT_FAILED,
                        f"refused:{event.get('id')}",
                        ACTOR,
                        {"refused": str(exc)[:200], "stripe_event": event.get("id")},
                    )
                )
            return Outcome(REFUSED, kind, account_id, detail={"why": str(exc)[:200]})

    # -- payments ------------------------------------------------------------------------------------

    def _payment_intent_succeeded(self, event: dict[str, Any], intent: dict[str, Any], now: datetime) -> Outcome:
        amount = _int(intent.get("amount_received")) or _int(intent.get("amount"))
        if not amount or not intent.get("id") or not intent.get("currency"):
            return Outcome(IGNORED, event["type"], detail={"why": "no amount"})
        meta = _metadata(intent)
        fact = payments.PaymentFact(
            payment_id=str(intent["id"]),
            amount=Money(amount, str(intent["currency"])),
            at=now,
            source=_source(meta),
            plan_id=meta.get("plan_id"),
            installment=_int(meta.get("installment")),
        )
        return self._apply(event, meta, fact, now)

    def _checkout_completed(self, event: dict[str, Any], session: dict[str, Any], now: datetime) -> Outcome:
        meta = _metadata(session)
        if session.get("mode") == "setup":
            return self._card_saved(event, meta, session, now)
        intent_id = _id(session.get("payment_intent"))
        amount = _int(session.get("amount_total"))
        paid = session.get("mode") == "payment" and session.get("payment_status") == "paid"
        if not paid or not intent_id or not amount or not session.get("currency"):
            return Outcome(IGNORED, event["type"], detail={"why": "not a paid payment-mode session"})
        fact = payments.PaymentFact(intent_id, Money(amount, str(session["currency"])), now, source=_source(meta))
        return self._apply(event, meta, fact, now)

    def _apply(self, event: dict[str, Any], meta: dict[str, str], fact: payments.PaymentFact, now: datetime) -> Outcome:
        account_id = self._account_id(meta)
        if account_id is None:
            return Outcome(UNMATCHED, event["type"], detail={"payment": fact.payment_id})
        change = self._change(account_id, now, lambda account: payments.apply_payment(account, fact))
        if change is None:
            return Outcome(UNMATCHED, event["type"], account_id, detail={"payment": fact.payment_id})
        before, after = change
        return self._follow_payment(event["type"], before, after, fact.payment_id, now)

    def _follow_payment(self, kind: str, before: Account, after: Account, payment_id: str, now: datetime) -> Outcome:
        """The receipt, the audit event and the engagement signal of a payment, once."""
        payment = payments.find_payment(after, payment_id)
        if payment is None:
            return Outcome(IGNORED, kind, after.account_id)
        event_id = f"payment:{payment_id}"
        if store.fact_recorded(after.account_id, event_id):
            return Outcome(DUPLICATE, kind, after.account_id, detail={"payment": payment_id})
        self._reward_experiment(after, payment.at)
        channel = payments.notice_channel(after)
        job = payments.receipt_job(after, payment_id, now, channel) if channel else None
        queued = self._notices.send(job) if job else False
        detail = {
            "payment": payment_id,
            "amount_minor": payment.amount.minor,
            "currency": payment.amount.currency,
            "fees_minor": payment.fees_minor,
            "interest_minor": payment.interest_minor,
            "principal_minor": payment.principal_minor,
            "credit_minor": payment.credit_minor,
            "balance_minor": after.balance.total.minor,
            "status": after.status.value,
            "source": payment.source,
            "receipt_job": job.job_id if job and queued else None,
        }
        sealed = events.append(AuditEvent(after.account_id, now, EventType.PAYMENT_APPLIED, event_id, ACTOR, detail))
        if sealed is None:
            return Outcome(DUPLICATE, kind, after.account_id, detail={"payment": payment_id})
        learning.record_engagement(after, Signal.PAID, None, now)
        return Outcome(
            APPLIED,
            kind,
            after.account_id,
            payments.net_minor(payment),
            payment.amount.currency,
            {"payment": payment_id},
        )

    def _reward_experiment(self, account: Account, paid_at: datetime) -> None:
        """A payment rewards the experiment variant of the last collection message sent within the lender's
        reward window before it (core.experiments), once per message (a marker in the reward's transaction).
        Before the payment's audit event, so a redelivery retries a failed reward; a store failure never
        fails the payment (the reward is then lost)."""
        policy = self._lender(account.lender_id).outreach.experiments
        if not policy.enabled:
            return
        window = timedelta(days=policy.reward_window_days)
        try:
            found = experiments.rewarded_message(events.history(account.account_id), paid_at, window)
            if found is not None:
                experiment_store.add_reward(account.lender_id, account.account_id, *found)
        except StoreError:
            return

    def _charge_refunded(self, event: dict[str, Any], charge: dict[str, Any], now: datetime) -> Outcome:
        amount = _int(charge.get("amount"))
        refunded = _int(charge.get("amount_refunded")) or 0
        payment_id = _id(charge.get("payment_intent")) or _id(charge.get("id"))
        if not amount or not payment_id or not charge.get("currency"):
            return Outcome(IGNORED, event["type"])
        meta = _metadata(charge)
        account_id = self._account_id(meta)
        if account_id is None:
            return Outcome(UNMATCHED, event["type"], detail={"payment": payment_id})
        # A refund implies the charge succeeded: if its payment is not applied yet, apply it too.
        fact = payments.PaymentFact(
            payment_id,
            Money(amount, str(charge["currency"])),
            _epoch(charge.get("created")) or event_time(event),
            plan_id=meta.get("plan_id"),
            installment=_int(meta.get("installment")),
            source=_source(meta),
        )
        change = self._change(
            account_id, now, lambda account: payments.apply_refund(account, payment_id, refunded, fact)
        )
        if change is None:
            return Outcome(UNMATCHED, event["type"], account_id)
        before, after = change
        self._follow_payment(event["type"], before, after, payment_id, now)
        payment = payments.find_payment(after, payment_id)
        if payment is None:
            return Outcome(IGNORED, event["type"], account_id)
        sealed = events.append(
            AuditEvent(
                account_id,
                now,
                EventType.PAYMENT_REFUNDED,
                f"refund:{payment_id}:{payment.refunded_minor}",
                ACTOR,
                {
                    "payment": payment_id,
                    "refunded_minor": payment.refunded_minor,
                    "balance_minor": after.balance.total.minor,
                    "status": after.status.value,
                },
            )
        )
        return Outcome(APPLIED if sealed else DUPLICATE, event["type"], account_id, detail={"payment": payment_id})

    # -- failures ------------------------------------------------------------------------------------

    def _payment_failed(self, event: dict[str, Any], intent: dict[str, Any], now: datetime) -> Outcome:
        meta = _metadata(intent)
        account_id = self._account_id(meta)
        if account_id is None or not intent.get("id"):
            return Outcome(UNMATCHED, event["type"])
        error = intent.get("last_payment_error")
        if not isinstance(error, dict):  # absent, or not the object Stripe documents: no decline code
            error = {}
        failure = payments.PaymentFailure(
            payment_id=str(intent["id"]),
            at=now,
            decline_code=error.get("decline_code") or error.get("code"),
            plan_id=meta.get("plan_id"),
            installment=_int(meta.get("installment")),
        )
        lender = self._lender(account_id.split("#", 1)[0])
        advice_holder: list[payments.DeclineAdvice] = []

        def change(account: Account) -> Account:
            after, advice = payments.apply_failure(account, failure, lender.plans.max_retries)
            advice_holder[:] = [advice]
            return after

        result = self._change(account_id, now, change)
        if result is None:
            return Outcome(UNMATCHED, event["type"], account_id)
        _, after = result
        advice = advice_holder[0]
        if payments.find_payment(after, failure.payment_id) is not None:
            return Outcome(
                IGNORED, event["type"], account_id, detail={"why": "already paid", "payment": failure.payment_id}
            )
        first = not store.fact_recorded(account_id, f"payment_failed:{failure.payment_id}")
        job = None
        if first:
            channel = payments.notice_channel(after)
            job = payments.payment_failed_job(after, failure, advice, now, channel) if channel else None
            if job is not None and not self._notices.send(job):
                job = None
        event_id = (
            f"payment_failed:{failure.payment_id}" if first else f"payment_failed:{failure.payment_id}:{event['id']}"
        )
        detail: dict[str, Any] = {
            "payment": failure.payment_id,
            "decline": advice.code,
            "next_step": advice.next_step.value,
            "retry": advice.retry,
            "hard": advice.hard,
            "notice_job": job.job_id if job else None,
        }
        if failure.installment is not None:
            detail["installment"] = failure.installment
            detail["plan_status"] = after.plan.status.value if after.plan else None
        events.append(AuditEvent(account_id, now, EventType.PAYMENT_FAILED, event_id, ACTOR, detail))
        return Outcome(APPLIED, event["type"], account_id, detail=detail)

    # -- plans and disputes --------------------------------------------------------------------------

    def _setup_succeeded(self, event: dict[str, Any], intent: dict[str, Any], now: datetime) -> Outcome:
        if intent.get("status") not in (None, "succeeded"):
            return Outcome(IGNORED, event["type"])
        return self._card_saved(event, _metadata(intent), intent, now)

    def _card_saved(self, event: dict[str, Any], meta: dict[str, str], obj: dict[str, Any], now: datetime) -> Outcome:
        account_id = self._account_id(meta)
        plan_id = meta.get("plan_id")
        if account_id is None or not plan_id:
            return Outcome(UNMATCHED, event["type"])
        customer = _id(obj.get("customer"))
        method = _id(obj.get("payment_method"))
        if method is None and obj.get("object") == "checkout.session" and self._card_of_session is not None:
            current = accounts.get(account_id)
            if current and current.plan and current.plan.plan_id == plan_id and not current.plan.payment_method_id:
                customer, method = self._card_of_session(str(obj["id"]))
        result = self._change(account_id, now, lambda account: payments.save_card(account, plan_id, customer, method))
        if result is None:
            return Outcome(UNMATCHED, event["type"], account_id)
        before, after = result
        if after.plan is None or after.plan.status is not PlanStatus.CURRENT or before.plan == after.plan:
            return Outcome(IGNORED, event["type"], account_id, detail={"plan": plan_id})
        events.append(
            AuditEvent(account_id, now, EventType.PLAN_CARD_SAVED, f"plan_card:{plan_id}", ACTOR, {"plan": plan_id})
        )
        return Outcome(APPLIED, event["type"], account_id, detail={"plan": plan_id})

    def _dispute_created(self, event: dict[str, Any], dispute: dict[str, Any], now: datetime) -> Outcome:
        account_id = self._account_id(_metadata(dispute))
        if account_id is None or accounts.get(account_id) is None:
            return Outcome(UNMATCHED, event["type"], detail={"dispute": _id(dispute.get("id"))})
        accounts.set_flag(account_id, Flag.DISPUTE, True, now)
        detail = {
            "dispute": _id(dispute.get("id")),
            "payment": _id(dispute.get("payment_intent")) or _id(dispute.get("charge")),
            "reason": _text(dispute.get("reason")),
            "amount_minor": _int(dispute.get("amount")),
            "currency": str(dispute.get("currency") or "").upper() or None,
        }
        events.append(
            AuditEvent(account_id, now, EventType.PAYMENT_DISPUTED, f"dispute:{detail['dispute']}", ACTOR, detail)
        )
        return Outcome(APPLIED, event["type"], account_id, detail=detail)

    # -- helpers -------------------------------------------------------------------------------------

    @staticmethod
    def _account_id(meta: dict[str, str]) -> str | None:
        account_id = meta.get("account_id")
        if not account_id or "#" not in account_id:
            return None
        lender_id = meta.get("lender_id")
        if lender_id and account_id.split("#", 1)[0] != lender_id:
            return None  # metadata that contradicts itself: never apply money to a guess
        return account_id

    def _change(
        self, account_id: str, now: datetime, change: Callable[[Account], Account]
    ) -> tuple[Account, Account] | None:
        """Apply `change` under the version lock; reminders follow the new state. None: no such account.
        `accounts.KeptChanging` when it kept losing the lock: Stripe delivers the event again."""

        def with_reminders(before: Account) -> Account:
            after = change(before)
            if after is before:
                return before
            return after.with_changes(next_contact_at=self._next_contact(before, after, now))

        return accounts.update_state(account_id, now, self._shards, with_reminders)

    def _next_contact(self, before: Account, after: Account, now: datetime) -> datetime | None:
        """Reminders stop at once when the account is paid; a partial payment pushes the next reminder
        one cadence out; a reopened account, a broken plan or a plan that just got its card (the scheduler
        schedules its installment charges) is looked at again now."""
        if after.status is not AccountStatus.ACTIVE or not after.balance.total.is_positive:
            return None
        reopened = before.status is not AccountStatus.ACTIVE

        def became(status: PlanStatus) -> bool:
            return (
                after.plan is not None
                and after.plan.status is status
                and (before.plan is None or before.plan.status is not status)
            )

        if reopened or became(PlanStatus.BROKEN) or became(PlanStatus.CURRENT):
            return now
        if len(after.payments) > len(before.payments) and before.next_contact_at is not None:
            pause = timedelta(days=self._lender(after.lender_id).cadence_days)
            return max(before.next_contact_at, now + pause)
        return before.next_contact_at


def _source(meta: dict[str, str]) -> str:
    """What a payment pays, from its metadata (the portal's and the charger's `purpose`)."""
    if meta.get("installment"):
        return payments.SOURCE_INSTALLMENT
    if meta.get("purpose") == payments.SOURCE_SETTLEMENT:
        return payments.SOURCE_SETTLEMENT
    return payments.SOURCE_CHECKOUT
