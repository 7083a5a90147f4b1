"""`cleardue upload FILE --lender ID`: put a portfolio where ingestion picks it up, show progress, then the summary.

Against the local stack (`cleardue up` running; its `.local/outputs.json` says where) or, with
`--bucket`, a deployed stack with the caller's AWS credentials."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from functions import names
from functions.store import tables, uploads
from functions.store.settings import StoreSettings
from functions.store.uploads import UploadStatus


def target_from_outputs(state_dir: Path) -> dict[str, str]:
    outputs_file = state_dir / "outputs.json"
    if not outputs_file.is_file():
        raise FileNotFoundError(f"{outputs_file} not found: start the local stack (make run) or pass --bucket")
    outputs = json.loads(outputs_file.read_text())
    os.environ["AWS_ENDPOINT_URL"] = outputs[names.OUTPUT_AWS_ENDPOINT]
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", outputs[names.OUTPUT_REGION])
    return outputs


def upload_and_follow(
    path: Path,
    lender_id: str,
    bucket: str,
    uploads_table: str,
    out: Callable[[str], None] = print,
    timeout_s: float = 3600,
    poll_s: float = 1.0,
) -> int:
    """Upload, then report progress until the upload completes or fails. Returns the exit code."""
    s3 = boto3.client("s3")
    tables.configure(StoreSettings(uploads_table=uploads_table, region=os.environ.get("AWS_DEFAULT_REGION")))
    key = f"{names.PORTFOLIO_PREFIX}{lender_id}/{path.name}"
    size = path.stat().st_size
    with path.open("rb") as body:
        etag = s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/csv")["ETag"].strip('"')
    upload_id = uploads.upload_id_for(bucket, key, etag)
    out(f"uploaded s3://{bucket}/{key} ({size:,} bytes) as {upload_id}")
    deadline = time.monotonic() + timeout_s
    shown = None
    while time.monotonic() < deadline:
        upload = uploads.get(upload_id)
        if upload is not None:
            progress = (upload.status, upload.offset, upload.counts.get("total", 0))
            if progress != shown:
                shown = progress
                percent = 100 * upload.offset / size if size else 100
                out(f"  {upload.status}: {upload.counts.get('total', 0):,} rows ({percent:.0f}% of the file)")
            if upload.status is not UploadStatus.PROCESSING:
                return _summary(s3, bucket, upload.report_prefix, out)
        time.sleep(poll_s)
    out(f"gave up waiting after {timeout_s:.0f} s: is ingestion running (make run)?")
    return 1


def _summary(s3: Any, bucket: str, prefix: str, out: Callable[[str], None]) -> int:
    summary = json.loads(s3.get_object(Bucket=bucket, Key=prefix + "summary.json")["Body"].read())
    if summary["status"] != "completed":
        out(f"failed: {summary['error']}")
        return 1
    by_outcome = summary["accepted_by_outcome"]
    out(
        f"completed: {summary['total']:,} rows = {summary['accepted']:,} accepted ({by_outcome['new']:,} new, "
        f"{by_outcome['updated']:,} updated, {by_outcome['unchanged']:,} unchanged) + {summary['rejected']:,} "
        f"rejected, in {summary['chunks']} chunk(s), {summary['processing_seconds']} s"
    )
    out(f"report: s3://{bucket}/{prefix}summary.json, rejected rows: s3://{bucket}/{summary['rejected_rows']}")
    return 0
