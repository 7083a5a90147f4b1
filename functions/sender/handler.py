"""SQS contact jobs -> SES (email_handler) or SNS (sms_handler), with partial batch failures.

A poison message (not a job) fails alone and, after the queue's maxReceiveCount, lands in the DLQ.
A transient provider error fails its record: SQS retries it after a back-off that grows with the
receive count (the handler sets the message's visibility timeout), so a throttled channel slows down.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Json

from functions.core.account import Channel
from functions.core.clock import ensure_utc
from functions.core.jobs import Job
from functions.observability import lambda_entry, logger, metrics
from functions.sender import service
from functions.sender.settings import EmailSettings, SenderSettings, SmsSettings
from functions.store import tables

BACKOFF_BASE_SECONDS = 30
BACKOFF_MAX_SECONDS = 900
OUTCOME_METRICS = {
    service.SENT: "RemindersSent",
    service.SUPPRESSED: "RemindersSuppressed",
    service.UNDELIVERABLE: "RemindersUndeliverable",
}


class JobRecord(SqsRecordModel):
    body: Json[Job]  # type: ignore[assignment]


# Report every failure per item, even when the whole batch failed: SQS retries exactly those.
processor = BatchProcessor(event_type=EventType.SQS, model=JobRecord, raise_on_entire_batch_failure=False)


@dataclass(frozen=True)
class Runtime:
    settings: SenderSettings
    sender: service.Sender
    deliver: Any  # the sender's `deliver`, idempotent on the job id
    config: IdempotencyConfig
    sqs: Any


def _build(channel: Channel) -> Runtime:
    settings: SenderSettings
    sender: service.Sender
    common: dict[str, Any]
    if channel is Channel.EMAIL:
        email_settings = tables.configure(EmailSettings.from_env())
        settings = email_settings
        common = _common(settings)
        sender = service.EmailSender(
            boto3.client("sesv2"), str(email_settings.default_sender_email), email_settings.ses_configuration_set,
            **common,
        )  # fmt: skip
    else:
        sms_settings = tables.configure(SmsSettings.from_env())
        settings = sms_settings
        sender = service.SmsSender(boto3.client("sns"), sms_settings.sms_sender_id, **_common(settings))
    # Keyed on the job and its channel: an email and a text decided for the same slot share a job id.
    config = IdempotencyConfig(
        event_key_jmespath="[job_id, channel]", expires_after_seconds=settings.idempotency_days * 86400
    )
    persistence = DynamoDBPersistenceLayer(table_name=settings.idempotency_table)
    deliver = idempotent_function(data_keyword_argument="job", config=config, persistence_store=persistence)(
        sender.deliver
    )
    return Runtime(settings, sender, deliver, config, boto3.client("sqs"))


def _common(settings: SenderSettings) -> dict[str, Any]:
    return {
        "portal_url": settings.portal_url,
        "portal_api_url": settings.portal_api_url,
        "link_key": lambda: str(parameters.get_secret(settings.link_key_secret, max_age=300)).encode(),
        "lender_cache": service.LenderCache(settings.lender_cache_seconds),
    }


@cache
def _runtime(channel: Channel = Channel.EMAIL) -> Runtime:
    """Clients, tables and the idempotent delivery step, built once per container (never at import)."""
    return _build(channel)


def _process(record: JobRecord, channel: Channel) -> None:
    job: Job = record.body  # type: ignore[assignment]
    runtime = _runtime(channel)
    # Time comes from the event: the job's slot, or when it was enqueued if that is later.
    now = max(ensure_utc(job.scheduled_for), ensure_utc(record.attributes.SentTimestamp))
    try:
        delivery = service.Delivery.from_dict(runtime.deliver(job=job, now=now))
        service.record(job, delivery, now, runtime.settings.due_shards)
    except (service.TransientSendError, ClientError, BotoCoreError) as exc:
        _back_off(runtime, record)
        metrics.add_metric(name="SendRetries", unit="Count", value=1)
        logger.warning("job will be retried", extra={"job_id": job.job_id, "error": str(exc)})
        raise
    metrics.add_metric(name=OUTCOME_METRICS[delivery.outcome], unit="Count", value=1)
    logger.info(
        "job done",
        extra={"job_id": job.job_id, "channel": channel.value, "outcome": delivery.outcome, "reason": delivery.reason},
    )


def _back_off(runtime: Runtime, record: JobRecord) -> None:
    """Retry later, and later again on each receive (30 s, 60 s, ... up to 15 min): SQS's visibility is the delay."""
    receives = int(record.attributes.ApproximateReceiveCount or 1)
    delay = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (receives - 1))
    _, _, _, region, account_id, queue_name = record.eventSourceARN.split(":", 5)
    try:
        queue_url = runtime.sqs.get_queue_url(QueueName=queue_name, QueueOwnerAWSAccountId=account_id)["QueueUrl"]
        runtime.sqs.change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=record.receiptHandle, VisibilityTimeout=delay
        )
    except (ClientError, BotoCoreError) as exc:  # the queue's own visibility timeout still applies
        logger.info("could not set the retry delay", extra={"error": str(exc)})


def email_record_handler(record: JobRecord) -> None:
    _process(record, Channel.EMAIL)


def sms_record_handler(record: JobRecord) -> None:
    _process(record, Channel.SMS)


def _handle(
    event: dict[str, Any], context: LambdaContext, channel: Channel, record_handler: Any
) -> PartialItemFailureResponse:
    _runtime(channel).config.register_lambda_context(context)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


@lambda_entry
def email_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return _handle(event, context, Channel.EMAIL, email_record_handler)


@lambda_entry
def sms_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return _handle(event, context, Channel.SMS, sms_record_handler)


# The CDK app and the local stack named the email sender `lambda_handler` before SMS existed.
handler = email_handler
lambda_handler = email_handler
