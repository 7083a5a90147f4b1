"""Lender self-service: a lender's uploads and their outcomes, its portfolio's state, its latest upload report and
latest daily report (with pre-signed links), and pre-signed downloads of its upload reports (docs/ops.md,
"Lenders"; the daily report: docs/reports.md).

Every answer is scoped to the authorized lender: the caller must see `lender_id` (403 otherwise), an upload
must belong to it (404 otherwise), and an S3 key is built from the authorized lender id and a validated upload
id, never taken from the request or the store."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from functions import names
from functions.core.account import Account, AccountStatus, Stage, StageBound, days_past_due, stage_for
from functions.core.clock import iso_utc, local_date
from functions.ops.service import Call, OpsServiceError, Principal
from functions.store import lenders, uploads
from functions.store import ops as ops_store
from functions.store.uploads import Upload, UploadStatus

DOWNLOAD_EXPIRY_SECONDS = 15 * 60
RECENT_UPLOADS = 20
REPORT_FILES = ("summary.json", "rejected.csv")
UPLOAD_ID = re.compile(r"^u-[0-9a-f]{16}$")  # store.uploads.upload_id_for
# The daily report (functions/reports/service.py): reports/<lender>/<YYYY-MM-DD>/<file>, and the pointer
# reports/<lender>/latest.json naming the latest one. A date is never an upload id, nor the pointer.
REPORT_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DAILY_REPORT_POINTER = "latest.json"
DAILY_REPORT_FILES = (
    "report.html",
    "kpis.csv",
    "daily.csv",
    "messages.csv",
    "funnel.csv",
    "experiments.csv",
    "sendtime.csv",
    "model.csv",
    "summary.json",
)


@dataclass(frozen=True, slots=True)
class Reports:
    """Where the reports are and how to read them (the S3 client, injectable)."""

    s3: Any
    bucket: str


def _scoped(lender_id: str, who: Principal) -> None:
    if not who.may_see(lender_id):
        raise OpsServiceError(403, "forbidden", f"You may not see lender {lender_id!r}.")


def report_key(lender_id: str, upload_id: str, name: str) -> str:
    """`reports/<lender>/<upload_id>/<name>`: from the authorized lender and a validated upload id only."""
    if not UPLOAD_ID.match(upload_id) or name not in REPORT_FILES:
        raise ValueError(f"not a report: {upload_id}/{name}")
    return f"{names.REPORTS_PREFIX}{lender_id}/{upload_id}/{name}"


def daily_report_key(lender_id: str, day: str, name: str) -> str:
    """`reports/<lender>/<YYYY-MM-DD>/<name>`: from the authorized lender, a validated date and a known file."""
    if not REPORT_DATE.match(day) or name not in DAILY_REPORT_FILES:
        raise ValueError(f"not a daily report: {day}/{name}")
    return f"{names.REPORTS_PREFIX}{lender_id}/{day}/{name}"


def latest_daily_report(
    lender_id: str, reports: Reports, expires_in: int = DOWNLOAD_EXPIRY_SECONDS
) -> dict[str, Any] | None:
    """The latest daily report (its date, as-of and `expires_in`-second pre-signed links to its files), from the
    lender's pointer; None before the first one. Keys are rebuilt from the lender and the pointer's validated date."""
    pointer = ops_store.read_report(
        reports.s3, reports.bucket, f"{names.REPORTS_PREFIX}{lender_id}/{DAILY_REPORT_POINTER}"
    )
    day = str((pointer or {}).get("date", ""))
    if pointer is None or not REPORT_DATE.match(day):
        return None
    listed = {str(name) for name in pointer.get("files") or ()}
    files = []
    for name in DAILY_REPORT_FILES:
        if name in listed:
            key = daily_report_key(lender_id, day, name)
            files.append(
                {
                    "name": name,
                    "key": key,
                    "url": ops_store.presign_download(reports.s3, reports.bucket, key, expires_in),
                }
            )
    return {"date": day, "as_of": pointer.get("as_of"), "expires_in_seconds": expires_in, "files": files}


def status(lender_id: str, who: Principal, call: Call, reports: Reports) -> dict[str, Any]:
    """The lender's recent uploads and their outcomes, its portfolio by status and stage, its latest upload report
    and its latest daily report."""
    _scoped(lender_id, who)
    recent = uploads.for_lender(lender_id, RECENT_UPLOADS)
    profile = lenders.get(lender_id)
    if profile is None and not recent:
        raise OpsServiceError(404, "lender_not_found", f"No lender {lender_id!r}.")
    bounds = lenders.get_or_default(lender_id).rules().bounds
    held = [account for account, _ in ops_store.lender_accounts(lender_id)]
    latest = next((upload for upload in recent if upload.status is not UploadStatus.PROCESSING), None)
    report = (
        ops_store.read_report(reports.s3, reports.bucket, report_key(lender_id, latest.upload_id, "summary.json"))
        if latest and UPLOAD_ID.match(latest.upload_id)
        else None
    )
    return {
        "lender_id": lender_id,
        "creditor_name": profile.creditor_name if profile else None,
        "as_of": iso_utc(call.now),
        "uploads": [upload_view(upload) for upload in recent],
        "portfolio": portfolio(held, call.now, bounds),
        "latest_report": {"upload_id": latest.upload_id, "summary": report} if latest else None,
        "latest_daily_report": latest_daily_report(lender_id, reports),
    }


def upload_view(upload: Upload) -> dict[str, Any]:
    counts = upload.counts
    return {
        "upload_id": upload.upload_id,
        "file": upload.key.rsplit("/", 1)[-1],
        "status": upload.status.value,
        "received_at": iso_utc(upload.received_at),
        "completed_at": iso_utc(upload.completed_at) if upload.completed_at else None,
        "total": counts.get("total", 0),
        "accepted": counts.get("accepted", 0),
        "rejected": counts.get("rejected", 0),
        "error": upload.error,
    }


def portfolio(held: Iterable[Account], now: datetime, bounds: tuple[StageBound, ...]) -> dict[str, Any]:
    """Counts and amounts owed (integer minor units, per currency) by status, and by stage for active accounts
    (the stage of the day in the debtor's own time zone, from the lender's stage windows)."""
    by_status: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    by_stage: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    owed: dict[str, int] = defaultdict(int)
    count = 0
    for account in held:
        balance = account.balance
        amount = balance.principal.minor + balance.interest.minor + balance.fees.minor
        currency = balance.currency
        count += 1
        owed[currency] += amount
        _add(by_status[(account.status.value, currency)], amount)
        if account.status is AccountStatus.ACTIVE:
            dpd = days_past_due(account.due_date, local_date(now, account.debtor.timezone))
            _add(by_stage[(stage_for(dpd, bounds).value, currency)], amount)
    return {
        "accounts": count,
        "owed_minor": dict(sorted(owed.items())),
        "by_status": _rows("status", by_status, list(AccountStatus)),
        "by_stage": _rows("stage", by_stage, list(Stage)),
    }


def _add(cell: list[int], amount: int) -> None:
    cell[0] += 1
    cell[1] += amount


def _rows(name: str, cells: dict[tuple[str, str], list[int]], order: list[StrEnum]) -> list[dict[str, Any]]:
    """One row per (value, currency), in the enum's own order (the stages as a debt ages), then by currency."""
    rank = {member.value: position for position, member in enumerate(order)}
    return [
        {name: key, "currency": currency, "accounts": accounts_, "owed_minor": amount}
        for (key, currency), (accounts_, amount) in sorted(cells.items(), key=lambda c: (rank[c[0][0]], c[0][1]))
    ]


