"""EventBridge daily schedule -> each lender's report (HTML with charts + CSVs) in S3 under
reports/<lender>/<date>/ (functions/reports/service.py, docs/reports.md)."""

from __future__ import annotations

from dataclasses import asdict
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.clock import ensure_utc
from functions.observability import lambda_entry, logger, metrics
from functions.reports import service
from functions.reports.settings import ReportsSettings
from functions.store import report_reader, tables


class ReportsFailed(RuntimeError):
    """Some lenders' reports could not be written (the others were): the invocation fails so it is retried."""


@cache
def _runtime() -> tuple[ReportsSettings, Any]:
    settings = tables.configure(ReportsSettings.from_env())
    return settings, boto3.client("s3")


@lambda_entry
@event_parser(model=EventBridgeModel)
def lambda_handler(event: EventBridgeModel, context: LambdaContext) -> dict[str, Any]:
    settings, s3 = _runtime()
    as_of = ensure_utc(event.time)  # time comes from the event: the day this run reports
    requested = event.detail.get("lender_ids") if isinstance(event.detail, dict) else None
    lender_ids = [str(i) for i in requested] if isinstance(requested, list) else report_reader.lender_ids()
    summary = service.run(
        lender_ids, as_of, s3=s3, bucket=settings.portfolio_bucket, model_location=settings.propensity_model
    )
    logger.info(
        "lender reports",
        extra={"as_of": summary.as_of, "written": len(summary.written), "failed": sorted(summary.failed)},
    )
    metrics.add_metric(name="LenderReportsWritten", unit=MetricUnit.Count, value=len(summary.written))
    metrics.add_metric(name="LenderReportsFailed", unit=MetricUnit.Count, value=len(summary.failed))
    metrics.add_metric(name="ReportedViolations", unit=MetricUnit.Count, value=summary.violations)
    if summary.failed:
        raise ReportsFailed(f"{len(summary.failed)} lender report(s) failed: {', '.join(sorted(summary.failed))}")
    return asdict(summary)
