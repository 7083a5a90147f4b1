"""Ops' use cases: the work queue, an account's state, timeline and current decision, and the actions.

Rules live in functions.core.ops; this module reads and writes the store, scopes every read to the
caller's lenders, audits each action with the operator's identity and reason, and says what the
decision engine will do next."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functions.api_errors import ApiError
from functions.core import ops
from functions.core.account import Account
from functions.core.audit import AuditEvent, EventType
from functions.core.clock import iso_utc
from functions.core.compliance import gate_policy
from functions.core.decision import decide
from functions.store import accounts, erasure, events, lenders
from functions.store import ops as ops_store
from functions.store import portal as portal_store


class OpsServiceError(ApiError):
    """An answer of the ops API other than 200."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who calls: an identity for the audit, and the lenders it may see (None: every lender, the ops team)."""

    identity: str
    lenders: frozenset[str] | None = None

    def may_see(self, lender_id: str) -> bool:
        return self.lenders is None or lender_id in self.lenders


@dataclass(frozen=True, slots=True)
class Call:
    """One request: its time (requestContext.timeEpoch) and id."""

    now: datetime
    request_id: str


def _visible(account_id: str, who: Principal) -> Account:
    account = accounts.get(account_id)
    if account is None or not who.may_see(account.lender_id):  # another lender's account does not exist for you
        raise OpsServiceError(404, "account_not_found", f"No account {account_id!r}.")
    return account


def queue(lender_id: str, who: Principal, call: Call, reason: ops.QueueReason | None = None) -> dict[str, Any]:
    """The lender's accounts that need a person, oldest first, with age and SLA."""
    if not who.may_see(lender_id):
        raise OpsServiceError(403, "forbidden", f"You may not see lender {lender_id!r}.")
    items: list[ops.QueueItem] = []
    for account, locked in ops_store.lender_accounts(lender_id):
        if ops.needs_trail(account, lockouts_seen=locked):
            items += ops.queue_items(account, events.history(account.account_id))
    ordered = ops.work_queue(items, reason)
    return {"lender_id": lender_id, "as_of": iso_utc(call.now), "items": [_item(i, call.now) for i in ordered]}


