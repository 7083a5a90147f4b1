"""Ingesting lenders' files: portfolios (streamed, checkpointed, idempotent) and policies.

A portfolio upload is a job: the S3 notification records it and queues its first chunk; each chunk
(an SQS message `{"upload_id", "offset"}`) streams the object from its byte offset, validates rows,
writes accounts, and either queues the next chunk or completes the upload with its report. Nothing is
half-applied without being recorded: the checkpoint (uploads table) moves only after the chunk's
accounts, rejected rows and manifest are written, and a replayed chunk repeats the same outcomes.
"""

from __future__ import annotations

import csv
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from functions import names
from functions.core import outreach
from functions.core.account import Account, placement_fingerprint
from functions.core.audit import AuditEvent, EventType
from functions.core.clock import iso_utc
from functions.core.lender import LENDER_ID_RE, LenderProfile
from functions.core.payments import PaymentError
from functions.core.portfolio import Header, PortfolioError, RowAccepted, RowRejected, parse_header, read_rows
from functions.ingest import reports
from functions.ingest.lines import CountingLines, NotTextError
from functions.store import accounts, events, lenders, manifests, uploads
from functions.store.manifests import Entry, Manifest
from functions.store.uploads import Upload, UploadStatus

ACTOR = "ingest"
ERASED_REASON = "the account was erased at the debtor's request (GDPR Art. 17): it is not placed again"
WRITE_BATCH = 100
_PORTFOLIO_KEY = re.compile(rf"^{re.escape(names.PORTFOLIO_PREFIX)}(?P<lender>[^/]+)/(?P<name>[^/]+)\.csv$", re.I)
_POLICY_KEY = re.compile(rf"^{re.escape(names.POLICY_PREFIX)}(?P<lender>[^/]+)/policy\.(?P<ext>ya?ml|json)$", re.I)


def lender_trail(lender_id: str) -> str:
    """Audit events about a lender's files live in the trail of `lender#<id>`."""
    return f"lender#{lender_id}"


@dataclass(frozen=True, slots=True)
class ObjectCreated:
    bucket: str
    key: str
    etag: str
    version_id: str | None
    at: datetime


