"""Ops: the accounts that need a person (the work queue) and the actions an operator takes on them.

Pure. The queue is derived from an account's state and its audit trail: an open dispute, a "not mine"
claim, a hardship referral, a spam complaint, a broken plan, repeated verification lockouts, a
chargeback. Each item has the moment it arose, its age and an SLA deadline (`DEFAULT_SLAS`):

- a dispute or identity claim: 30 days. Collection of a disputed debt stops until verification is sent
  (FDCPA 809(b), Reg F 1006.38); the 30 days follow the validation period (1006.34(b)(5)) as common
  practice, not a statutory deadline;
- a complaint: 15 days, the CFPB complaint process's expected company response time;
- everything else (hardship referral, broken plan, lockouts, chargeback): 5 business days (an internal
  target; Stripe's own chargeback response window is longer).

An action is a function Account -> `Outcome`: the account's new state (what `store.accounts.save_state`
writes), the flags to set or clear, a conversation to record, a settlement to offer, and the audit
detail. Each needs the operator's identity and a reason; bad input raises `OpsError` with a stable
code. The queue item an action handles is named in its detail (`resolves`): the trail then shows the
item as handled (`queue_items` skips items handled after they arose).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from functions.core.account import (
    Account,
    AccountStatus,
    Balance,
    Block,
    Channel,
    Contact,
    ContactKind,
    DisputeStatus,
    Flag,
    InstallmentStatus,
    PlanStatus,
)
from functions.core.audit import AuditEvent, EventType
from functions.core.clock import ensure_utc, iso_utc
from functions.core.compliance import standing_of
from functions.core.hardship import settlement_amount
from functions.core.lender import SettlementBounds
from functions.core.money import Money

MAX_REASON_CHARS = 500
MAX_REF_CHARS = 120
CONVERSATION_LOOKBACK = timedelta(days=30)  # a conversation is recorded within a month of taking place
MAX_SETTLEMENT_DAYS = 90
LOCKOUTS_FOR_REVIEW = 2  # the second lockout since the last successful verification asks for a person
NOT_MINE = "not_mine"  # the portal's dispute reason for "this is not my debt" (an identity claim)


class OpsError(ValueError):
    """An action or query the input does not allow: a stable `code` and plain words."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- the work queue -------------------------------------------------------------------------------


class QueueReason(StrEnum):
    DISPUTE = "dispute"  # awaiting verification: FDCPA 809(b), 1006.38
    IDENTITY_CLAIM = "identity_claim"  # "not my debt": possible identity theft, 1006.30(b)
    HARDSHIP = "hardship"  # the portal's hardship check found nothing within the lender's bounds
    COMPLAINT = "complaint"  # an email marked as spam
    BROKEN_PLAN = "broken_plan"
    LOCKOUTS = "lockouts"  # repeated verification lockouts on the pay link
    CHARGEBACK = "chargeback"  # a card payment disputed with the bank


@dataclass(frozen=True, slots=True)
class Sla:
    days: int
    business_days: bool = False

    def deadline(self, since: datetime) -> datetime:
        """`since` plus the SLA: calendar days, or weekdays (Monday to Friday, no holiday calendar)."""
        since = ensure_utc(since)
        if not self.business_days:
            return since + timedelta(days=self.days)
        moment, left = since, self.days
        while left:
            moment += timedelta(days=1)
            if moment.weekday() < 5:
                left -= 1
        return moment


DEFAULT_SLAS: dict[QueueReason, Sla] = {
    QueueReason.DISPUTE: Sla(30),
    QueueReason.IDENTITY_CLAIM: Sla(30),
    QueueReason.COMPLAINT: Sla(15),
    QueueReason.HARDSHIP: Sla(5, business_days=True),
    QueueReason.BROKEN_PLAN: Sla(5, business_days=True),
    QueueReason.LOCKOUTS: Sla(5, business_days=True),
    QueueReason.CHARGEBACK: Sla(5, business_days=True),
}


@dataclass(frozen=True, slots=True)
class QueueItem:
    account_id: str
    lender_id: str
    reason: QueueReason
    since: datetime
    due_by: datetime
    note: str = ""

    def age(self, now: datetime) -> timedelta:
        return ensure_utc(now) - self.since

    def overdue(self, now: datetime) -> bool:
        return ensure_utc(now) > self.due_by


