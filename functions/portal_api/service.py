"""The portal's flows: link → verify → session, then the account and the debtor's choices.

Rules live in functions.core (portal, plans, hardship, sessions); this module reads and writes the
store, audits every attempt and action, and asks the payments gateway for Checkout sessions."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from functions import names
from functions.api_errors import ApiError
from functions.core import hardship, plans, portal, sessions
from functions.core import links as link_tokens
from functions.core.account import Account, Block, Channel, Dispute, DisputeStatus, Flag, Plan, PlanStatus, Promise
from functions.core.audit import AuditEvent, EventType
from functions.core.clock import local_date
from functions.core.engagement import Signal
from functions.core.lender import LenderProfile
from functions.core.money import Money
from functions.core.portal import Answers
from functions.observability import metrics
from functions.store import StoreError, accounts, events, learning, lenders
from functions.store import portal as portal_store

if TYPE_CHECKING:  # the Stripe SDK is imported only by the routes that reach Stripe (cold starts)
    from functions.payments.stripe_gateway import CheckoutLink
    from functions.payments.stripe_gateway import PaymentsGateway as Gateway

ACTOR = "debtor"
PURPOSE_PAYMENT = "payment"  # Checkout metadata `purpose` (functions.payments.stripe_gateway.PURPOSE_PAYMENT)
PURPOSE_SETTLEMENT = "settlement"  # Checkout metadata: this payment settles the account for less
CHECKOUT_BUCKET_SECONDS = 900  # a double tap within 15 minutes reuses the same Checkout session
_SAVE_ATTEMPTS = 5


class PortalError(ApiError):
    """An answer of the portal API other than 200."""


@dataclass(frozen=True)
class Runtime:
    """Keys and clients, resolved lazily (cached by the handler per container)."""

    link_key: Callable[[], bytes]
    fact_key: Callable[[], bytes]
    gateway: Callable[[], Gateway]
    portal_url: str
    due_shards: int


@dataclass(frozen=True)
class Call:
    """One HTTP request: its time (requestContext.timeEpoch), id and the browser's languages."""

    now: datetime
    request_id: str
    accept_language: str | None = None


@dataclass(frozen=True)
class Verified:
    """A request with a valid session: the account and its lender, in the session's language."""

    account: Account
    lender: LenderProfile
    language: str
    today: date  # the debtor's local date: bounds on dates are in their calendar


def audit(account_id: str, call: Call, kind: EventType, **detail: Any) -> None:
    """Every attempt and every action lands in the account's trail once (keyed by the request id)."""
    events.append(
        AuditEvent(
            account_id=account_id,
            at=call.now,
            type=kind,
            event_id=f"portal:{call.request_id}:{kind.value}",
            actor=ACTOR,
            detail={key: value for key, value in detail.items() if value is not None},
        )
    )


def count(metric: str) -> None:
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)


# --- before verification --------------------------------------------------------------------------

_FAILED = "Those details don't match our records. Please check them and try again."


def _link(token: str, call: Call, runtime: Runtime) -> link_tokens.LinkClaims:
    try:
        return link_tokens.read(token, call.now, runtime.link_key())
    except link_tokens.LinkError as exc:
        if exc.reason == "expired":
            raise PortalError(
                410, "link_expired", "This link has expired. Please use the latest message you received."
            ) from exc
        raise PortalError(
            400, "link_invalid", "This link is not valid. Please use the link from your message."
        ) from exc


def _locked(account: Account, call: Call) -> datetime | None:
    locked_until = portal_store.get(account.account_id).locked_until
    return locked_until if locked_until and locked_until > call.now else None


def _lock_error(until: datetime, call: Call) -> PortalError:
    return PortalError(
        423,
        "link_locked",
        "Too many attempts. For your security this link is paused; please try again later.",
        retry_after=max(1, int((until - call.now).total_seconds())),
    )


def open_link(token: str, call: Call, runtime: Runtime) -> dict[str, Any]:
    """Which identity check the link needs; the same answer shape for a known and an unknown link."""
    claims = _link(token, call, runtime)
    language = portal.language_for(call.accept_language)
    check = portal.Check(LenderProfile.model_fields["identity_check"].default)
    account = accounts.by_link_ref(claims.link_ref)
    if account is not None:
        if until := _locked(account, call):
            raise _lock_error(until, call)
        found = portal.identity_check_for(account, lenders.get_or_default(account.lender_id))
        check = found or check
    return {"identity_check": check.value, "languages": list(portal.LANGUAGES), "language": language}