def _item(item: ops.QueueItem, now: datetime) -> dict[str, Any]:
    age = item.age(now)
    return {
        "account_id": item.account_id,
        "reason": item.reason.value,
        "since": iso_utc(item.since),
        "age_days": age.days,
        "age_hours": int(age.total_seconds() // 3600),
        "due_by": iso_utc(item.due_by),
        "overdue": item.overdue(now),
        "note": item.note,
    }


def show(account_id: str, who: Principal, call: Call) -> dict[str, Any]:
    """The account's state, its timeline (every audit event, one line each), its open queue items and why it
    is, or is not, being contacted (the decision engine's answer at this moment)."""
    account = _visible(account_id, who)
    trail = events.history(account_id)
    return {
        "account": state_view(account),
        "queue": [_item(i, call.now) for i in ops.work_queue(ops.queue_items(account, trail))],
        "decision": decision_view(account, call.now),
        "timeline": [ops.describe(event) for event in trail],
        # The debtor's own words (a dispute statement, a hardship note): kept sealed on the account, never in
        # the trail (whose events reference them by `text_ref`); unreadable once the account is erased.
        "debtor_texts": [
            {"ref": text.ref, "kind": text.kind, "at": iso_utc(text.at), "text": text.text}
            for text in accounts.debtor_texts(account_id)
        ],
        "erasure": _erasure_view(account_id),
    }


def _erasure_view(account_id: str) -> dict[str, Any] | None:
    state = accounts.erasure_state(account_id)
    if state is None or state.requested_at is None:
        return None
    return {
        "requested_at": _iso(state.requested_at),
        "erasure_due_at": _iso(state.due_at),
        "erased_at": _iso(state.erased_at),
    }


def erase(account_id: str, who: Principal, call: Call, reason: str) -> dict[str, Any]:
    """A debtor's erasure request (GDPR Art. 17): contact stops now; the data is destroyed now, or on the date
    Reg F 1006.100's retention ends (deferred, the date said, never refused). The chain is never rewritten."""
    _visible(account_id, who)
    try:
        outcome = erasure.request(account_id, who.identity, reason, call.now)
    except erasure.UnknownAccount as exc:
        raise OpsServiceError(404, "account_not_found", f"No account {account_id!r}.") from exc
    answer: dict[str, Any] = outcome.as_dict()
    answer["note"] = {
        "erased": "Erased: the debtor's data key is destroyed; the non-personal record of what happened stays.",
        "deferred": "Contact has stopped. The records must be kept until the date above (Reg F 1006.100); the "
        "erasure is carried out then, automatically.",
        "already_erased": "This account was erased already.",
    }[outcome.status]
    return answer


def state_view(account: Account) -> dict[str, Any]:
    """What ops needs to judge the account (no contact details: the actions never need them)."""
    balance = account.balance
    return {
        "account_id": account.account_id,
        "lender_id": account.lender_id,
        "ref": account.masked_ref,
        "status": account.status.value,
        "flags": sorted(flag.value for flag in account.flags),
        "currency": balance.currency,
        "principal_minor": balance.principal.minor,
        "interest_minor": balance.interest.minor,
        "fees_minor": balance.fees.minor,
        "owed_minor": balance.principal.minor + balance.interest.minor + balance.fees.minor,
        "due_date": account.due_date.isoformat(),
        "next_contact_at": _iso(account.next_contact_at),
        "last_contact_at": _iso(account.last_contact_at),
        "contacts_sent": account.contacts_sent,
        "blocked_channels": {channel.value: block.value for channel, block in account.blocked_channels.items()},
        "dispute": (
            {
                "status": account.dispute.status.value,
                "reason": account.dispute.reason,
                "opened_at": iso_utc(account.dispute.opened_at),
            }
            if account.dispute
            else None
        ),  # fmt: skip
        "hardship_requested_at": _iso(account.hardship_requested_at),
        "plan": {"plan_id": account.plan.plan_id, "status": account.plan.status.value} if account.plan else None,
        "promise": (
            {
                "status": account.promise.status.value,
                "due": account.promise.due.isoformat(),
                "amount_minor": account.promise.amount.minor,
            }
            if account.promise
            else None
        ),  # fmt: skip
        "validation_notice_at": _iso(account.validation_notice_at),
        "settlement_minor": account.settlement_minor,
        "settlement_expires_at": _iso(account.settlement_expires_at),
        "version": account.version,
    }


def _iso(moment: datetime | None) -> str | None:
    return iso_utc(moment) if moment else None


def decision_view(account: Account, now: datetime) -> dict[str, Any]:
    """What the scheduler would decide were the account due now: a message (which, by which channel) or
    why not, and when it looks again."""
    rules = lenders.get_or_default(account.lender_id).rules()
    plan = decide(account, now, rules, gate_policy(rules))
    job = plan.job
    return {
        "contact_now": {"template": job.template, "channel": job.channel.value} if job else None,
        "reason": plan.reason,
        "why": list(plan.why),
        "next_look_at": _iso(plan.next_contact_at),
    }


def act(
    account_id: str,
    who: Principal,
    call: Call,
    action: ops.Action,
    reason: str,
    params: dict[str, Any],
    *,
    shards: int,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """Apply one action under the account's version lock, audit it, and say what happens next.

    409 when the account changed since the operator read it (`expected_version`) or while this ran.
    The state is saved first (version-locked), then the flags, a conversation or a settlement offer,
    then the audit event: each write fails safe (a flag not yet cleared keeps outreach stopped; one not
    yet set leaves the account out of the schedule, as the saved state already took it out)."""
    before = _visible(account_id, who)
    if expected_version is not None and expected_version != before.version:
        raise OpsServiceError(
            409, "version_conflict", f"The account changed (version {before.version}, you saw {expected_version})."
        )
    lender = lenders.get_or_default(before.lender_id)
    ctx = ops.Context(
        operator=who.identity,
        reason=reason,
        now=call.now,
        third_party=lender.regime == "third_party",
        settlement=lender.settlement,
    )
    try:
        outcome = ops.apply(before, action, ctx, **params)
    except ops.OpsError as exc:
        raise OpsServiceError(422, exc.code, exc.message) from exc
    if not accounts.save_state(before, outcome.account, call.now, shards):
        raise OpsServiceError(409, "version_conflict", "The account changed while this ran: read it again.")
    for flag in sorted(outcome.flags_on):
        accounts.set_flag(account_id, flag, True, call.now)
    for flag in sorted(outcome.flags_off):
        accounts.set_flag(account_id, flag, False, call.now)
    if outcome.conversation is not None:
        ops_store.add_conversation(account_id, outcome.conversation, call.now)
    if outcome.settlement is not None:
        portal_store.offer_settlement(account_id, *outcome.settlement)
    recorded = events.append(
        AuditEvent(
            account_id=account_id,
            at=call.now,
            type=EventType.OPS_ACTION,
            event_id=f"ops:{call.request_id}",
            actor=who.identity,
            detail=outcome.detail,
        )
    )
    after = accounts.get(account_id)
    assert after is not None
    answer: dict[str, Any] = {
        "action": action.value,
        "event": ops.describe(recorded) if recorded else None,
        "account": state_view(after),
        "decision": decision_view(after, call.now),
    }
    kept = (
        sorted(flag.value for flag in outcome.flags_off & ops_store.lender_flags(account_id))
        if outcome.flags_off
        else []
    )
    if kept:  # said, not silently left: the lender's file owns these flags and keeps outreach stopped
        answer["lender_flags_kept"] = kept
        answer["note"] = (
            f"The lender's portfolio file sets {', '.join(kept)} on this account: cleardue cannot clear it. "
            "Outreach stays stopped until the lender's next upload drops the flag (tell the lender)."
        )
    return answer
