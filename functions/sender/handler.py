"""SQS contact jobs -> SES (email_handler) or SNS (sms_handler), with partial batch failures.

The batch is sent as a whole (`functions.sender.batch`: one read, one claim and one record for up to
ten jobs, each job still at most once, keyed on its job id); Powertools' BatchProcessor then reports
each record's own result, so a throttled or poison record fails alone.

A poison message (not a job) fails alone and, after the queue's maxReceiveCount, lands in the DLQ.
A transient provider error fails its record: SQS retries it after a back-off that grows with the
receive count (the handler sets the message's visibility timeout), so a throttled channel slows down.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Json, ValidationError

from functions.core.account import Channel
from functions.core.clock import ensure_utc
from functions.core.jobs import Job
from functions.observability import lambda_entry, logger, metrics
from functions.sender import batch, service
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
    sqs: Any


def _build(channel: Channel) -> Runtime:
    settings: SenderSettings
    sender: service.Sender
    if channel is Channel.EMAIL:
        email_settings = tables.configure(EmailSettings.from_env())
        settings = email_settings
        sender = service.EmailSender(
            boto3.client("sesv2"), str(email_settings.default_sender_email), email_settings.ses_configuration_set,
            _setup(settings),
        )  # fmt: skip
    else:
        sms_settings = tables.configure(SmsSettings.from_env())
        settings = sms_settings
        sender = service.SmsSender(boto3.client("sns"), sms_settings.sms_sender_id, _setup(settings))
    return Runtime(settings, sender, boto3.client("sqs"))


def _setup(settings: SenderSettings) -> service.SenderSetup:
    return service.SenderSetup(
        portal_url=settings.portal_url,
        portal_api_url=settings.portal_api_url,
        link_key=lambda: str(parameters.get_secret(settings.link_key_secret, max_age=300)).encode(),
        lender_cache=service.LenderCache(settings.lender_cache_seconds),
    )


@cache
def _runtime(channel: Channel = Channel.EMAIL) -> Runtime:
    """Clients, tables and the channel's sender, built once per container (never at import)."""
    return _build(channel)


def _job_time(job: Job, record: JobRecord) -> datetime:
    """Time comes from the event: the job's slot, or when it was enqueued if that is later."""
    return max(ensure_utc(job.scheduled_for), ensure_utc(record.attributes.SentTimestamp))


def _send_batch(event: dict[str, Any], channel: Channel) -> batch.Outcome:
    """Every well-formed job of the batch, sent together (poison records are left to the processor)."""
    runtime = _runtime(channel)
    items: list[batch.Item] = []
    for raw in event.get("Records", []):
        try:
            record = JobRecord.model_validate(raw)
        except ValidationError:
            continue  # the BatchProcessor fails it again on its own, and SQS takes it to the DLQ in the end
        job: Job = record.body  # type: ignore[assignment]
        items.append(
            batch.Item(
                message_id=record.messageId,
                receive_count=int(record.attributes.ApproximateReceiveCount or 1),
                job=job,
                now=_job_time(job, record),
                sent_at=ensure_utc(record.attributes.SentTimestamp),
                # Keyed on the job and its channel: an email and a text decided for the same slot share a job id.
                event_id=service.audit_event_id(job),
            )
        )
    return batch.send_batch(
        items, runtime.sender, runtime.settings.due_shards, lambda message, extra: logger.warning(message, extra=extra)
    )


def _process(record: JobRecord, channel: Channel, outcome: batch.Outcome) -> None:
    """Report one record's part of the batch's outcome: an error fails it (SQS retries it later)."""
    job: Job = record.body  # type: ignore[assignment]
    runtime = _runtime(channel)
    later = outcome.later.get(record.messageId)
    if later is not None:
        _queue_for(runtime, record, job.model_copy(update={"scheduled_for": later}))
        metrics.add_metric(name="NoticesHeldForTheWindow", unit="Count", value=1)
        logger.info("notice held until the contact window", extra={"job_id": job.job_id, "until": later.isoformat()})
        return
    error = outcome.errors.get(record.messageId)
    if isinstance(error, batch.NotYet):
        _hide(runtime, record, error.seconds)
        metrics.add_metric(name="JobsWaiting", unit="Count", value=1)
        raise error
    if error is not None:
        if not isinstance(error, ValueError):  # a poison job gains nothing from waiting
            _back_off(runtime, record)
        metrics.add_metric(name="SendRetries", unit="Count", value=1)
        logger.warning("job will be retried", extra={"job_id": job.job_id, "error": str(error)})
        raise error
    delivery = outcome.deliveries.get(record.messageId)
    if delivery is None:
        metrics.add_metric(name="DuplicateJobs", unit="Count", value=1)
        logger.info("job already handled", extra={"job_id": job.job_id, "channel": channel.value})
        return
    metrics.add_metric(name=OUTCOME_METRICS[delivery.outcome], unit="Count", value=1)
    logger.info(
        "job done",
        extra={"job_id": job.job_id, "channel": channel.value, "outcome": delivery.outcome, "reason": delivery.reason},
    )


def _back_off(runtime: Runtime, record: JobRecord) -> None:
    """Retry later, and later again on each receive (30 s, 60 s, ... up to 15 min): SQS's visibility is the delay."""
    receives = int(record.attributes.ApproximateReceiveCount or 1)
    _hide(runtime, record, min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (receives - 1)))


def _queue_url(runtime: Runtime, record: JobRecord) -> str:
    _, _, _, _region, account_id, queue_name = record.eventSourceARN.split(":", 5)
    return str(runtime.sqs.get_queue_url(QueueName=queue_name, QueueOwnerAWSAccountId=account_id)["QueueUrl"])


def _hide(runtime: Runtime, record: JobRecord, seconds: int) -> None:
    """SQS delivers the message again after `seconds` (its visibility timeout)."""
    try:
        runtime.sqs.change_message_visibility(
            QueueUrl=_queue_url(runtime, record), ReceiptHandle=record.receiptHandle, VisibilityTimeout=seconds
        )
    except (ClientError, BotoCoreError) as exc:  # the queue's own visibility timeout still applies
        logger.warning("could not set the retry delay", extra={"error": str(exc), "seconds": seconds})


def _queue_for(runtime: Runtime, record: JobRecord, job: Job) -> None:
    """The job again, for a later moment, on its own queue (its id unchanged: still sent once). If this
    fails the record fails too, and SQS delivers the original again."""
    runtime.sqs.send_message(QueueUrl=_queue_url(runtime, record), MessageBody=job.model_dump_json())


def _handle(event: dict[str, Any], context: LambdaContext, channel: Channel) -> PartialItemFailureResponse:
    outcome = _send_batch(event, channel)
    return process_partial_response(
        event=event, record_handler=lambda record: _process(record, channel, outcome), processor=processor,
        context=context,
    )  # fmt: skip


@lambda_entry
def email_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return _handle(event, context, Channel.EMAIL)


@lambda_entry
def sms_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return _handle(event, context, Channel.SMS)


# The CDK app and the local stack named the email sender `lambda_handler` before SMS existed.
handler = email_handler
lambda_handler = email_handler