def start_session(token: str, answers: Answers, call: Call, runtime: Runtime) -> dict[str, Any]:
    """Verify the debtor and issue a session; five failures lock the link for 30 minutes."""
    claims = _link(token, call, runtime)
    account = accounts.by_link_ref(claims.link_ref)
    if account is None:  # as a wrong answer would look: nothing says whether a debt exists
        raise PortalError(401, "verification_failed", _FAILED, attempts_left=portal.MAX_FAILED_ATTEMPTS - 1)
    account_id = account.account_id
    if until := _locked(account, call):
        audit(account_id, call, EventType.PORTAL_LOCKED, reason="attempt_while_locked")
        raise _lock_error(until, call)
    check = portal.identity_check_for(account, lenders.get_or_default(account.lender_id))
    if check is None:
        audit(account_id, call, EventType.PORTAL_VERIFICATION_FAILED, reason="no_check_available")
        raise PortalError(
            403,
            "verification_unavailable",
            "We can't confirm who you are online for this account. Please contact the company that sent you this link.",
        )
    if portal.verify(account, check, answers, runtime.fact_key()):
        portal_store.record_success(account_id)
        state = portal_store.get(account_id)
        language = portal.language_for(state.language or account.debtor.language)
        session, expires_at = sessions.issue(claims.link_ref, language, call.now, runtime.link_key())
        audit(account_id, call, EventType.PORTAL_VERIFIED, check=check.value)
        count(names.METRIC_PORTAL_VERIFIED)
        _count_visit(account, call.now, claims.channel)
        return {"session": session, "expires_at": expires_at, "language": language}
    failures, lock = portal_store.record_failure(account_id, portal.MAX_FAILED_ATTEMPTS, call.now + portal.LOCK_PERIOD)
    audit(account_id, call, EventType.PORTAL_VERIFICATION_FAILED, check=check.value, failures=failures)
    count(names.METRIC_PORTAL_VERIFICATION_FAILED)
    if lock is not None:
        audit(account_id, call, EventType.PORTAL_LOCKED, until=lock.isoformat())
        count(names.METRIC_PORTAL_LOCKOUTS)
        raise _lock_error(lock, call)
    raise PortalError(401, "verification_failed", _FAILED, attempts_left=portal.attempts_left(failures))


def unsubscribe(token: str, channel: Channel, call: Call, runtime: Runtime) -> dict[str, Any]:
    """RFC 8058 one-click: the link token from the message opts the channel out, even after it expired."""
    key = runtime.link_key()
    try:  # genuine but expired: still honour the opt-out (1006.6(e))
        claims = link_tokens.read_even_if_expired(token, key)
    except link_tokens.LinkError as exc:
        raise PortalError(400, "link_invalid", "This unsubscribe link is not valid.") from exc
    account = accounts.by_link_ref(claims.link_ref)
    if account is not None:

        def opt_out(before: Account) -> Account:
            blocked = before.blocked_channels
            return before.with_changes(blocked_channels={**blocked, channel: blocked.get(channel, Block.OPTED_OUT)})

        changed = update_account(account, call, runtime, opt_out)
        if changed.blocked_channels != account.blocked_channels:
            audit(account.account_id, call, EventType.PORTAL_UNSUBSCRIBED, channel=channel.value)
    return {"unsubscribed": channel.value}


# --- after verification ---------------------------------------------------------------------------


def authenticate(authorization: str | None, call: Call, runtime: Runtime) -> Verified:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise PortalError(401, "session_required", "Please confirm who you are first.")
    try:
        claims = sessions.read(token.strip(), call.now, runtime.link_key())
    except sessions.SessionError as exc:
        if exc.reason == "expired":
            raise PortalError(
                401, "session_expired", "Your session has ended. Please confirm who you are again."
            ) from exc
        raise PortalError(401, "session_invalid", "Please confirm who you are first.") from exc
    account = accounts.by_link_ref(claims.link_ref)
    if account is None:
        raise PortalError(401, "session_invalid", "Please confirm who you are first.")
    lender = lenders.get_or_default(account.lender_id)
    return Verified(account, lender, claims.language, local_date(call.now, account.debtor.timezone))


def update_account(account: Account, call: Call, runtime: Runtime, change: Callable[[Account], Account]) -> Account:
    """Apply `change` with the account's optimistic lock, re-reading on a conflict."""
    before = account
    for _ in range(_SAVE_ATTEMPTS):
        after = change(before)
        if accounts.save_state(before, after, call.now, runtime.due_shards):
            return after
        fresh = accounts.get(account.account_id)
        if fresh is None:
            raise PortalError(401, "session_invalid", "Please confirm who you are first.")
        before = fresh
    raise PortalError(409, "busy", "This account is being updated. Please try again in a moment.")


