"""The lender report (docs/reports.md): built from a lender's accounts and audit trails (and the experiments'
standings), rendered to HTML with charts and CSVs, written to `reports/<lender>/<YYYY-MM-DD>/` in the
portfolio bucket (the date is `as_of`'s UTC date) or to a local directory.

Library use (the daily Lambda and `cleardue report` call this; the simulation's one call is the package's
`functions.reports.write_report(records, as_of, directory)`, which does the two steps below per lender):

    from functions.reports import service

    # From records the caller already holds (kpis.AccountRecord: account, trail, placed_at):
    report = service.build_report(records, as_of, lender_id="acme", experiments=standings, profile=profile)
    # ... or read everything from the tables the store is configured for (`tables.configure`); on moto, where a
    # Query scans the whole table, `scan_trails=True` reads every trail in one Scan:
    report = service.report_for_lender("acme", as_of, scan_trails=True)

    service.write_report(report, s3=boto3.client("s3"), bucket=bucket)  # -> reports/acme/2026-03-08/...
    service.write_report(report, directory=Path("out"))                # -> out/acme/2026-03-08/...

`build_report(records, as_of, *, lender_id, experiments=None, profile=None, priors=None, model=None) -> Report`:
`as_of` an aware
datetime (the moment described: events after it are left out), `experiments` the standings by segment
(`{segment: {"<template>#<variant>": Standing}}`, as `store.report_reader.standings` reads them), `profile` the
lender's `LenderProfile` (stage windows and the compliance check's numbers; the defaults without), `priors` the
lender's send-time prior counts (`{segment: {hour_of_week: count}}`, as `store.learning.prior_counts` reads them)
and `model` the propensity model in use (`store.learning.load_model`): without them, "What cleardue learned"
says not available. `Report.files` maps each file name (report.html, kpis.csv, daily.csv, messages.csv,
funnel.csv, experiments.csv, sendtime.csv, model.csv, summary.json) to its bytes; `Report.figures` holds the
numbers (core.reporting.LenderFigures).
`write_report(...) -> list[str]` returns the keys (or paths) written.

Next to the dated folders, `reports/<lender>/latest.json` names the latest daily report (its date and files), so
a reader finds it with one GetObject. Upload reports live at `reports/<lender>/<upload_id>/` (`u-` + 16 hex
digits): a date (`YYYY-MM-DD`) is never an upload id.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from functions import names
from functions.core.audit_check import CheckRules
from functions.core.clock import ensure_utc, iso_utc
from functions.core.experiments import Standing
from functions.core.kpis import AccountRecord
from functions.core.lender import LenderProfile
from functions.core.propensity import Model, default_model
from functions.core.reporting import LenderFigures, experiment_segments, figures
from functions.reports import render

DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")
LATEST = "latest.json"
REPORT_FILES = ("report.html", *render.CSV_FILES, "summary.json")
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".json": "application/json",
}


@dataclass
class Report:
    """One lender's report at `as_of`: the figures and the rendered files."""

    figures: LenderFigures
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def lender_id(self) -> str:
        return self.figures.lender_id

    @property
    def day(self) -> date:
        return self.figures.as_of.date()


def report_prefix(lender_id: str, day: date) -> str:
    """`reports/<lender>/<YYYY-MM-DD>/`."""
    return f"{names.REPORTS_PREFIX}{lender_id}/{day.isoformat()}/"


def latest_key(lender_id: str) -> str:
    """`reports/<lender>/latest.json`: the pointer to the latest daily report."""
    return f"{names.REPORTS_PREFIX}{lender_id}/{LATEST}"


def build_report(
    records: Sequence[AccountRecord],
    as_of: datetime,
    *,
    lender_id: str,
    experiments: Mapping[str, Mapping[str, Standing]] | None = None,
    profile: LenderProfile | None = None,
    priors: Mapping[str, Mapping[int, int]] | None = None,
    model: Model | None = None,
    model_source: str | None = None,
) -> Report:
    """The report of one lender's accounts (`records`) at `as_of` (see the module docstring). `priors`: the
    lender's send-time prior counts (`store.learning.prior_counts`); `model`: the propensity model in use, read
    from `model_source` (default: named after the shipped model or "a published artifact"). Either None: its
    part of "What cleardue learned" says not available."""
    profile = profile or LenderProfile.default_for(lender_id)
    rules = profile.rules()
    numbers = figures(
        lender_id,
        [record for record in records if record.account.lender_id == lender_id],
        ensure_utc(as_of),
        bounds=rules.bounds,
        check_rules=CheckRules.from_rules(rules),
        standings=experiments,
        priors=priors,
        model=model,
        model_source=model_source or (_source_of(model) if model is not None else ""),
    )
    return Report(numbers, render.render(numbers))


SHIPPED_MODEL = (
    "the default shipped with the code (functions/core/propensity_default.json, trained on a synthetic population)"
)


def _source_of(model: Model, location: str | None = None) -> str:
    if model.version == default_model().version:
        shipped = SHIPPED_MODEL
        return f"{shipped}; nothing published at {location}" if location else shipped
    return location or "a published artifact"


