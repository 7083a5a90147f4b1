"""SQS email jobs -> SES, with partial batch failures; a poison message ends in the DLQ."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Json

from functions.core.clock import ensure_utc
from functions.core.jobs import Job
from functions.observability import lambda_entry, logger, metrics
from functions.sender import service
from functions.sender.settings import SenderSettings
from functions.store import tables


class JobRecord(SqsRecordModel):
    body: Json[Job]  # type: ignore[assignment]


# Report every failure per item, even when the whole batch failed: SQS retries exactly those.
processor = BatchProcessor(event_type=EventType.SQS, model=JobRecord, raise_on_entire_batch_failure=False)


@cache
def _runtime() -> tuple[IdempotencyConfig, Any, SenderSettings]:
    """Clients, tables and the idempotent delivery step, built once per container (never at import)."""
    settings = tables.configure(SenderSettings.from_env())
    sender = service.EmailSender(boto3.client("sesv2"), settings.default_sender_email, settings.ses_configuration_set)
    config = IdempotencyConfig(event_key_jmespath="job_id", expires_after_seconds=settings.idempotency_days * 86400)
    persistence = DynamoDBPersistenceLayer(table_name=settings.idempotency_table)
    deliver = idempotent_function(data_keyword_argument="job", config=config, persistence_store=persistence)(
        sender.deliver
    )
    return config, deliver, settings


def record_handler(record: JobRecord) -> None:
    job: Job = record.body  # type: ignore[assignment]
    _, deliver, settings = _runtime()
    # Time comes from the event: the job's slot, or when it was enqueued if that is later.
    now = max(ensure_utc(job.scheduled_for), ensure_utc(record.attributes.SentTimestamp))
    delivery = service.Delivery.from_dict(deliver(job=job, now=now))
    service.record(job, delivery, now, settings.due_shards)
    metrics.add_metric(
        name="RemindersSent" if delivery.outcome == service.SENT else "RemindersSuppressed", unit="Count", value=1
    )
    logger.info("job done", extra={"job_id": job.job_id, "outcome": delivery.outcome, "reason": delivery.reason})


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    config, _, _ = _runtime()
    config.register_lambda_context(context)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
