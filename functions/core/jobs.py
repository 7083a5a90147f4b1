"""The contract between the scheduler and the senders: one SQS message per contact."""

from __future__ import annotations

import hashlib
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from functions.core.account import Channel, Stage
from functions.core.clock import iso_utc

__all__ = ["Channel", "Job", "job_id_for"]


class Job(BaseModel):
    """`{"job_id", "account_id", "channel", "template", "variant", "stage", "scheduled_for"}`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job_id: str = Field(min_length=16, max_length=64)
    account_id: str = Field(min_length=3)
    channel: Channel
    template: str
    variant: str
    stage: Stage
    scheduled_for: AwareDatetime


def job_id_for(account_id: str, stage: Stage, slot: datetime) -> str:
    """Deterministic per (account, stage, scheduled slot): a re-run scheduler produces the same id,
    so the sender's idempotency turns a second copy into a no-op."""
    material = f"{account_id}|{stage.value}|{iso_utc(slot)}"
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]
