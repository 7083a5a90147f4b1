"""Erasing a debtor (GDPR Art. 17) without breaking the audit chain: the flow the ops API, the CLI and the
scheduler share.

A request stops all contact at once and is recorded (`erasure_requested`, with the date it will be carried
out); when Reg F 1006.100 keeps the records (core.erasure), the erasure waits for that date in the sparse
`erasure_due` index and the scheduler carries it out. Carrying it out destroys the debtor's data key
(crypto-shredding), removes contact data, blind indexes, identity hashes and free text, and appends
`account_erased`. The trail is never rewritten: its events hold references and codes, never PII, so the
chain still verifies and the non-personal skeleton of what happened stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from functions.core import erasure
from functions.core.audit import AuditEvent, EventType
from functions.core.clock import iso_utc
from functions.core.redact import redact_text
from functions.store import StoreError, accounts, events

REASON_LIMIT = 300


class UnknownAccount(StoreError):
    """No account with this id."""


@dataclass(frozen=True, slots=True)
class ErasureOutcome:
    account_id: str
    status: str  # erased | deferred | already_erased
    due_at: datetime  # when the erasure was (or will be) carried out
    requested_at: datetime
    basis: str
    last_collection_activity: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "account_id": self.account_id,
            "status": self.status,
            "erasure_due_at": iso_utc(self.due_at),
            "requested_at": iso_utc(self.requested_at),
            "basis": self.basis,
            "last_collection_activity": iso_utc(self.last_collection_activity)
            if self.last_collection_activity
            else None,
        }


def request(account_id: str, actor: str, reason: str, now: datetime) -> ErasureOutcome:
    """Record an erasure request by `actor` (the operator's identity): stop contact now; erase now, or on the
    date retention ends (deferred). The reason is the operator's; emails and phone numbers in it are masked."""
    state = accounts.erasure_state(account_id)
    account = accounts.get(account_id)
    if state is None or account is None:
        raise UnknownAccount(f"no account {account_id}")
    if state.erased_at is not None:
        requested = state.requested_at or state.erased_at
        return ErasureOutcome(account_id, "already_erased", state.erased_at, requested, "erased already")
    decision = erasure.decide(account, now)
    if not accounts.request_erasure(account_id, now, decision.due_at):
        raise StoreError(f"recording the erasure of {account_id} failed: the account changed")
    events.append(
        AuditEvent(
            account_id,
            now,
            EventType.ERASURE_REQUESTED,
            f"erasure-request:{iso_utc(now)}",
            actor,
            {
                "reason": redact_text(reason, dates=True)[:REASON_LIMIT],
                "erasure_due_at": iso_utc(decision.due_at),
                "deferred": decision.deferred,
                "basis": decision.basis,
            },
        )
    )
    if decision.deferred:
        return ErasureOutcome(account_id, "deferred", decision.due_at, now, decision.basis, decision.last_activity)
    execute(account_id, now, actor)
    return ErasureOutcome(account_id, "erased", now, now, decision.basis, decision.last_activity)


def execute(account_id: str, now: datetime, actor: str) -> bool:
    """Carry out an erasure (idempotent: the event lands once even if an earlier try stopped after the erase).
    Returns True if this call erased the account."""
    erased = accounts.erase(account_id, now)
    state = accounts.erasure_state(account_id)
    if state is None or state.erased_at is None:
        return False
    events.append(
        AuditEvent(
            account_id,
            state.erased_at,
            EventType.ACCOUNT_ERASED,
            "erasure",
            actor,
            {"removed": list(accounts.ERASED_ATTRIBUTES), "data_key": "destroyed"},
        )
    )
    return erased


def run_due(now: datetime, actor: str = "scheduler") -> list[str]:
    """Carry out every deferred erasure whose date has come; returns the accounts erased."""
    return [account_id for account_id in accounts.due_erasures(now) if execute(account_id, now, actor)]
