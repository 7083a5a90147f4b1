"""EventBridge schedule -> due accounts -> contact jobs on the per-channel SQS queues."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core import propensity
from functions.core.account import Channel
from functions.core.clock import ensure_utc
from functions.core.compliance import GatePolicy, gate_policy
from functions.core.lender import PlanBounds
from functions.core.policy import Rules, restrict_channels
from functions.observability import METRICS_NAMESPACE, lambda_entry, logger, metrics
from functions.scheduler.service import ChargeQueue, Scheduler, ScheduleSummary
from functions.scheduler.settings import SchedulerSettings
from functions.store import StoreError, erasure, learning, lenders, tables


@cache
def _runtime() -> tuple[SchedulerSettings, Any]:
    settings = tables.configure(SchedulerSettings.from_env())
    return settings, boto3.client("sqs")


@cache
def _model(location: str | None) -> propensity.Model:
    """The propensity model, read once per container: the configured artifact, else the shipped default (also
    when the configured one cannot be read: a tick never fails for want of a model)."""
    try:
        return learning.load_model(location)
    except StoreError:
        logger.exception("propensity model unreadable: using the shipped default", extra={"location": location})
        return propensity.default_model()


def _queues(settings: SchedulerSettings) -> dict[Channel, str]:
    queues = {Channel.EMAIL: settings.email_queue_url}
    if settings.sms_queue_url:
        queues[Channel.SMS] = settings.sms_queue_url
    return queues


@lambda_entry
@event_parser(model=EventBridgeModel)
def lambda_handler(event: EventBridgeModel, context: LambdaContext) -> dict[str, Any]:
    settings, sqs = _runtime()
    now = ensure_utc(event.time)  # time comes from the event: the tick this run is for
    queues = _queues(settings)
    available = frozenset(queues)

    profile = cache(lenders.get_or_default)  # each lender's profile read once per run

    @cache
    def rules_for(lender_id: str) -> tuple[Rules, GatePolicy]:  # each lender's policy compiled once per run
        rules = restrict_channels(profile(lender_id).rules(), available)
        return rules, gate_policy(rules)

    def plan_bounds_for(lender_id: str) -> PlanBounds:
        return profile(lender_id).plans

    charges = ChargeQueue(settings.charge_queue_url, plan_bounds_for) if settings.charge_queue_url else None
    summary = Scheduler(
        sqs,
        queues,
        settings.due_shards,
        rules_for,
        remaining_ms=context.get_remaining_time_in_millis,
        charges=charges,
        model=_model(settings.propensity_model),
    ).run(now)
    logger.info("schedule pass", extra=_log_fields(now, summary))
    metrics.add_metric(name="AccountsDue", unit=MetricUnit.Count, value=summary.due)
    metrics.add_metric(name="JobsEnqueued", unit=MetricUnit.Count, value=summary.enqueued)
    metrics.add_metric(name="ContactsHeld", unit=MetricUnit.Count, value=summary.held)
    metrics.add_metric(name="ContactsTimed", unit=MetricUnit.Count, value=summary.timed)
    metrics.add_metric(name="EnqueueFailures", unit=MetricUnit.Count, value=summary.enqueue_failures)
    metrics.add_metric(name="AccountsLeftForNextRun", unit=MetricUnit.Count, value=summary.left)
    metrics.add_metric(name="ChargesEnqueued", unit=MetricUnit.Count, value=summary.charges_enqueued)
    metrics.add_metric(name="ChargeEnqueueFailures", unit=MetricUnit.Count, value=summary.charge_enqueue_failures)
    for rule, count in sorted(summary.held_by.items()):
        with single_metric(
            name="ContactsHeldByRule", unit=MetricUnit.Count, value=count, namespace=METRICS_NAMESPACE
        ) as metric:
            metric.add_dimension(name="rule", value=rule)
    for channel, count in sorted(summary.by_channel.items()):
        with single_metric(
            name="JobsEnqueuedByChannel", unit=MetricUnit.Count, value=count, namespace=METRICS_NAMESPACE
        ) as metric:
            metric.add_dimension(name="channel", value=channel)
    answer = asdict(summary)
    if erased := _due_erasures(now):
        answer["erased"] = len(erased)
    return answer


def _log_fields(now: datetime, summary: ScheduleSummary) -> dict[str, Any]:
    """The pass's summary as the log line's fields: the job ids left out (one per message), the counts by channel as
    `enqueued_<channel>` (under a key named `email` the log's PII masking would hide the number)."""
    fields = {key: value for key, value in asdict(summary).items() if key not in ("job_ids", "by_channel")}
    fields.update({f"enqueued_{channel}": count for channel, count in sorted(summary.by_channel.items())})
    return {"at": now.isoformat(), **fields}


def _due_erasures(now: Any) -> list[str]:
    """Deferred erasures whose retention period has ended (GDPR Art. 17 after Reg F 1006.100): carried out on the
    first tick after their date. One Query of a sparse index per tick; a failure waits for the next tick."""
    try:
        erased = erasure.run_due(now)
    except StoreError:
        logger.exception("carrying out due erasures failed: the next tick tries again")
        return []
    if erased:
        logger.info("erasures carried out", extra={"count": len(erased)})
        metrics.add_metric(name="ErasuresCarriedOut", unit=MetricUnit.Count, value=len(erased))
    return erased
