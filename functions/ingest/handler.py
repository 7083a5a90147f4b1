"""S3 ObjectCreated (portfolios/<lender_id>/<name>.csv) -> accounts, audit events and a report."""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import unquote_plus

import boto3
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.clock import parse_utc
from functions.ingest import service
from functions.ingest.settings import IngestSettings
from functions.observability import lambda_entry, logger, metrics
from functions.store import tables


@cache
def _runtime() -> tuple[IngestSettings, Any]:
    settings = tables.configure(IngestSettings.from_env())
    return settings, boto3.client("s3")


@lambda_entry
@event_source(data_class=S3Event)
def lambda_handler(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    settings, s3 = _runtime()
    results = []
    for record in event.records:
        obj = record.s3.get_object
        result = service.ingest_object(
            s3,
            bucket=record.s3.bucket.name,
            key=unquote_plus(obj.key),
            etag=obj.etag,
            received_at=parse_utc(record.event_time),
            due_shards=settings.due_shards,
            fact_key=parameters.get_secret(settings.verification_key_secret, max_age=300).encode(),
        )
        logger.info(
            "upload processed",
            extra={
                "upload_id": result.upload_id,
                "status": result.status,
                "accepted": result.accepted,
                "rejected": result.rejected,
            },
        )
        metrics.add_metric(name="RowsAccepted", unit="Count", value=result.accepted)
        metrics.add_metric(name="RowsRejected", unit="Count", value=result.rejected)
        results.append(service.result_dict(result))
    return {"uploads": results}
