"""The contract between the scheduler and the senders: one SQS message per contact."""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from functions.core.account import Channel, Stage
from functions.core.clock import iso_utc

__all__ = ["Channel", "Job", "Template", "Tone", "job_id_for"]


class Template(StrEnum):
    """What a message is for. Each has a template per channel, tone, variant and language (sender)."""

    REMINDER = "reminder"  # the balance is due / past due: one clear action
    VALIDATION_NOTICE = "validation_notice"  # third-party regime: Reg F 1006.34 model form, first message
    PROMISE_DUE = "promise_due"  # the date the debtor promised is near
    BROKEN_PROMISE = "broken_promise"  # the promised date passed without the payment
    INSTALLMENT_DUE = "installment_due"  # plan current: the next installment is near
    MISSED_INSTALLMENT = "missed_installment"  # an installment failed: retry link, the plan's rules
    SETTLEMENT_EXPIRING = "settlement_expiring"  # an offered settlement is about to lapse
    DISPUTE_VERIFICATION = "dispute_verification"  # a disputed debt verified: FDCPA 809(b), sent before any other
    RECEIPT = "receipt"  # a payment was applied
    PAYMENT_FAILED = "payment_failed"  # a payment failed: the helpful next step for its decline code


class Tone(StrEnum):
    """Firms up with the stage; never threatens or shames."""

    FRIENDLY = "friendly"
    NEUTRAL = "neutral"
    FIRM = "firm"


class Job(BaseModel):
    """`{"job_id", "account_id", "channel", "template", "variant", "stage", "scheduled_for", "tone", "tier"}`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job_id: str = Field(min_length=16, max_length=64)
    account_id: str = Field(min_length=3)
    channel: Channel
    template: str
    variant: str
    stage: Stage
    scheduled_for: AwareDatetime
    tone: Tone = Tone.FRIENDLY
    tier: int | None = Field(default=None, ge=1, le=4)
    reason: str | None = None  # why this contact was decided (the decision's explanation, for the audit)


def job_id_for(account_id: str, stage: Stage, slot: datetime) -> str:
    """Deterministic per (account, stage, scheduled slot): a re-run scheduler produces the same id,
    so the sender's idempotency turns a second copy into a no-op."""
    material = f"{account_id}|{stage.value}|{iso_utc(slot)}"
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]
