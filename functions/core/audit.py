"""The audit trail: append-only events, each sealed with the hash of the one before it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from functions.core.clock import ensure_utc, iso_utc

GENESIS_HASH = "0" * 64
EVENT_KEY_PREFIX = "e#"


class EventType(StrEnum):
    UPLOAD_COMPLETED = "upload_completed"
    UPLOAD_FAILED = "upload_failed"
    POLICY_UPDATED = "policy_updated"
    POLICY_REJECTED = "policy_rejected"
    REMINDER_SENT = "reminder_sent"
    REMINDER_SUPPRESSED = "reminder_suppressed"
    OUTREACH_STOPPED = "outreach_stopped"
    # Portal (functions/portal_api): every verification attempt and every debtor action.
    PORTAL_VERIFIED = "portal_verified"
    PORTAL_VERIFICATION_FAILED = "portal_verification_failed"
    PORTAL_LOCKED = "portal_locked"
    PORTAL_CHECKOUT_STARTED = "portal_checkout_started"
    PORTAL_PLAN_CHOSEN = "portal_plan_chosen"
    PORTAL_PROMISE_MADE = "portal_promise_made"
    PORTAL_DISPUTE_OPENED = "portal_dispute_opened"
    PORTAL_HARDSHIP = "portal_hardship"
    PORTAL_PREFERENCES_CHANGED = "portal_preferences_changed"
    PORTAL_UNSUBSCRIBED = "portal_unsubscribed"
    # Webhooks (functions/webhooks): payments, provider feedback and the SMS consent ledger.
    PAYMENT_APPLIED = "payment_applied"
    PAYMENT_REFUNDED = "payment_refunded"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_DISPUTED = "payment_disputed"  # a chargeback: the account is flagged for ops
    PLAN_CARD_SAVED = "plan_card_saved"
    WEBHOOK_REJECTED = "webhook_rejected"  # a Stripe delivery whose signature did not verify
    EMAIL_BOUNCED = "email_bounced"
    EMAIL_COMPLAINED = "email_complained"
    CONSENT_REVOKED = "consent_revoked"  # the consent ledger: STOP and its synonyms
    CONSENT_RESTORED = "consent_restored"  # START
    SMS_HELP_ANSWERED = "sms_help_answered"
    SMS_UNDELIVERABLE = "sms_undeliverable"  # the carrier refused a text for good (invalid, blocked, spam)
    # Charger (functions/charger): a plan installment charged off-session (the outcome arrives by webhook).
    INSTALLMENT_CHARGE_ATTEMPTED = "installment_charge_attempted"
    # Ops (functions/ops): an operator's action; detail["action"] names it (core.ops.Action), with the reason.
    OPS_ACTION = "ops_action"
    # Erasure (GDPR Art. 17, functions/store/erasure.py): requested (contact stops; maybe deferred for Reg F
    # 1006.100 retention, with the date), then executed (the debtor's data key destroyed). No PII in either.
    ERASURE_REQUESTED = "erasure_requested"
    ACCOUNT_ERASED = "account_erased"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One fact about an account. `detail` holds references and codes, never copied PII."""

    account_id: str
    at: datetime
    type: EventType
    event_id: str
    actor: str
    detail: dict[str, Any] = field(default_factory=dict)
    seq: int = 0  # position in the account's trail, from 1; assigned when appended
    prev_hash: str = GENESIS_HASH
    hash: str = ""

    @property
    def sort_key(self) -> str:
        """Trail order is append order (not event time: facts can arrive late or in the same second)."""
        return f"{EVENT_KEY_PREFIX}{self.seq:010d}"

    def content_hash(self, prev_hash: str) -> str:
        canonical = json.dumps(
            {
                "account_id": self.account_id,
                "at": iso_utc(ensure_utc(self.at)),
                "type": str(self.type),  # the value: StrEnum's str() (a tampered, unknown type hashes as stored)
                "event_id": self.event_id,
                "actor": self.actor,
                "detail": self.detail,
                "seq": self.seq,
                "prev_hash": prev_hash,
            },
            sort_keys=True,
            separators=(",", ":"),
            default=str,
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def sealed(self, seq: int, prev_hash: str) -> AuditEvent:
        """This event as number `seq` of its trail, chained after the event whose hash is `prev_hash`."""
        placed = replace(self, seq=seq, prev_hash=prev_hash)
        return replace(placed, hash=placed.content_hash(prev_hash))


def chain_breaks(events: list[AuditEvent]) -> list[str]:
    """Sort keys of the events (in trail order) whose position, link or content does not verify."""
    breaks = []
    prev = GENESIS_HASH
    for expected_seq, event in enumerate(events, start=1):
        if event.seq != expected_seq or event.prev_hash != prev or event.hash != event.content_hash(event.prev_hash):
            breaks.append(event.sort_key)
        prev = event.hash
    return breaks


class BreakKind(StrEnum):
    ALTERED = "altered"  # the stored content does not match the event's own hash
    MISSING = "missing"  # positions absent from the trail (a deleted event)
    REORDERED = "reordered"  # an event stored out of its position
    FORKED = "forked"  # two events claim the same position
    LINK = "link"  # prev_hash is not the hash of the event before: rewritten before it, or forged
    TRUNCATED = "truncated"  # the once-only markers record later events than the trail holds
    UNRECORDED = "unrecorded"  # an event whose once-only marker is absent or names another position


@dataclass(frozen=True, slots=True)
class Break:
    """One place where an account's trail does not verify."""

    account_id: str
    seq: int
    kind: BreakKind
    detail: str

    def __str__(self) -> str:
        return f"{self.account_id} seq {self.seq}: {self.kind.value}: {self.detail}"


def _short(digest: str) -> str:
    return digest[:12] or "(none)"


def verify_chain(
    events: list[AuditEvent], recorded: dict[str, int] | None = None, account_id: str | None = None
) -> list[Break]:
    """Every break in one account's trail, given in stored (sort key) order.

    Recomputes each event's hash from its content, checks that positions run 1, 2, 3, … in stored
    order without gaps or repeats, and that each event's `prev_hash` is the hash of the event before it
    (GENESIS_HASH for the first). `recorded` (event id -> position, from the once-only `id#` markers
    written in the same transaction as each event), when given, is checked against the trail: markers
    beyond the trail's last event mean its tail was deleted. `account_id` names the trail when it is empty.

    A chain alone cannot see a deleted tail (the remaining events still verify), nor a trail rewritten
    from the altered event to its head with every hash recomputed: see docs/security.md."""
    if not events and not recorded:
        return []
    account_id = account_id or (events[0].account_id if events else "")
    breaks: list[Break] = []
    by_seq: dict[int, AuditEvent] = {}
    highest = 0
    for event in events:
        if event.account_id != account_id:
            breaks.append(Break(account_id, event.seq, BreakKind.ALTERED, f"belongs to {event.account_id!r}"))
            continue
        try:
            computed = event.content_hash(event.prev_hash)
        except (TypeError, ValueError) as exc:  # e.g. a naive time: the content cannot even be hashed
            computed = f"unhashable ({exc})"
        if event.hash != computed:
            breaks.append(
                Break(
                    account_id,
                    event.seq,
                    BreakKind.ALTERED,
                    f"content does not match its hash (stored {_short(event.hash)}, computed {_short(computed)})",
                )
            )
        if event.seq in by_seq:
            breaks.append(Break(account_id, event.seq, BreakKind.FORKED, "another event holds this position"))
            continue
        if event.seq < highest:
            breaks.append(Break(account_id, event.seq, BreakKind.REORDERED, f"stored after position {highest}"))
        if event.seq < 1:
            breaks.append(Break(account_id, event.seq, BreakKind.REORDERED, "not a position (they start at 1)"))
        by_seq[event.seq] = event
        highest = max(highest, event.seq)
    breaks += _gaps(account_id, by_seq, highest)
    for seq, event in sorted(by_seq.items()):
        if seq < 1:
            continue
        before = by_seq.get(seq - 1)
        expected = GENESIS_HASH if seq == 1 else before.hash if before else None
        if expected is not None and event.prev_hash != expected:
            what = "the genesis hash" if seq == 1 else f"the hash of event {seq - 1}"
            breaks.append(
                Break(
                    account_id,
                    seq,
                    BreakKind.LINK,
                    f"prev_hash {_short(event.prev_hash)} is not {what} ({_short(expected)}): "
                    "an event was rewritten before it, or this one was forged",
                )
            )
    if recorded is not None:
        breaks += _markers(account_id, by_seq, highest, recorded)
    return breaks


def _gaps(account_id: str, by_seq: dict[int, AuditEvent], highest: int) -> list[Break]:
    found: list[Break] = []
    seq = 1
    while seq <= highest:
        if seq in by_seq:
            seq += 1
            continue
        last = seq
        while last + 1 not in by_seq:
            last += 1
        span = f"event {seq} is" if seq == last else f"events {seq}-{last} are"
        found.append(Break(account_id, seq, BreakKind.MISSING, f"{span} not in the trail"))
        seq = last + 1
    return found


def _markers(account_id: str, by_seq: dict[int, AuditEvent], highest: int, recorded: dict[str, int]) -> list[Break]:
    found: list[Break] = []
    last_recorded = max(recorded.values(), default=0)
    if last_recorded > highest:
        found.append(
            Break(
                account_id,
                highest + 1,
                BreakKind.TRUNCATED,
                f"markers record events up to {last_recorded} but the trail ends at {highest}",
            )
        )
    for seq, event in sorted(by_seq.items()):
        marked = recorded.get(event.event_id)
        if marked != seq:
            where = "no marker" if marked is None else f"its marker says position {marked}"
            found.append(Break(account_id, seq, BreakKind.UNRECORDED, f"event id {event.event_id!r}: {where}"))
    return found
