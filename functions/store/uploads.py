"""The uploads table: one item per portfolio object version (the job, its checkpoint and outcome),
plus one lock item per lender so that a lender's uploads are applied one at a time."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from pynamodb.attributes import BooleanAttribute, MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PynamoDBException
from pynamodb.expressions.update import Action
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from functions.store import StoreError, conditional_write, get_or_none
from functions.store.attributes import OnDemandTable, UTCTimestampAttribute

LOCK_PREFIX = "lock#"
LOCK_TTL = timedelta(minutes=30)


class UploadStatus(StrEnum):
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class ByLenderIndex(GlobalSecondaryIndex["UploadModel"]):
    """A lender's uploads, newest last (sparse: lock items carry no `lender_id`)."""

    class Meta:
        index_name = "by_lender"
        projection = AllProjection()  # small items: the outcome without a second read

    lender_id = UnicodeAttribute(hash_key=True)
    received_at = UTCTimestampAttribute(range_key=True)


class UploadModel(Model):
    class Meta(OnDemandTable):
        table_name = "cleardue-uploads"

    upload_id = UnicodeAttribute(hash_key=True)  # "u-<16 hex of bucket/key/etag>"; "lock#<lender>" for locks
    lender_id = UnicodeAttribute(null=True)
    bucket = UnicodeAttribute(null=True)
    key = UnicodeAttribute(null=True)
    etag = UnicodeAttribute(null=True)
    version_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)
    received_at = UTCTimestampAttribute(null=True)
    completed_at = UTCTimestampAttribute(null=True)
    report_prefix = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)
    # The checkpoint: where the next invocation resumes and what was counted before it.
    header = UnicodeAttribute(null=True)
    offset = NumberAttribute(default=0)
    next_line = NumberAttribute(default=2)
    chunks = NumberAttribute(default=0)
    processing_ms = NumberAttribute(default=0)
    counts = MapAttribute(null=True)  # type: ignore[var-annotated]
    # A lender's first upload is written with plain batch puts while nothing can be overwritten.
    first_placement = BooleanAttribute(default=False)
    # Lock items only.
    holder = UnicodeAttribute(null=True)
    expires_at = UTCTimestampAttribute(null=True)

    by_lender_index = ByLenderIndex()


@dataclass
class Upload:
    upload_id: str
    lender_id: str
    bucket: str
    key: str
    etag: str
    version_id: str | None
    received_at: datetime
    report_prefix: str
    status: UploadStatus = UploadStatus.PROCESSING
    header: str | None = None
    offset: int = 0
    next_line: int = 2
    chunks: int = 0
    processing_ms: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    first_placement: bool = False
    error: str | None = None
    completed_at: datetime | None = None


def upload_id_for(bucket: str, key: str, etag: str) -> str:
    """Stable per object content: a re-delivered event or the same file uploaded again has the same id."""
    return "u-" + hashlib.sha256(f"{bucket}/{key}/{etag}".encode()).hexdigest()[:16]


def _to_domain(item: UploadModel) -> Upload:
    return Upload(
        upload_id=item.upload_id,
        lender_id=item.lender_id or "",
        bucket=item.bucket or "",
        key=item.key or "",
        etag=item.etag or "",
        version_id=item.version_id,
        received_at=item.received_at,  # type: ignore[arg-type]
        report_prefix=item.report_prefix or "",
        status=UploadStatus(item.status),
        header=item.header,
        offset=int(item.offset or 0),
        next_line=int(item.next_line or 2),
        chunks=int(item.chunks or 0),
        processing_ms=int(item.processing_ms or 0),
        counts={key: int(value) for key, value in (item.counts.as_dict() if item.counts else {}).items()},
        first_placement=bool(item.first_placement),
        error=item.error,
        completed_at=item.completed_at,
    )


def begin(upload: Upload) -> bool:
    """Record a new upload; False if this object version was already recorded (a re-delivery)."""
    item = UploadModel(
        upload.upload_id,
        lender_id=upload.lender_id,
        bucket=upload.bucket,
        key=upload.key,
        etag=upload.etag,
        version_id=upload.version_id,
        status=UploadStatus.PROCESSING.value,
        received_at=upload.received_at,
        report_prefix=upload.report_prefix,
        offset=0,
        next_line=2,
        counts={},
        first_placement=upload.first_placement,
    )
    return conditional_write(lambda: item.save(condition=UploadModel.upload_id.does_not_exist()), "recording upload")


def get(upload_id: str) -> Upload | None:
    item = get_or_none(UploadModel, upload_id, "upload")
    return _to_domain(item) if item else None


def for_lender(lender_id: str, limit: int = 20) -> list[Upload]:
    """The lender's most recent uploads, newest first (the `by_lender` index)."""
    try:
        items = UploadModel.by_lender_index.query(lender_id, scan_index_forward=False, limit=limit)
        return [_to_domain(item) for item in items]
    except PynamoDBException as exc:
        raise StoreError(f"reading the lender's uploads failed: {exc}") from exc


def checkpoint(upload: Upload, previous_offset: int) -> bool:
    """Advance the checkpoint, only from where this invocation started (a stale duplicate cannot move it)."""
    return conditional_write(
        lambda: UploadModel(upload.upload_id).update(
            actions=[
                UploadModel.header.set(upload.header or ""),
                UploadModel.offset.set(upload.offset),
                UploadModel.next_line.set(upload.next_line),
                UploadModel.chunks.set(upload.chunks),
                UploadModel.processing_ms.set(upload.processing_ms),
                UploadModel.counts.set(upload.counts),
                UploadModel.first_placement.set(upload.first_placement),
            ],
            condition=(UploadModel.offset == previous_offset) & (UploadModel.status == UploadStatus.PROCESSING.value),
        ),
        "saving the upload checkpoint",
    )


def finish(upload: Upload, status: UploadStatus, now: datetime, error: str | None = None) -> None:
    actions: list[Action] = [
        UploadModel.status.set(status.value),
        UploadModel.completed_at.set(now),
        UploadModel.counts.set(upload.counts),
        UploadModel.offset.set(upload.offset),
        UploadModel.chunks.set(upload.chunks),
        UploadModel.processing_ms.set(upload.processing_ms),
    ]
    if error:
        actions.append(UploadModel.error.set(error[:2000]))
    try:
        UploadModel(upload.upload_id).update(actions=actions)
    except PynamoDBException as exc:
        raise StoreError(f"finishing upload failed: {exc}") from exc


def acquire_lender_lock(lender_id: str, upload_id: str, now: datetime) -> bool:
    """Hold the lender's lock for this upload (re-entrant); False while another live upload holds it."""
    lock = UploadModel(f"{LOCK_PREFIX}{lender_id}", holder=upload_id, expires_at=now + LOCK_TTL)
    free = UploadModel.upload_id.does_not_exist() | (UploadModel.holder == upload_id) | (UploadModel.expires_at < now)
    return conditional_write(lambda: lock.save(condition=free), "taking the lender lock")


def release_lender_lock(lender_id: str, upload_id: str) -> None:
    with contextlib.suppress(PynamoDBException):  # not ours any more (expired, taken over): nothing to release
        UploadModel(f"{LOCK_PREFIX}{lender_id}").delete(condition=UploadModel.holder == upload_id)