def needs_trail(account: Account, lockouts_seen: bool = False) -> bool:
    """Whether the account may be in the queue (its trail is then read); most accounts are not.

    `lockouts_seen`: the portal's state records a lockout since the last successful verification."""
    if account.status is not AccountStatus.ACTIVE:
        return False
    return bool(
        (account.dispute is not None and account.dispute.status is DisputeStatus.OPEN)
        or Flag.DISPUTE in account.flags
        or account.hardship_requested_at is not None
        or Block.COMPLAINED in account.blocked_channels.values()
        or (account.plan is not None and account.plan.status is PlanStatus.BROKEN)
        or lockouts_seen
    )


def _handled_since(trail: list[AuditEvent], reason: QueueReason, since: datetime) -> bool:
    return any(
        e.type is EventType.OPS_ACTION and e.at >= since and reason.value in (e.detail.get("resolves") or ())
        for e in trail
    )


def _latest(trail: list[AuditEvent], kind: EventType) -> AuditEvent | None:
    found = [e for e in trail if e.type is kind]
    return found[-1] if found else None


def queue_items(
    account: Account, trail: list[AuditEvent], slas: dict[QueueReason, Sla] | None = None
) -> list[QueueItem]:
    """Why this account needs a person, each reason with when it arose and its SLA deadline."""
    if account.status is not AccountStatus.ACTIVE:
        return []
    slas = slas or DEFAULT_SLAS
    found: list[tuple[QueueReason, datetime, str]] = []
    dispute = account.dispute
    if dispute is not None and dispute.status is DisputeStatus.OPEN:
        reason = QueueReason.IDENTITY_CLAIM if dispute.reason == NOT_MINE else QueueReason.DISPUTE
        found.append((reason, dispute.opened_at, f"debtor's reason: {dispute.reason}"))
    elif Flag.DISPUTE in account.flags:
        chargeback = _latest(trail, EventType.PAYMENT_DISPUTED)
        if chargeback is not None:  # else the lender's own flag: the lender verifies its disputes
            found.append((QueueReason.CHARGEBACK, chargeback.at, f"bank's reason: {chargeback.detail.get('reason')}"))
    if account.hardship_requested_at is not None:
        found.append((QueueReason.HARDSHIP, account.hardship_requested_at, "no plan or settlement within the bounds"))
    if Block.COMPLAINED in account.blocked_channels.values():
        complaint = _latest(trail, EventType.EMAIL_COMPLAINED)
        since = complaint.at if complaint else account.last_contact_at
        if since is not None:
            found.append((QueueReason.COMPLAINT, since, "an email was marked as spam"))
    plan = account.plan
    if plan is not None and plan.status is PlanStatus.BROKEN:
        missed = [i for i in plan.installments if i.status in (InstallmentStatus.MISSED, InstallmentStatus.FAILED)]
        since = _start_of(missed[0].due) if missed else plan.created_at
        found.append((QueueReason.BROKEN_PLAN, since, f"plan {plan.plan_id}"))
    lockouts = _lockouts(trail)
    if lockouts is not None:
        found.append(lockouts)
    items = []
    for reason, since, note in found:
        since = ensure_utc(since)
        if _handled_since(trail, reason, since):
            continue
        items.append(
            QueueItem(account.account_id, account.lender_id, reason, since, slas[reason].deadline(since), note)
        )
    return items


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _lockouts(trail: list[AuditEvent]) -> tuple[QueueReason, datetime, str] | None:
    """The LOCKOUTS_FOR_REVIEW-th lockout since the last successful verification, if there was one."""
    run: list[AuditEvent] = []
    for event in trail:
        if event.type is EventType.PORTAL_VERIFIED:
            run = []
        elif event.type is EventType.PORTAL_LOCKED:
            run.append(event)
    if len(run) < LOCKOUTS_FOR_REVIEW:
        return None
    return QueueReason.LOCKOUTS, run[LOCKOUTS_FOR_REVIEW - 1].at, f"{len(run)} lockouts since the last verification"


def work_queue(items: Iterable[QueueItem], reason: QueueReason | None = None) -> list[QueueItem]:
    """The queue, oldest first (optionally one reason only)."""
    return sorted(
        (item for item in items if reason is None or item.reason is reason),
        key=lambda item: (item.since, item.account_id, item.reason.value),
    )


# --- the timeline ---------------------------------------------------------------------------------

# Left out of the one-line view: the debtor's own words (read in the trail itself) and long provider ids.
_HIDDEN_DETAIL = {"statement", "note", "content_hash", "message_id"}


