"""EventBridge schedule -> due accounts -> contact jobs on the per-channel SQS queues."""

from __future__ import annotations

from dataclasses import asdict
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.clock import ensure_utc
from functions.observability import lambda_entry, logger, metrics
from functions.scheduler.service import Scheduler
from functions.scheduler.settings import SchedulerSettings
from functions.store import lenders, tables


@cache
def _runtime() -> tuple[SchedulerSettings, Any]:
    settings = tables.configure(SchedulerSettings.from_env())
    return settings, boto3.client("sqs")


@lambda_entry
@event_parser(model=EventBridgeModel)
def lambda_handler(event: EventBridgeModel, context: LambdaContext) -> dict[str, Any]:
    settings, sqs = _runtime()
    now = ensure_utc(event.time)  # time comes from the event: the tick this run is for
    cache_lenders = cache(lenders.get_or_default)
    summary = Scheduler(sqs, settings.email_queue_url, settings.due_shards, cache_lenders).run(now)
    logger.info(
        "schedule pass", extra={"at": now.isoformat(), **{k: v for k, v in asdict(summary).items() if k != "job_ids"}}
    )
    metrics.add_metric(name="AccountsDue", unit="Count", value=summary.due)
    metrics.add_metric(name="JobsEnqueued", unit="Count", value=summary.enqueued)
    metrics.add_metric(name="ContactsHeld", unit="Count", value=summary.held)
    metrics.add_metric(name="EnqueueFailures", unit="Count", value=summary.enqueue_failures)
    return asdict(summary)
