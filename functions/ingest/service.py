"""Ingesting one portfolio object: stream, validate row by row, upsert, audit, report."""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from functions import names
from functions.core import outreach
from functions.core.audit import AuditEvent, EventType
from functions.core.clock import iso_utc
from functions.core.lender import LENDER_ID_RE
from functions.core.portfolio import PortfolioError, RowAccepted, RowRejected, read_portfolio
from functions.store import accounts, events, lenders, uploads

ACTOR = "ingest"
_KEY_RE = re.compile(rf"^{re.escape(names.PORTFOLIO_PREFIX)}(?P<lender>[^/]+)/(?P<name>[^/]+)\.csv$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class IngestResult:
    upload_id: str
    status: str  # completed | failed | duplicate | ignored
    total: int = 0
    accepted: int = 0
    rejected: int = 0
    placed: int = 0
    report_key: str | None = None
    error: str | None = None


def report_prefix(lender_id: str, file_stem: str, etag: str) -> str:
    return f"{names.REPORTS_PREFIX}{lender_id}/{file_stem}-{etag[:12]}/"


class _RejectedRows:
    """Rejected rows spooled (to disk past 4 MB) as CSV: line, reason, then the row as the lender sent it."""

    def __init__(self, spool: Any) -> None:
        self._file = spool
        self._text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
        self._writer: Any = None

    def add(self, row: RowRejected) -> None:
        if self._writer is None:
            self._writer = csv.DictWriter(self._text, fieldnames=["line", "reason", *row.raw.keys()])
            self._writer.writeheader()
        self._writer.writerow({"line": row.line, "reason": row.reason, **row.raw})

    def body(self) -> bytes:
        if self._writer is None:
            return b"line,reason\r\n"
        self._text.flush()
        self._file.seek(0)
        return self._file.read()


def ingest_object(
    s3: Any, bucket: str, key: str, etag: str, received_at: datetime, due_shards: int, fact_key: bytes
) -> IngestResult:
    """Ingest `s3://bucket/key` (version `etag`) as of the notification's time `received_at`.

    `fact_key` is the HMAC key identity facts are hashed with (they are never stored as given)."""
    upload_id = uploads.upload_id_for(bucket, key, etag)
    match = _KEY_RE.match(key)
    if not match or not LENDER_ID_RE.match(match["lender"]):
        return IngestResult(upload_id, "ignored", error=f"{key} is not portfolios/<lender_id>/<name>.csv")
    lender_id, stem = match["lender"], match["name"]
    if not uploads.begin(upload_id, lender_id, bucket, key, etag, received_at):
        return IngestResult(upload_id, "duplicate")
    with tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024, mode="w+b") as spool:
        return _ingest(
            s3,
            upload_id,
            lender_id,
            bucket,
            key,
            etag,
            report_prefix(lender_id, stem, etag),
            received_at,
            due_shards,
            fact_key,
            _RejectedRows(spool),
        )


def _ingest(
    s3: Any,
    upload_id: str,
    lender_id: str,
    bucket: str,
    key: str,
    etag: str,
    prefix: str,
    received_at: datetime,
    due_shards: int,
    fact_key: bytes,
    rejected: _RejectedRows,
) -> IngestResult:
    lender = lenders.get_or_default(lender_id)
    counts = {"total": 0, "accepted": 0, "rejected": 0, "placed": 0}
    body = s3.get_object(Bucket=bucket, Key=key, IfMatch=etag)["Body"]
    try:
        text = io.TextIOWrapper(body, encoding="utf-8-sig", newline="")
        for row in read_portfolio(text, lender, fact_key):
            counts["total"] += 1
            if isinstance(row, RowRejected):
                counts["rejected"] += 1
                rejected.add(row)
                continue
            counts["accepted"] += 1
            counts["placed"] += _place(row, upload_id, received_at, due_shards)
    except (PortfolioError, UnicodeDecodeError, csv.Error) as exc:
        error = f"the file cannot be read: {exc}"
        summary_key = _put_json(
            s3,
            bucket,
            prefix + "summary.json",
            {"upload_id": upload_id, "status": "failed", "error": error, "at": iso_utc(received_at)},
        )
        uploads.fail(upload_id, error, summary_key, received_at)
        return IngestResult(upload_id, "failed", error=error, report_key=summary_key)
    s3.put_object(Bucket=bucket, Key=prefix + "rejected.csv", Body=rejected.body(), ContentType="text/csv")
    summary = {
        "upload_id": upload_id,
        "lender_id": lender_id,
        "key": key,
        "status": "completed",
        "at": iso_utc(received_at),
        **counts,
        "rejected_rows": f"{prefix}rejected.csv",
    }
    summary_key = _put_json(s3, bucket, prefix + "summary.json", summary)
    uploads.complete(upload_id, uploads.UploadOutcome(report_key=summary_key, **counts), received_at)
    return IngestResult(
        upload_id,
        "completed",
        total=counts["total"],
        accepted=counts["accepted"],
        rejected=counts["rejected"],
        placed=counts["placed"],
        report_key=summary_key,
    )


def _place(row: RowAccepted, upload_id: str, now: datetime, due_shards: int) -> int:
    account = row.account
    first_contact = outreach.first_contact_at(account, now)
    placed = accounts.upsert_placement(account, first_contact, upload_id, now, due_shards)
    events.append(
        AuditEvent(
            account_id=account.account_id,
            at=now,
            type=EventType.ACCOUNT_PLACED if placed else EventType.ACCOUNT_UPDATED,
            event_id=f"upload:{upload_id}:{row.line}",
            actor=ACTOR,
            detail={
                "upload_id": upload_id,
                "line": row.line,
                "currency": account.balance.currency,
                "balance_minor": account.balance.total.minor,
                "due_date": account.due_date.isoformat(),
                "next_contact_at": iso_utc(first_contact) if first_contact else None,
            },
        )
    )
    return int(placed)


def _put_json(s3: Any, bucket: str, key: str, document: dict[str, Any]) -> str:
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(document, indent=2).encode(), ContentType="application/json")
    return key


def result_dict(result: IngestResult) -> dict[str, Any]:
    return asdict(result)