def describe(event: AuditEvent) -> str:
    """One readable line for an audit event: when, what, who, and its codes."""
    what = event.type.value.replace("_", " ")
    detail = dict(event.detail)
    if event.type is EventType.OPS_ACTION:
        what = f"ops: {str(detail.pop('action', 'action')).replace('_', ' ')}"
    parts = [f"{key}={_short(value)}" for key, value in sorted(detail.items()) if value not in (None, "", [], {})]
    parts = [part for part in parts if part.split("=", 1)[0] not in _HIDDEN_DETAIL]
    text = f"{iso_utc(ensure_utc(event.at))}  #{event.seq}  {what}  by {event.actor}"
    return f"{text}: {', '.join(parts)}" if parts else text


def _short(value: Any) -> str:
    text = ",".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --- actions --------------------------------------------------------------------------------------


class Action(StrEnum):
    RESOLVE_DISPUTE = "resolve_dispute"
    RECORD_CONVERSATION = "record_conversation"
    RECORD_NOTICE = "record_notice"
    ADJUST_BALANCE = "adjust_balance"
    RECALL = "recall"
    CLOSE = "close"
    APPROVE_SETTLEMENT = "approve_settlement"
    RESEND_VALIDATION_NOTICE = "resend_validation_notice"
    MARK_HANDLED = "mark_handled"


class Notice(StrEnum):
    """Written notices that end outreach; each sets the account's flag of the same name."""

    CEASE_COMMUNICATION = "cease_communication"  # FDCPA 805(c), 1006.6(c)
    ATTORNEY = "attorney"  # 1006.6(b)(2)
    BANKRUPTCY = "bankruptcy"  # 1006.30(b), 11 USC 362/524
    DECEASED = "deceased"  # 1006.6(a): only the estate's representative


class AdjustmentCode(StrEnum):
    DISPUTE_UPHELD = "dispute_upheld"
    FEE_WAIVER = "fee_waiver"
    INTEREST_WAIVER = "interest_waiver"
    GOODWILL = "goodwill"
    PAYMENT_NOT_RECORDED = "payment_not_recorded"  # paid to the lender directly
    LENDER_CORRECTION = "lender_correction"  # the only code that may raise a balance


class CloseCode(StrEnum):
    DISPUTE_UPHELD = "dispute_upheld"
    IDENTITY_THEFT = "identity_theft"
    PAID_TO_LENDER = "paid_to_lender"
    SETTLED_OFFLINE = "settled_offline"
    UNCOLLECTIBLE = "uncollectible"
    DECEASED = "deceased"
    BANKRUPTCY = "bankruptcy"
    OTHER = "other"


class Component(StrEnum):
    PRINCIPAL = "principal"
    INTEREST = "interest"
    FEES = "fees"


class Medium(StrEnum):
    """How a conversation took place (the audit keeps it; the account's contact history knows email and SMS
    only, and the pause after a conversation applies to every channel whatever it was recorded under)."""

    PHONE = "phone"
    EMAIL = "email"
    SMS = "sms"
    LETTER = "letter"
    IN_PERSON = "in_person"


