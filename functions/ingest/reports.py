"""What a lender gets back: `summary.json` and `rejected.csv` under `reports/<lender>/<upload_id>/`.

Rejected rows are written per chunk (`rejected/part-<offset>.csv`, replaced if the chunk is replayed)
and joined into one `rejected.csv` when the upload completes: original line number, every reason,
then the row exactly as the lender sent it."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

from functions.core.clock import iso_utc
from functions.core.portfolio import Header, RowRejected
from functions.store.uploads import Upload

PART_PREFIX = "rejected/part-"
MULTIPART_MIN = 5 * 1024 * 1024  # S3's minimum part size (but for the last)


def put_json(s3: Any, bucket: str, key: str, document: dict[str, Any]) -> str:
    body = json.dumps(document, indent=2, default=str).encode()
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    return key


def _csv_text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


def put_rejected_part(
    s3: Any, bucket: str, prefix: str, chunk_offset: int, header: Header, rows: list[RowRejected]
) -> None:
    if not rows:
        return
    columns = header.columns
    lines = [[str(row.line), "; ".join(row.reasons), *(row.raw.get(column, "") for column in columns)] for row in rows]
    key = f"{prefix}{PART_PREFIX}{chunk_offset:015d}.csv"
    s3.put_object(Bucket=bucket, Key=key, Body=_csv_text(lines).encode(), ContentType="text/csv")


def compose_rejected(s3: Any, bucket: str, prefix: str, header_line: str) -> str:
    """Join the parts (in file order) under one header; multipart when it outgrows one request."""
    key = prefix + "rejected.csv"
    columns = next(csv.reader([header_line]), []) if header_line.strip() else []
    head = _csv_text([["line", "reasons", *columns]]).encode()
    parts = sorted(
        obj["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + PART_PREFIX)
        for obj in page.get("Contents", [])
    )
    buffer = bytearray(head)
    upload_id = None
    numbered: list[dict[str, Any]] = []
    for part_key in parts:
        buffer += s3.get_object(Bucket=bucket, Key=part_key)["Body"].read()
        if len(buffer) >= MULTIPART_MIN:
            if upload_id is None:
                upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="text/csv")["UploadId"]
            number = len(numbered) + 1
            etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=bytes(buffer))
            numbered.append({"PartNumber": number, "ETag": etag["ETag"]})
            buffer = bytearray()
    if upload_id is None:
        s3.put_object(Bucket=bucket, Key=key, Body=bytes(buffer), ContentType="text/csv")
        return key
    if buffer:
        number = len(numbered) + 1
        etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=bytes(buffer))
        numbered.append({"PartNumber": number, "ETag": etag["ETag"]})
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": numbered})
    return key


def summary(
    upload: Upload, status: str, now: datetime, rejected_key: str | None, error: str | None = None
) -> dict[str, Any]:
    counts = upload.counts
    accepted = {outcome: counts.get(outcome, 0) for outcome in ("new", "updated", "unchanged")}
    return {
        "upload_id": upload.upload_id,
        "lender_id": upload.lender_id,
        "key": upload.key,
        "etag": upload.etag,
        "status": status,
        "error": error,
        "received_at": iso_utc(upload.received_at),
        "completed_at": iso_utc(now),
        "total": counts.get("total", 0),
        "accepted": counts.get("accepted", 0),
        "rejected": counts.get("rejected", 0),
        "accepted_by_outcome": accepted,
        "chunks": upload.chunks,
        "processing_seconds": round(upload.processing_ms / 1000, 3),
        "rejected_rows": rejected_key,
    }