def _return_urls(runtime: Runtime) -> tuple[str, str]:
    base = runtime.portal_url.rstrip("/")
    return f"{base}/?checkout=success&session_id={{CHECKOUT_SESSION_ID}}", f"{base}/?checkout=cancel"


def _idempotency_key(*parts: object) -> str:
    return hashlib.sha256("|".join(str(part) for part in parts).encode()).hexdigest()[:40]


def pay(who: Verified, amount_minor: int | None, settlement: bool, call: Call, runtime: Runtime) -> dict[str, Any]:
    """A Checkout Session for the total, a partial amount, or an open settlement offer (metadata
    `purpose=settlement`: the webhook closes the account as settled once it is paid)."""
    account = who.account
    purpose = PURPOSE_PAYMENT
    if settlement:
        if amount_minor is not None:
            raise PortalError(422, "invalid_request", "Choose either an amount or the settlement offer.")
        portal.require_collectible(account)
        offered = portal_store.get(account.account_id).settlement_open(call.now)
        if offered is None or offered > account.balance.total.minor:
            raise PortalError(409, "no_settlement_offer", "There is no settlement offer open on this account.")
        amount, purpose = Money(offered, account.balance.currency), PURPOSE_SETTLEMENT
    else:
        amount = portal.payment_amount(account, who.lender, amount_minor)
    success_url, cancel_url = _return_urls(runtime)
    bucket = int(call.now.timestamp()) // CHECKOUT_BUCKET_SECONDS
    link = runtime.gateway().checkout_payment(
        account_id=account.account_id,
        lender_id=account.lender_id,
        amount=amount,
        description=f"{who.lender.creditor_name} {account.masked_ref}",
        success_url=success_url,
        cancel_url=cancel_url,
        idempotency_key=f"pay-{_idempotency_key(account.account_id, amount.minor, amount.currency, purpose, bucket)}",
        customer_email=account.debtor.email,
        locale=who.language,
        purpose=purpose,
    )
    partial = amount.minor < account.balance.total.minor
    count(names.METRIC_CHECKOUTS_STARTED)
    audit(
        account.account_id, call, EventType.PORTAL_CHECKOUT_STARTED,
        checkout_session_id=link.session_id, amount_minor=amount.minor, currency=amount.currency, partial=partial,
        purpose=purpose,
    )  # fmt: skip
    return {"checkout_url": link.url, "checkout_session_id": link.session_id}


def choose_plan(
    who: Verified, installments: int, start: date, call: Call, runtime: Runtime
) -> tuple[Plan, CheckoutLink]:
    account = who.account
    owed = portal.require_collectible(account)
    if account.plan is not None and account.plan.status is PlanStatus.CURRENT:
        raise PortalError(409, "plan_exists", "You already have a payment plan on this account.")
    today = who.today
    try:
        plan = plans.build(
            account_id=account.account_id, version=account.version, balance=owed, installments=installments,
            start=start, today=today, now=call.now, bounds=who.lender.plans,
        )  # fmt: skip
    except plans.PlanRejected as exc:
        raise PortalError(422, exc.code, str(exc)) from exc
    saved = update_account(account, call, runtime, lambda before: before.with_changes(plan=plan))
    success_url, cancel_url = _return_urls(runtime)
    link = runtime.gateway().checkout_setup(
        account_id=account.account_id,
        lender_id=account.lender_id,
        plan_id=plan.plan_id,
        success_url=success_url,
        cancel_url=cancel_url,
        idempotency_key=f"plan-{_idempotency_key(account.account_id, plan.plan_id)}",
        customer_email=account.debtor.email,
        locale=who.language,
    )
    count(names.METRIC_CHECKOUTS_STARTED)
    audit(
        account.account_id, call, EventType.PORTAL_PLAN_CHOSEN, plan_id=plan.plan_id, installments=installments,
        start_date=start.isoformat(), checkout_session_id=link.session_id,
    )  # fmt: skip
    assert saved.plan is not None
    return saved.plan, link


def make_promise(who: Verified, amount_minor: int, due: date, call: Call, runtime: Runtime) -> Promise:
    promise = portal.promise(who.account, who.lender, amount_minor, due, who.today, call.now)
    update_account(who.account, call, runtime, lambda before: before.with_changes(promise=promise))
    audit(
        who.account.account_id, call, EventType.PORTAL_PROMISE_MADE,
        amount_minor=promise.amount.minor, currency=promise.amount.currency, due=promise.due.isoformat(),
    )  # fmt: skip
    return promise