@dataclass(frozen=True, slots=True)
class Context:
    """Who acts, why, when, and the lender's facts an action needs."""

    operator: str  # the caller's identity (an IAM principal ARN, or the local operator's name)
    reason: str
    now: datetime
    third_party: bool = False
    settlement: SettlementBounds = field(default_factory=SettlementBounds)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an action changes: the state to save, flags, a conversation, a settlement offer, the audit detail."""

    account: Account
    detail: dict[str, Any]
    flags_on: frozenset[Flag] = frozenset()
    flags_off: frozenset[Flag] = frozenset()
    conversation: Contact | None = None
    settlement: tuple[int, datetime] | None = None  # amount in minor units, open until

    def applied_flags(self) -> Account:
        """The account as it is once the flags are written too (what the decision engine will see next)."""
        flags = (self.account.flags | self.flags_on) - self.flags_off
        contacts = self.account.recent_contacts + ((self.conversation,) if self.conversation else ())
        return self.account.with_changes(flags=flags, recent_contacts=contacts)


def _check_context(ctx: Context) -> None:
    if not ctx.operator.strip():
        raise OpsError("operator_required", "The operator's identity is required.")
    if not ctx.reason.strip():
        raise OpsError("reason_required", "Say why (a reason is required for every action).")
    if len(ctx.reason) > MAX_REASON_CHARS:
        raise OpsError("reason_too_long", f"The reason is longer than {MAX_REASON_CHARS} characters.")


def _require_active(account: Account) -> None:
    if account.status is not AccountStatus.ACTIVE:
        raise OpsError("account_not_active", f"The account is {account.status.value}.")


def _outcome(ctx: Context, action: Action, resolves: Iterable[QueueReason] = (), **detail: Any) -> dict[str, Any]:
    codes = {"action": action.value, "reason": ctx.reason.strip(), "resolves": sorted(r.value for r in resolves)}
    return codes | {key: value for key, value in detail.items() if value is not None}


def _owed(balance: Balance) -> int:
    return balance.principal.minor + balance.interest.minor + balance.fees.minor


def _adjusted(balance: Balance, component: Component, delta_minor: int) -> Balance:
    current = getattr(balance, component.value)
    if current.minor + delta_minor < 0:
        raise OpsError("adjustment_too_large", f"The {component.value} is {current.minor}; it cannot go below zero.")
    return replace(balance, **{component.value: Money(current.minor + delta_minor, current.currency)})


def _after_balance_change(account: Account) -> Account:
    """Nothing left owed closes the account; otherwise the scheduler looks at it again now."""
    if _owed(account.balance) <= 0:
        return account.with_changes(status=AccountStatus.CLOSED, next_contact_at=None)
    return account


def resolve_dispute(
    account: Account,
    ctx: Context,
    *,
    outcome: str,
    verification_ref: str | None = None,
    send_by: str = "email",
    close: bool = False,
    amount_minor: int | None = None,
    component: Component = Component.PRINCIPAL,
) -> Outcome:
    """An open dispute (or a chargeback's dispute flag) resolved.

    verified: the debt is verified. By default cleardue sends the verification (FDCPA 809(b)): the dispute
    stays paused (VERIFYING) until the sender has emailed it, first, before any other message; then outreach
    resumes. `send_by="letter"`: the operator mailed it (`verification_ref` names the letter): outreach
    resumes now. A debtor without a usable email address gets a letter. A chargeback's dispute flag (no
    dispute opened by the debtor) is cleared and outreach resumes.
    upheld: the debtor was right: either the balance is lowered by `amount_minor` (reason code dispute_upheld;
    outreach resumes for what is still owed) or the account is closed (`close`); an upheld "not mine" claim
    also flags the account as fraud (1006.30(b))."""
    _check_context(ctx)
    _require_active(account)
    dispute = account.dispute
    open_dispute = dispute is not None and dispute.status is DisputeStatus.OPEN
    if not open_dispute and Flag.DISPUTE not in account.flags:
        raise OpsError("no_open_dispute", "The account has no open dispute.")
    resolves = (QueueReason.DISPUTE, QueueReason.IDENTITY_CLAIM, QueueReason.CHARGEBACK)
    flags_on: frozenset[Flag] = frozenset()
    if outcome == "verified":
        if close or amount_minor is not None:
            raise OpsError("invalid_resolution", "A verified dispute neither closes nor adjusts the account.")
        _check_ref(verification_ref)
        status = DisputeStatus.VERIFIED
        if send_by not in ("email", "letter"):
            raise OpsError("invalid_resolution", "send_by is 'email' (cleardue sends it) or 'letter'.")
        if open_dispute and send_by == "letter" and not (verification_ref or "").strip():
            raise OpsError("verification_ref_required", "Name the letter sent to the debtor (verification_ref).")
        if open_dispute and send_by == "email":
            _require_email(account)
            status = DisputeStatus.VERIFYING
        updated = account.with_changes(next_contact_at=ctx.now)
    elif outcome == "upheld":
        if close == (amount_minor is not None):
            raise OpsError(
                "invalid_resolution", "An upheld dispute either closes the account or adjusts it (amount_minor)."
            )
        status = DisputeStatus.UPHELD
        if close:
            updated = account.with_changes(status=AccountStatus.CLOSED, next_contact_at=None)
            if open_dispute and dispute is not None and dispute.reason == NOT_MINE:
                flags_on = frozenset({Flag.FRAUD})
        else:
            assert amount_minor is not None
            if amount_minor <= 0:
                raise OpsError("invalid_amount", "amount_minor is the positive amount the balance goes down by.")
            balance = _adjusted(account.balance, component, -amount_minor)
            updated = _after_balance_change(account.with_changes(balance=balance, next_contact_at=ctx.now))
    else:
        raise OpsError("invalid_resolution", "outcome is 'verified' or 'upheld'.")
    if open_dispute and dispute is not None:
        updated = updated.with_changes(dispute=replace(dispute, status=status, verification_ref=verification_ref))
    detail = _outcome(
        ctx, Action.RESOLVE_DISPUTE, resolves,
        outcome=outcome, verification_ref=verification_ref, closed=close or None,
        send_by=send_by if outcome == "verified" and open_dispute else None,
        amount_minor=amount_minor, component=component.value if amount_minor is not None else None,
        adjust_code=AdjustmentCode.DISPUTE_UPHELD.value if amount_minor is not None else None,
        chargeback=None if open_dispute else True,
    )  # fmt: skip
    return Outcome(updated, detail, flags_on=flags_on, flags_off=frozenset({Flag.DISPUTE}))


def _require_email(account: Account) -> None:
    """The verification goes by email only to an address the debtor can be written to (not opted out,
    bounced or work-provided); otherwise the operator mails a letter."""
    standing = standing_of(account)
    usable = (
        account.debtor.email
        and Channel.EMAIL not in standing.opted_out
        and not standing.email_bounced
        and not standing.email_employer_provided
    )
    if not usable:
        raise OpsError(
            "no_email_for_verification",
            "The debtor has no email address the verification can go to: mail it and resolve with "
            "send_by=letter and the letter's verification_ref.",
        )


def _check_ref(ref: str | None) -> None:
    if ref is not None and len(ref) > MAX_REF_CHARS:
        raise OpsError("reference_too_long", f"A reference is at most {MAX_REF_CHARS} characters.")


def record_conversation(
    account: Account,
    ctx: Context,
    *,
    medium: Medium = Medium.PHONE,
    at: datetime | None = None,
    resolves: Iterable[QueueReason] = (),
) -> Outcome:
    """The debtor was reached and talked with us: the conversation pause (1006.14(b)(2)(ii)) starts at `at`.

    `resolves` names the queue items the conversation handled (a hardship referral is then cleared)."""
    _check_context(ctx)
    moment = ensure_utc(at or ctx.now)
    if moment > ctx.now:
        raise OpsError("invalid_time", "A conversation cannot be recorded in the future.")
    if moment < ctx.now - CONVERSATION_LOOKBACK:
        raise OpsError("invalid_time", "A conversation is recorded within 30 days of taking place.")
    handled = tuple(dict.fromkeys(resolves))
    updated = account
    if QueueReason.HARDSHIP in handled:
        updated = updated.with_changes(hardship_requested_at=None)
    channel = Channel.SMS if medium is Medium.SMS else Channel.EMAIL
    detail = _outcome(ctx, Action.RECORD_CONVERSATION, handled, medium=medium.value, at=iso_utc(moment))
    return Outcome(updated, detail, conversation=Contact(moment, channel, ContactKind.CONVERSATION))


def record_notice(
    account: Account, ctx: Context, *, notice: Notice, received_on: date | None = None, reference: str | None = None
) -> Outcome:
    """A cease-communication, attorney, bankruptcy or deceased notice: its flag stops outreach (the account
    leaves the schedule; charges of a plan stop with it, as they need a collectible account)."""
    _check_context(ctx)
    _check_ref(reference)
    if received_on is not None and received_on > ensure_utc(ctx.now).date():
        raise OpsError("invalid_date", "received_on cannot be in the future.")
    detail = _outcome(
        ctx, Action.RECORD_NOTICE, (),
        notice=notice.value, received_on=received_on.isoformat() if received_on else None, reference=reference,
    )  # fmt: skip
    return Outcome(account.with_changes(next_contact_at=None), detail, flags_on=frozenset({Flag(notice.value)}))


def adjust_balance(
    account: Account,
    ctx: Context,
    *,
    delta_minor: int,
    code: AdjustmentCode,
    component: Component = Component.PRINCIPAL,
) -> Outcome:
    """Move one balance component by `delta_minor` (negative lowers it). Only a lender correction may raise
    a balance (never collect an amount the agreement does not authorise: FDCPA 808(1)). Nothing left owed
    closes the account."""
    _check_context(ctx)
    _require_active(account)
    if delta_minor == 0:
        raise OpsError("invalid_amount", "delta_minor must not be zero.")
    if delta_minor > 0 and code is not AdjustmentCode.LENDER_CORRECTION:
        raise OpsError("increase_not_allowed", "Only a lender_correction may raise a balance.")
    updated = _after_balance_change(account.with_changes(balance=_adjusted(account.balance, component, delta_minor)))
    detail = _outcome(
        ctx, Action.ADJUST_BALANCE, (),
        delta_minor=delta_minor, currency=account.balance.currency, component=component.value, code=code.value,
        owed_before=_owed(account.balance), owed_after=_owed(updated.balance),
    )  # fmt: skip
    return Outcome(updated, detail)


_EVERY_REASON = tuple(QueueReason)


def recall(account: Account, ctx: Context) -> Outcome:
    """The lender withdraws the account: outreach and charges stop for good."""
    _check_context(ctx)
    _require_active(account)
    detail = _outcome(ctx, Action.RECALL, _EVERY_REASON)
    return Outcome(account.with_changes(status=AccountStatus.RECALLED, next_contact_at=None), detail)


def close(account: Account, ctx: Context, *, code: CloseCode) -> Outcome:
    """Close the account for a reason code: outreach and charges stop for good."""
    _check_context(ctx)
    _require_active(account)
    detail = _outcome(ctx, Action.CLOSE, _EVERY_REASON, code=code.value)
    return Outcome(account.with_changes(status=AccountStatus.CLOSED, next_contact_at=None), detail)


def approve_settlement(account: Account, ctx: Context, *, amount_minor: int, days: int) -> Outcome:
    """Offer the debtor a settlement a person approved, possibly outside the lender's automatic bounds: the
    portal offers it (pay `amount_minor` within `days` and the account is settled). Handles a hardship referral."""
    _check_context(ctx)
    _require_active(account)
    owed = _owed(account.balance)
    if owed <= 0:
        raise OpsError("nothing_owed", "Nothing is owed on the account.")
    if not 0 < amount_minor < owed:
        raise OpsError("invalid_amount", f"A settlement is more than 0 and less than the balance ({owed}).")
    if not 1 <= days <= MAX_SETTLEMENT_DAYS:
        raise OpsError("invalid_days", f"A settlement stays open 1 to {MAX_SETTLEMENT_DAYS} days.")
    floor = settlement_amount(Money(owed, account.balance.currency), ctx.settlement.min_percent).minor
    within = ctx.settlement.enabled and amount_minor >= floor
    expires_at = ensure_utc(ctx.now) + timedelta(days=days)
    detail = _outcome(
        ctx, Action.APPROVE_SETTLEMENT, (QueueReason.HARDSHIP,),
        amount_minor=amount_minor, currency=account.balance.currency, percent=amount_minor * 100 // owed,
        expires_at=iso_utc(expires_at), within_automatic_bounds=within,
    )  # fmt: skip
    return Outcome(account.with_changes(hardship_requested_at=None), detail, settlement=(amount_minor, expires_at))


def resend_validation_notice(account: Account, ctx: Context) -> Outcome:
    """Third-party regime: the validation notice (1006.34) goes out again, first, on the next scheduler tick."""
    _check_context(ctx)
    _require_active(account)
    if not ctx.third_party:
        raise OpsError("not_third_party", "The lender is a first-party creditor: it sends no validation notice.")
    previous = account.validation_notice_at
    detail = _outcome(
        ctx, Action.RESEND_VALIDATION_NOTICE, (), previously_sent_at=iso_utc(previous) if previous else None
    )
    return Outcome(account.with_changes(validation_notice_at=None, next_contact_at=ctx.now), detail)


def mark_handled(account: Account, ctx: Context, *, resolves: Iterable[QueueReason]) -> Outcome:
    """Queue items reviewed with nothing else to change (a complaint answered, a lockout looked into)."""
    _check_context(ctx)
    handled = tuple(dict.fromkeys(resolves))
    if not handled:
        raise OpsError("resolves_required", "Name the queue reasons handled (resolves).")
    updated = account.with_changes(hardship_requested_at=None) if QueueReason.HARDSHIP in handled else account
    return Outcome(updated, _outcome(ctx, Action.MARK_HANDLED, handled))


ACTIONS: dict[Action, Callable[..., Outcome]] = {
    Action.RESOLVE_DISPUTE: resolve_dispute,
    Action.RECORD_CONVERSATION: record_conversation,
    Action.RECORD_NOTICE: record_notice,
    Action.ADJUST_BALANCE: adjust_balance,
    Action.RECALL: recall,
    Action.CLOSE: close,
    Action.APPROVE_SETTLEMENT: approve_settlement,
    Action.RESEND_VALIDATION_NOTICE: resend_validation_notice,
    Action.MARK_HANDLED: mark_handled,
}


def apply(account: Account, action: Action, ctx: Context, **params: Any) -> Outcome:
    """Run one action on the account (params as each action names them)."""
    return ACTIONS[action](account, ctx, **params)
