"""Lenders' files: S3 ObjectCreated (portfolios/<lender>/<name>.csv, lenders/<lender>/policy.yaml|json)
and the SQS chunks of portfolio uploads (`{"upload_id", "offset"}`), one function for both."""

from __future__ import annotations

import json
from functools import cache
from typing import Any
from urllib.parse import unquote_plus

import boto3
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field, Json

from functions.core.clock import ensure_utc, parse_utc
from functions.ingest.service import Ingestion, ObjectCreated
from functions.ingest.settings import IngestSettings
from functions.observability import lambda_entry, logger, metrics
from functions.store import tables

SAFETY_SECONDS = 60  # left for the last batch, the reports and the checkpoint


class ChunkJob(BaseModel):
    upload_id: str = Field(pattern=r"^u-[0-9a-f]{16}$")
    offset: int = Field(ge=0)


class ChunkRecord(SqsRecordModel):
    body: Json[ChunkJob]  # type: ignore[assignment]


processor = BatchProcessor(event_type=EventType.SQS, model=ChunkRecord, raise_on_entire_batch_failure=False)


@cache
def _runtime() -> tuple[IngestSettings, Any, Any]:
    return tables.configure(IngestSettings.from_env()), boto3.client("s3"), boto3.client("sqs")


def _ingestion(context: LambdaContext) -> Ingestion:
    settings, s3, sqs = _runtime()

    def enqueue(message: dict[str, Any], delay_seconds: int) -> None:
        sqs.send_message(
            QueueUrl=settings.ingest_queue_url, MessageBody=json.dumps(message), DelaySeconds=delay_seconds
        )

    remaining = context.get_remaining_time_in_millis() / 1000 - SAFETY_SECONDS
    return Ingestion(
        s3,
        enqueue,
        fact_key=lambda: parameters.get_secret(settings.verification_key_secret, max_age=300).encode(),
        due_shards=settings.due_shards,
        budget_seconds=max(0.0, min(settings.chunk_seconds, remaining)),  # each chunk does at least one row
    )


def _notifications(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    ingestion = _ingestion(context)
    outcomes = []
    for record in event.records:
        obj = record.s3.get_object
        outcome = ingestion.object_created(
            ObjectCreated(
                record.s3.bucket.name, unquote_plus(obj.key), obj.etag, obj.version_id, parse_utc(record.event_time)
            )
        )
        logger.info(
            "file received", extra={"kind": outcome.kind, "status": outcome.status, "upload_id": outcome.upload_id}
        )
        outcomes.append(
            {"kind": outcome.kind, "status": outcome.status, "upload_id": outcome.upload_id, **outcome.detail}
        )
    return {"files": outcomes}


def _chunk(record: ChunkRecord, context: LambdaContext) -> None:
    job: ChunkJob = record.body  # type: ignore[assignment]
    attributes = record.attributes
    outcome = _ingestion(context).process_chunk(
        job.upload_id,
        job.offset,
        now=ensure_utc(attributes.SentTimestamp),
        attempt=int(attributes.ApproximateReceiveCount),
    )
    logger.info("chunk processed", extra={"upload_id": job.upload_id, "status": outcome.status})
    if outcome.status in ("completed", "failed"):
        detail = outcome.detail
        metrics.add_metric(name="RowsAccepted", unit="Count", value=detail.get("accepted", 0))
        metrics.add_metric(name="RowsRejected", unit="Count", value=detail.get("rejected", 0))
        metrics.add_metric(
            name="UploadsFailed" if outcome.status == "failed" else "UploadsCompleted", unit="Count", value=1
        )


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records") or []
    if records and records[0].get("eventSource") == "aws:sqs":
        return dict(
            process_partial_response(
                event=event, processor=processor, context=context, record_handler=lambda record: _chunk(record, context)
            )
        )
    return _notifications(S3Event(event), context)