def open_dispute(who: Verified, reason: str, details: str, call: Call, runtime: Runtime) -> Dispute:
    account = who.account
    if account.dispute is not None and account.dispute.status is DisputeStatus.OPEN:
        accounts.set_flag(account.account_id, Flag.DISPUTE, True, call.now)  # a retry after a failed flag write
        return account.dispute  # already open: idempotent
    dispute = Dispute(opened_at=call.now, reason=reason)
    update_account(account, call, runtime, lambda before: before.with_changes(dispute=dispute))
    accounts.set_flag(account.account_id, Flag.DISPUTE, True, call.now)  # outreach pauses (FDCPA 809(b))
    # The debtor's own statement is what ops must read to verify the debt: kept on the account, sealed under the
    # debtor's key (erasure destroys it); the trail records a reference to it, never the text.
    statement = keep_text(account.account_id, "dispute_statement", details, call)
    audit(account.account_id, call, EventType.PORTAL_DISPUTE_OPENED, reason=reason, **statement)
    return dispute


TEXT_LIMIT = 2000


def keep_text(account_id: str, kind: str, text: str | None, call: Call) -> dict[str, Any]:
    """A debtor's free text kept sealed on the account; what the audit event may say about it instead."""
    text = (text or "")[:TEXT_LIMIT]
    if not text:
        return {}
    return accounts.add_debtor_text(account_id, kind, f"portal:{call.request_id}:{kind}", text, call.now)


def ask_hardship(
    who: Verified, affordable_minor: int, note: str | None, call: Call, runtime: Runtime
) -> hardship.HardshipAnswer:
    account = who.account
    owed = portal.require_collectible(account)
    answer = hardship.assess(
        balance=owed, affordable_monthly=Money(affordable_minor, owed.currency), today=who.today, now=call.now,
        plans=who.lender.plans, settlement=who.lender.settlement,
    )  # fmt: skip
    detail: dict[str, Any] = {"outcome": answer.outcome.value, "affordable_minor": affordable_minor}
    if answer.plan:
        detail["installments"] = answer.plan.installments
    if answer.settlement:
        detail |= {
            "settlement_minor": answer.settlement.amount.minor,
            "settlement_expires_at": answer.settlement.expires_at.isoformat(),
        }
    if answer.settlement:
        portal_store.offer_settlement(account.account_id, answer.settlement.amount.minor, answer.settlement.expires_at)
    if answer.outcome is hardship.Outcome.REFERRAL:
        update_account(account, call, runtime, lambda before: before.with_changes(hardship_requested_at=call.now))
        detail |= keep_text(account.account_id, "hardship_note", note, call)
    audit(account.account_id, call, EventType.PORTAL_HARDSHIP, **detail)
    return answer


def set_preferences(
    who: Verified,
    *,
    preferred_channel: Channel | None,
    language: str | None,
    preferred_time: str | None,
    opt_out: list[Channel] | None,
    call: Call,
    runtime: Runtime,
) -> tuple[Account, portal_store.PortalState]:
    account = who.account

    def change(before: Account) -> Account:
        updated = before
        if preferred_channel is not None:
            updated = updated.with_changes(preferred_channel=preferred_channel)
        if opt_out is not None:
            updated = updated.with_changes(blocked_channels=portal.with_opt_outs(updated, frozenset(opt_out)))
        return updated

    saved = update_account(account, call, runtime, change)
    portal_store.set_preferences(account.account_id, language, preferred_time)
    audit(
        account.account_id, call, EventType.PORTAL_PREFERENCES_CHANGED,
        preferred_channel=preferred_channel.value if preferred_channel else None, language=language,
        preferred_time=preferred_time,
        opt_out=sorted(channel.value for channel in opt_out) if opt_out is not None else None,
    )  # fmt: skip
    return saved, portal_store.get(account.account_id)


def _count_visit(account: Account, now: datetime, link_channel: str | None) -> None:
    """A visit past the identity check is an engagement signal (the send-time histograms, every channel
    answered, the propensity's portal visits). A visit by a text's link is also that text's click
    (`sms:clicked`, as SES counts an email's): channels are compared on the links debtors follow
    (core.channels). Best effort: a lost count never fails the debtor's visit."""
    with contextlib.suppress(StoreError):
        learning.record_engagement(account, Signal.PORTAL_VISIT, None, now)
        if link_channel == Channel.SMS.value:
            learning.record_engagement(account, Signal.CLICKED, Channel.SMS, now)