def read_learning(
    lender_id: str, model_location: str | None = None
) -> tuple[dict[str, dict[int, int]] | None, Model | None, str]:
    """The lender's send-time prior counts and the propensity model the scheduler uses (`model_location`: the
    reports settings' PROPENSITY_MODEL; else the shipped default) with where it came from. A failure to read either is
    logged and gives None: the report says "not available" rather than failing."""
    from functions.observability import logger
    from functions.store import StoreError, learning

    priors: dict[str, dict[int, int]] | None = None
    try:
        priors = learning.prior_counts(lender_id)
    except StoreError:
        logger.exception(
            "send-time priors unreadable: the report shows them as not available", extra={"lender": lender_id}
        )
    location = model_location or None
    model: Model | None = None
    try:
        model = learning.load_model(location)
    except StoreError:
        logger.exception(
            "propensity model unreadable: the report shows it as not available", extra={"location": location}
        )
    return priors, model, _source_of(model, location) if model is not None else ""


def read_learned(
    lender_id: str, records: Sequence[AccountRecord], model_location: str | None = None
) -> tuple[dict[str, dict[str, Standing]], dict[str, dict[int, int]] | None, Model | None, str]:
    """What the report shows beside the trails: the experiments' standings of the segments `records` name, the
    send-time priors, and the propensity model in use with where it came from (`read_learning`)."""
    from functions.store import report_reader

    standings = report_reader.standings(lender_id, experiment_segments(records))
    return standings, *read_learning(lender_id, model_location)


def report_for_lender(
    lender_id: str, as_of: datetime, *, scan_trails: bool = False, model_location: str | None = None
) -> Report:
    """Read the lender's accounts (no PII), trails, policy, experiment standings, send-time priors and the
    propensity model in use (`read_learning`; `model_location` s3://bucket/key, default the environment's), and
    build the report.
    `scan_trails`: read the trails with one Scan of the events table instead of one Query per account (for a
    simulation on moto, where every Query scans the table)."""
    from functions.store import lenders, report_reader

    records = report_reader.lender_records(lender_id, scan=scan_trails)
    standings, priors, model, source = read_learned(lender_id, records, model_location)
    return build_report(
        records,
        as_of,
        lender_id=lender_id,
        experiments=standings,
        profile=lenders.get_or_default(lender_id),
        priors=priors,
        model=model,
        model_source=source,
    )


def _content_type(name: str) -> str:
    return CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream")


def latest_pointer(report: Report) -> dict[str, Any]:
    return {
        "date": report.day.isoformat(),
        "as_of": iso_utc(report.figures.as_of),
        "prefix": report_prefix(report.lender_id, report.day),
        "files": sorted(report.files),
    }


def write_report(
    report: Report, *, s3: Any = None, bucket: str | None = None, directory: Path | None = None
) -> list[str]:
    """Write the report's files to S3 (`s3` client and `bucket`: `reports/<lender>/<date>/<file>`, then the
    `latest.json` pointer unless a later day's report is already there) and/or under `directory`
    (`<directory>/<lender>/<date>/<file>`). Returns what was written. Writing the same day again replaces it."""
    written: list[str] = []
    if directory is not None:
        folder = Path(directory) / report.lender_id / report.day.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        for name, body in sorted(report.files.items()):
            (folder / name).write_bytes(body)
            written.append(str(folder / name))
    if s3 is not None:
        if not bucket:
            raise ValueError("writing a report to S3 needs the bucket")
        prefix = report_prefix(report.lender_id, report.day)
        for name, body in sorted(report.files.items()):
            s3.put_object(Bucket=bucket, Key=prefix + name, Body=body, ContentType=_content_type(name))
            written.append(prefix + name)
        previous = _read_latest(s3, bucket, report.lender_id)
        if previous is None or str(previous.get("date", "")) <= report.day.isoformat():
            pointer = json.dumps(latest_pointer(report), indent=2).encode("utf-8")
            s3.put_object(Bucket=bucket, Key=latest_key(report.lender_id), Body=pointer, ContentType="application/json")
            written.append(latest_key(report.lender_id))
    return written


def _read_latest(s3: Any, bucket: str, lender_id: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        document = json.loads(s3.get_object(Bucket=bucket, Key=latest_key(lender_id))["Body"].read())
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound", "AccessDenied", "403"):
            return None
        raise
    except ValueError:
        return None  # an unreadable pointer is replaced
    return document if isinstance(document, dict) else None


@dataclass
class RunSummary:
    as_of: str
    written: dict[str, str] = field(default_factory=dict)  # lender -> prefix
    failed: dict[str, str] = field(default_factory=dict)  # lender -> error type
    accounts: int = 0
    violations: int = 0


def run(
    lender_ids: Iterable[str], as_of: datetime, *, s3: Any, bucket: str, model_location: str | None = None
) -> RunSummary:
    """The daily run: each lender's report written to S3. A lender that fails is recorded and the others go on."""
    from botocore.exceptions import BotoCoreError, ClientError

    from functions.store import StoreError

    summary = RunSummary(iso_utc(as_of))
    for lender_id in lender_ids:
        try:
            report = report_for_lender(lender_id, as_of, model_location=model_location)
            write_report(report, s3=s3, bucket=bucket)
        except (StoreError, ClientError, BotoCoreError) as exc:
            summary.failed[lender_id] = type(exc).__name__
            continue
        summary.written[lender_id] = report_prefix(lender_id, report.day)
        summary.accounts += report.figures.overall.accounts
        summary.violations += report.figures.violations
    return summary
