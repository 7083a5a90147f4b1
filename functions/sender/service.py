"""Delivering one job: re-check eligibility, render, send through SES, then record it.

Delivery and recording are separate steps so that a failure after SES accepted the message retries
only the recording: `deliver` is wrapped in Powertools idempotency keyed on the job id (its result,
the SES message id, is stored), and `record` is idempotent by construction (the audit event's key
is the job id; the contact counter moves only once per job)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functions.core.audit import AuditEvent, EventType
from functions.core.clock import iso_utc, local_date, parse_utc
from functions.core.jobs import Job
from functions.core.messages import reminder_email
from functions.core.outreach import still_eligible
from functions.store import accounts, events, lenders

ACTOR = "sender"
SENT = "sent"
SUPPRESSED = "suppressed"


@dataclass(frozen=True, slots=True)
class Delivery:
    outcome: str  # sent | suppressed
    message_id: str | None = None
    reason: str | None = None
    retry_at: str | None = None  # ISO UTC: when a held contact would be allowed

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "message_id": self.message_id,
            "reason": self.reason,
            "retry_at": self.retry_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Delivery:
        return cls(
            outcome=data["outcome"],
            message_id=data.get("message_id"),
            reason=data.get("reason"),
            retry_at=data.get("retry_at"),
        )


class EmailSender:
    def __init__(self, ses: Any, default_sender: str, configuration_set: str | None) -> None:
        self._ses = ses
        self._default_sender = default_sender
        self._configuration_set = configuration_set

    def deliver(self, job: Job, now: datetime) -> dict[str, Any]:
        """Send the job's email unless the account no longer qualifies at `now`. At most once per job id."""
        account = accounts.get(job.account_id)
        if account is None:
            return Delivery(SUPPRESSED, reason="unknown_account").as_dict()
        recheck = still_eligible(account, job, now)
        if recheck.reason:
            retry_at = iso_utc(recheck.retry_at) if recheck.retry_at else None
            return Delivery(SUPPRESSED, reason=recheck.reason, retry_at=retry_at).as_dict()
        lender = lenders.get_or_default(account.lender_id)
        content = reminder_email(account, lender, local_date(job.scheduled_for, account.debtor.timezone))
        request: dict[str, Any] = {
            "FromEmailAddress": lender.sender_email or self._default_sender,
            "Destination": {"ToAddresses": [account.debtor.email]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": content.subject, "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": content.text, "Charset": "UTF-8"}},
                }
            },
            "EmailTags": [{"Name": "job_id", "Value": job.job_id}, {"Name": "stage", "Value": job.stage.value}],
        }
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        message_id = self._ses.send_email(**request)["MessageId"]
        return Delivery(SENT, message_id=message_id).as_dict()


def record(job: Job, delivery: Delivery, now: datetime, due_shards: int) -> None:
    """Write the audit event for the job's outcome and count the contact (both once per job)."""
    detail: dict[str, Any] = {
        "job_id": job.job_id,
        "channel": job.channel.value,
        "template": job.template,
        "variant": job.variant,
        "stage": job.stage.value,
    }
    if delivery.reason == "unknown_account":
        return  # nothing to audit against: the account was never placed (or was removed)
    if delivery.outcome == SENT:
        event_type = EventType.REMINDER_SENT
        detail["message_id"] = delivery.message_id
    else:
        event_type = EventType.REMINDER_SUPPRESSED
        detail["reason"] = delivery.reason
    events.append(
        AuditEvent(
            account_id=job.account_id, at=now, type=event_type, event_id=f"job:{job.job_id}", actor=ACTOR, detail=detail
        )
    )
    if delivery.outcome == SENT:
        accounts.record_contact(job.account_id, now, job.job_id, job.channel)
    elif delivery.retry_at:
        # Held at the last moment (a retry that arrived outside the window): contact it when allowed.
        accounts.reschedule_no_later_than(job.account_id, parse_utc(delivery.retry_at), due_shards)