def downloads(
    lender_id: str, who: Principal, upload_id: str | None, reports: Reports, expires_in: int = DOWNLOAD_EXPIRY_SECONDS
) -> dict[str, Any]:
    """Pre-signed GET URLs for one upload's summary.json and rejected.csv (those that exist), `expires_in`
    seconds. The upload is the one named (it must be the lender's: 404 otherwise) or the latest finished one."""
    _scoped(lender_id, who)
    upload = _upload(lender_id, upload_id)
    files = []
    for name in REPORT_FILES:
        key = report_key(lender_id, upload.upload_id, name)
        if ops_store.report_exists(reports.s3, reports.bucket, key):
            url = ops_store.presign_download(reports.s3, reports.bucket, key, expires_in)
            files.append({"name": name, "key": key, "url": url})
    return {
        "lender_id": lender_id,
        "upload_id": upload.upload_id,
        "status": upload.status.value,
        "expires_in_seconds": expires_in,
        "files": files,
    }


def _upload(lender_id: str, upload_id: str | None) -> Upload:
    if upload_id is None:
        finished = (u for u in uploads.for_lender(lender_id, RECENT_UPLOADS) if u.status is not UploadStatus.PROCESSING)
        latest = next(finished, None)
        if latest is None:
            raise OpsServiceError(404, "no_reports", f"Lender {lender_id!r} has no finished upload yet.")
        return latest
    upload = uploads.get(upload_id) if UPLOAD_ID.match(upload_id) else None
    if upload is None or upload.lender_id != lender_id:  # another lender's upload does not exist for you
        raise OpsServiceError(404, "upload_not_found", f"No upload {upload_id!r} for lender {lender_id!r}.")
    return upload