@dataclass
class Outcome:
    kind: str  # portfolio | policy | ignored
    status: str  # queued | duplicate | completed | failed | continuing | accepted | rejected | ignored | stale
    upload_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class Ingestion:
    """Everything ingestion does, with its clients and knobs injected (the handler builds one)."""

    def __init__(
        self,
        s3: Any,
        enqueue: Callable[[dict[str, Any], int], None],
        fact_key: Callable[[], bytes],
        due_shards: int,
        budget_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._s3 = s3
        self._enqueue = enqueue  # (message, delay seconds) -> None
        self._fact_key = fact_key
        self._due_shards = due_shards
        self._budget_seconds = budget_seconds
        self._clock = clock

    # --- S3 notifications -------------------------------------------------------------------------

    def object_created(self, event: ObjectCreated) -> Outcome:
        if match := _POLICY_KEY.match(event.key):
            return self._policy(event, match["lender"], match["ext"].lower())
        if match := _PORTFOLIO_KEY.match(event.key):
            return self._portfolio(event, match["lender"], match["name"])
        return Outcome("ignored", "ignored", detail={"reason": f"{event.key} is not a portfolio or policy file"})

    def _portfolio(self, event: ObjectCreated, lender_id: str, name: str) -> Outcome:
        upload_id = uploads.upload_id_for(event.bucket, event.key, event.etag)
        upload = Upload(
            upload_id=upload_id,
            lender_id=lender_id,
            bucket=event.bucket,
            key=event.key,
            etag=event.etag,
            version_id=event.version_id,
            received_at=event.at,
            report_prefix=f"{names.REPORTS_PREFIX}{lender_id}/{upload_id}/",
        )
        if not LENDER_ID_RE.match(lender_id) or lenders.get(lender_id) is None:
            reason = f"unknown lender {lender_id!r}: upload lenders/{lender_id}/policy.yaml first"
            if not uploads.begin(upload):
                return self._redelivered(upload_id, lambda existing: self._fail(existing, reason, event.at))
            return self._fail(upload, reason, event.at)
        upload.first_placement = manifests.load(
            self._s3, event.bucket, lender_id
        ) is None and not accounts.lender_has_accounts(lender_id)
        if not uploads.begin(upload):
            return self._redelivered(upload_id, self._queue_first_chunk)
        return self._queue_first_chunk(upload)

    def _queue_first_chunk(self, upload: Upload) -> Outcome:
        self._enqueue({"upload_id": upload.upload_id, "offset": 0}, 0)
        return Outcome("portfolio", "queued", upload.upload_id)

    @staticmethod
    def _redelivered(upload_id: str, first_step: Callable[[Upload], Outcome]) -> Outcome:
        """S3 delivered this object again. If an earlier invocation recorded the upload and then failed before
        its first step (the first chunk queued, or the failure recorded), that step is taken now: S3's retry of
        the failed invocation is the only thing that would ever take it."""
        existing = uploads.get(upload_id)
        if (
            existing is not None
            and existing.status is UploadStatus.PROCESSING
            and (existing.offset, existing.chunks) == (0, 0)
        ):
            return first_step(existing)
        return Outcome("portfolio", "duplicate", upload_id)

    def _policy(self, event: ObjectCreated, lender_id: str, ext: str) -> Outcome:
        import yaml  # ~20 ms of import, only for a lender's policy file (rare beside portfolios and their chunks)

        prefix = f"{names.REPORTS_PREFIX}{lender_id}/policy-{event.etag[:12]}/"
        body = self._s3.get_object(Bucket=event.bucket, Key=event.key, **_version(event))["Body"].read()
        try:
            document = json.loads(body) if ext == "json" else yaml.safe_load(body)
            if not isinstance(document, dict):
                raise ValueError("the policy must be a mapping of settings")
            if document.setdefault("lender_id", lender_id) != lender_id:
                raise ValueError(f"lender_id {document['lender_id']!r} does not match the folder {lender_id!r}")
            profile = LenderProfile.model_validate(document)
        except (ValueError, yaml.YAMLError, UnicodeDecodeError) as exc:
            errors = _policy_errors(exc)
            reports.put_json(
                self._s3,
                event.bucket,
                prefix + "summary.json",
                {
                    "key": event.key,
                    "status": "rejected",
                    "at": iso_utc(event.at),
                    "errors": errors,
                    "note": "the previous policy stays in force",
                },
            )
            self._audit(
                lender_id,
                event.at,
                EventType.POLICY_REJECTED,
                f"policy:{event.etag}",
                {"key": event.key, "errors": len(errors)},
            )
            return Outcome("policy", "rejected", detail={"errors": errors, "report": prefix + "summary.json"})
        lenders.put(profile)
        reports.put_json(
            self._s3,
            event.bucket,
            prefix + "summary.json",
            {"key": event.key, "status": "accepted", "at": iso_utc(event.at)},
        )
        self._audit(lender_id, event.at, EventType.POLICY_UPDATED, f"policy:{event.etag}", {"key": event.key})
        return Outcome("policy", "accepted", detail={"report": prefix + "summary.json"})

    # --- chunks -------------------------------------------------------------------------------------

    def process_chunk(self, upload_id: str, offset: int, now: datetime, attempt: int) -> Outcome:
        """Process one chunk of an upload from `offset`; `attempt` > 1 means an earlier try may have written."""
        upload = uploads.get(upload_id)
        if upload is None or upload.status is not UploadStatus.PROCESSING or upload.offset != offset:
            return Outcome("portfolio", "stale", upload_id)  # a duplicate message for a chunk already done
        if not uploads.acquire_lender_lock(upload.lender_id, upload_id, now):
            self._enqueue({"upload_id": upload_id, "offset": offset}, 60)  # another upload of this lender runs
            return Outcome("portfolio", "waiting", upload_id)
        started = self._clock()
        try:
            done = _Chunk(self, upload, attempt, started).run(now)
        except (PortfolioError, NotTextError, csv.Error) as exc:
            return self._fail(upload, f"the file cannot be read: {exc}", now)
        upload.processing_ms += int((self._clock() - started) * 1000)
        upload.chunks += 1
        if not done:
            if uploads.checkpoint(upload, offset):
                self._enqueue({"upload_id": upload_id, "offset": upload.offset}, 0)
            return Outcome("portfolio", "continuing", upload_id, {"offset": upload.offset, **upload.counts})
        return self._complete(upload, offset, now)

    def _complete(self, upload: Upload, previous_offset: int, now: datetime) -> Outcome:
        rejected_key = reports.compose_rejected(self._s3, upload.bucket, upload.report_prefix, upload.header or "")
        summary = reports.summary(upload, "completed", now, rejected_key)
        reports.put_json(self._s3, upload.bucket, upload.report_prefix + "summary.json", summary)
        if not uploads.checkpoint(upload, previous_offset):
            return Outcome("portfolio", "stale", upload.upload_id)
        # The status changes last: a crash before it retries these steps, each of them idempotent.
        self._audit(
            upload.lender_id,
            now,
            EventType.UPLOAD_COMPLETED,
            f"upload:{upload.upload_id}",
            {"upload_id": upload.upload_id, **upload.counts},
        )
        uploads.release_lender_lock(upload.lender_id, upload.upload_id)
        uploads.finish(upload, UploadStatus.COMPLETED, now)
        return Outcome("portfolio", "completed", upload.upload_id, summary)

    def _fail(self, upload: Upload, reason: str, now: datetime) -> Outcome:
        summary = reports.summary(upload, "failed", now, None, error=reason)
        reports.put_json(self._s3, upload.bucket, upload.report_prefix + "summary.json", summary)
        uploads.begin(upload)  # recorded even when it failed before it started
        self._audit(
            upload.lender_id,
            now,
            EventType.UPLOAD_FAILED,
            f"upload:{upload.upload_id}",
            {"upload_id": upload.upload_id, "error": reason[:300]},
        )
        uploads.release_lender_lock(upload.lender_id, upload.upload_id)
        uploads.finish(upload, UploadStatus.FAILED, now, error=reason)
        return Outcome("portfolio", "failed", upload.upload_id, summary)

    def _audit(self, lender_id: str, at: datetime, kind: EventType, event_id: str, detail: dict[str, Any]) -> None:
        events.append(AuditEvent(lender_trail(lender_id), at, kind, event_id, ACTOR, detail))


class _Chunk:
    """One invocation's share of an upload: rows from the checkpoint until the time budget is spent."""

    def __init__(self, ingestion: Ingestion, upload: Upload, attempt: int, started: float) -> None:
        self._ingestion = ingestion
        self._upload = upload
        self._deadline = started + ingestion._budget_seconds
        if attempt > 1:
            # An earlier try of this chunk may have written: from now on, create only what is absent.
            upload.first_placement = False
        self._pending: list[tuple[RowAccepted, str | None]] = []  # row, its known outcome if replayed
        self._rejected: list[RowRejected] = []
        self._manifest = Manifest()
        self._header: Header  # set when the chunk reads its header

    def run(self, now: datetime) -> bool:
        """Process rows until the budget is spent (False: more to do) or the file ends (True)."""
        ingestion, upload = self._ingestion, self._upload
        s3 = ingestion._s3
        lender = lenders.get(upload.lender_id)
        if lender is None:
            raise PortfolioError(f"lender {upload.lender_id!r} has no policy any more")
        self._manifest = manifests.load(s3, upload.bucket, upload.lender_id) or Manifest()
        start_offset = upload.offset
        resume = {"Range": f"bytes={start_offset}-"} if start_offset else {}
        response = s3.get_object(Bucket=upload.bucket, Key=upload.key, **_version_of(upload), **resume)
        size = int(response["ContentRange"].rsplit("/", 1)[1]) if start_offset else int(response["ContentLength"])
        lines = CountingLines(response["Body"], start_offset, first_line=upload.next_line if start_offset else 1)
        iterator = iter(lines)
        if upload.header is None:
            upload.header = next(iterator, "")
        header: Header = parse_header(upload.header)
        self._header = header
        finished = True
        for row in read_rows(iterator, header, lender, ingestion._fact_key(), first_line=lines.next_line):
            self._count("total")
            if isinstance(row, RowRejected):
                self._reject(row)
            else:
                self._accept(row)
            if len(self._pending) >= WRITE_BATCH:
                self._flush(now)
            if ingestion._clock() >= self._deadline:
                finished = False
                break
        self._flush(now)
        upload.offset, upload.next_line = lines.offset, lines.next_line
        reports.put_rejected_part(s3, upload.bucket, upload.report_prefix, start_offset, header, self._rejected)
        manifests.save(s3, upload.bucket, upload.lender_id, self._manifest)
        return finished or upload.offset >= size

    def _count(self, outcome: str) -> None:
        self._upload.counts[outcome] = self._upload.counts.get(outcome, 0) + 1

    def _reject(self, row: RowRejected) -> None:
        self._count("rejected")
        self._rejected.append(row)

    def _accept(self, row: RowAccepted) -> None:
        account = row.account
        previous = self._manifest.get(account.external_ref)
        if previous and previous.upload_id == self._upload.upload_id:
            if previous.line != row.line:
                reason = f"duplicate external_ref {account.external_ref!r} in this file (first on line {previous.line})"
                self._reject(RowRejected(row.line, (reason,), row.raw(self._header)))
                return
            # A replayed chunk: this row's outcome was decided by the earlier try.
            self._count("accepted")
            self._count(previous.outcome)
            if previous.outcome != "unchanged":
                self._pending.append((row, previous.outcome))
            return
        self._count("accepted")
        fingerprint = placement_fingerprint(account)
        if previous and previous.fingerprint == fingerprint:
            self._decided(account, row.line, fingerprint, "unchanged")
            return
        self._pending.append((row, None))

    def _decided(self, account: Account, line: int, fingerprint: str, outcome: str) -> None:
        self._count(outcome)
        self._manifest[account.external_ref] = Entry(fingerprint, self._upload.upload_id, line, outcome)

    def _flush(self, now: datetime) -> None:
        if not self._pending:
            return
        upload, shards = self._upload, self._ingestion._due_shards
        pending, self._pending = self._pending, []
        contact = {row.account.account_id: outreach.first_contact_at(row.account, now) for row, _ in pending}
        items = [
            accounts.new_item(row.account, contact[row.account.account_id], upload.upload_id, now, shards)
            for row, _ in pending
        ]
        if upload.first_placement:
            accounts.put_new(items)
            existing: set[str] = set()
        else:
            existing, _ = accounts.create_absent(items)
        # The debtor's fields of a known account are sealed under its own data key: one BatchGetItem per 100.
        keys = accounts.placement_keys(sorted(existing)) if existing else {}
        for row, known_outcome in pending:
            account = row.account
            if account.account_id in existing:
                first = contact[account.account_id]
                try:
                    data_key = keys.get(account.account_id)
                    if not accounts.update_placement(account, first, upload.upload_id, now, shards, data_key):
                        # Payments through cleardue: the lender's balance less the ones it has not heard of.
                        accounts.rebase_placement(account, first, upload.upload_id, now, shards)
                except (PaymentError, accounts.AccountErased) as exc:
                    # PaymentError: e.g. another currency than the payments were made in.
                    reason = ERASED_REASON if isinstance(exc, accounts.AccountErased) else f"balance: {exc}"
                    self._upload.counts["accepted"] -= 1
                    self._reject(RowRejected(row.line, (reason,), row.raw(self._header)))
                    continue
            if known_outcome is None:
                outcome = "updated" if account.account_id in existing else "new"
                self._decided(account, row.line, placement_fingerprint(account), outcome)


def _version(event: ObjectCreated) -> dict[str, str]:
    return {"VersionId": event.version_id} if event.version_id else {"IfMatch": event.etag}


def _version_of(upload: Upload) -> dict[str, str]:
    return {"VersionId": upload.version_id} if upload.version_id else {"IfMatch": upload.etag}


def _policy_errors(exc: Exception) -> list[str]:
    if isinstance(exc, ValidationError):
        return [f"{'.'.join(str(p) for p in error['loc']) or 'policy'}: {error['msg']}" for error in exc.errors()]
    return [str(exc)]
