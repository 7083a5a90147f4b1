"""SQS charge jobs -> Stripe off-session charges of plan installments, with partial batch failures.

Each record is one attempt of one installment (`core.installments.ChargeJob`). A poison record (not a
job) fails alone and lands in the DLQ after the queue's maxReceiveCount; a Stripe error (outage,
rate limit, a refused request) or a store error fails only its record: SQS delivers it again, and the
attempt's idempotency key makes the repeat safe. Declines are not errors: the webhooks apply them.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Json

from functions import names
from functions.charger import service
from functions.charger.settings import ChargerSettings
from functions.core.clock import ensure_utc
from functions.core.installments import ChargeJob
from functions.observability import METRICS_NAMESPACE, lambda_entry, logger
from functions.store import lenders, tables


class ChargeRecord(SqsRecordModel):
    body: Json[ChargeJob]  # type: ignore[assignment]


processor = BatchProcessor(event_type=EventType.SQS, model=ChargeRecord, raise_on_entire_batch_failure=False)


@cache
def _runtime() -> tuple[ChargerSettings, service.Charger]:
    """Settings, lender cache and the charger, built once per container (never at import)."""
    settings = tables.configure(ChargerSettings.from_env())
    plans = lenders.PerLender(lambda profile: profile.plans, settings.lender_cache_seconds)

    def gateway() -> service.Gateway:
        from functions.payments.stripe_gateway import PaymentsGateway  # the SDK only where Stripe is reached

        max_age = settings.secret_max_age_seconds
        secret = parameters.get_secret(settings.stripe_secret, transform="json", max_age=max_age)
        if not isinstance(secret, dict):
            raise RuntimeError("the Stripe secret is not a JSON object")
        return PaymentsGateway.from_secret(secret, settings.stripe_api_base)

    return settings, service.Charger(gateway, plans, settings.due_shards)


def _job_time(job: ChargeJob, record: ChargeRecord) -> datetime:
    """Time comes from the event: the scheduler's tick, or when the job was enqueued if that is later."""
    return max(ensure_utc(job.scheduled_for), ensure_utc(record.attributes.SentTimestamp))


def _process(record: ChargeRecord) -> None:
    job: ChargeJob = record.body  # type: ignore[assignment]
    _, charger = _runtime()
    outcome = charger.charge(job, _job_time(job, record))
    with single_metric(
        name=names.METRIC_INSTALLMENT_CHARGES, unit=MetricUnit.Count, value=1, namespace=METRICS_NAMESPACE
    ) as metric:
        metric.add_dimension(name="outcome", value=outcome.outcome)
    logger.info(
        "charge job done",
        extra={
            "job_id": job.job_id,
            "account_id": job.account_id,
            "outcome": outcome.outcome,
            "payment": outcome.payment_id,
            "decline": outcome.decline_code,
        },
    )


@lambda_entry
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=_process, processor=processor, context=context)
