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
                "type": self.type.value,
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
