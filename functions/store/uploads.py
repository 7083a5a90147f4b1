"""The uploads table: one item per portfolio object version; makes S3 re-delivery idempotent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PynamoDBException
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from functions.store import StoreError, conditional_write
from functions.store.attributes import OnDemandTable, UTCTimestampAttribute


class UploadStatus(StrEnum):
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class UploadModel(Model):
    class Meta(OnDemandTable):
        table_name = "cleardue-uploads"

    upload_id = UnicodeAttribute(hash_key=True)  # "<bucket>/<key>/<etag>"
    lender_id = UnicodeAttribute()
    bucket = UnicodeAttribute()
    key = UnicodeAttribute()
    etag = UnicodeAttribute()
    status = UnicodeAttribute()
    received_at = UTCTimestampAttribute()
    completed_at = UTCTimestampAttribute(null=True)
    total = NumberAttribute(default=0)
    accepted = NumberAttribute(default=0)
    rejected = NumberAttribute(default=0)
    placed = NumberAttribute(default=0)
    report_key = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)


@dataclass(frozen=True, slots=True)
class UploadOutcome:
    total: int
    accepted: int
    rejected: int
    placed: int
    report_key: str


def upload_id_for(bucket: str, key: str, etag: str) -> str:
    return f"{bucket}/{key}/{etag}"


def begin(upload_id: str, lender_id: str, bucket: str, key: str, etag: str, now: datetime) -> bool:
    """Claim an upload for processing; False if it already completed (a re-delivered notification).

    A failed or interrupted earlier attempt may be claimed again: the account upserts are idempotent."""
    item = UploadModel(
        upload_id,
        lender_id=lender_id,
        bucket=bucket,
        key=key,
        etag=etag,
        status=UploadStatus.PROCESSING.value,
        received_at=now,
    )
    not_completed = UploadModel.status.does_not_exist() | (UploadModel.status != UploadStatus.COMPLETED.value)
    return conditional_write(lambda: item.save(condition=not_completed), "recording upload")


def complete(upload_id: str, outcome: UploadOutcome, now: datetime) -> None:
    try:
        UploadModel(upload_id).update(
            actions=[
                UploadModel.status.set(UploadStatus.COMPLETED.value),
                UploadModel.completed_at.set(now),
                UploadModel.total.set(outcome.total),
                UploadModel.accepted.set(outcome.accepted),
                UploadModel.rejected.set(outcome.rejected),
                UploadModel.placed.set(outcome.placed),
                UploadModel.report_key.set(outcome.report_key),
            ]
        )
    except PynamoDBException as exc:
        raise StoreError(f"completing upload failed: {exc}") from exc


def fail(upload_id: str, error: str, report_key: str | None, now: datetime) -> None:
    try:
        actions: list[Action] = [
            UploadModel.status.set(UploadStatus.FAILED.value),
            UploadModel.completed_at.set(now),
            UploadModel.error.set(error[:1000]),
        ]
        if report_key:
            actions.append(UploadModel.report_key.set(report_key))
        UploadModel(upload_id).update(actions=actions)
    except PynamoDBException as exc:
        raise StoreError(f"marking upload failed: {exc}") from exc


def get(upload_id: str) -> UploadModel | None:
    try:
        return UploadModel.get(upload_id)
    except UploadModel.DoesNotExist:
        return None
