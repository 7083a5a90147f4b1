"""Webhooks: Stripe over the HTTP API (`stripe_handler`), SES and SMS feedback over SNS (`events_handler`).

Stripe: the signature is checked on the raw body exactly as API Gateway passed it (base64-decoded
when `isBase64Encoded`), with the endpoint secret from Secrets Manager; a bad or stale signature is
a 400, an audit event and a `WebhookSignatureFailures` metric. A verified event is processed once
per event id (Powertools idempotency); the domain makes it correct in any order besides. Unknown
types are acknowledged (200) and ignored. A failure that may pass (a store error, a version
conflict) is a 500: Stripe delivers the event again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions import names
from functions.core.audit import AuditEvent, EventType
from functions.core.clock import from_epoch_millis, parse_utc
from functions.observability import METRICS_NAMESPACE, lambda_entry, logger, metrics
from functions.store import accounts, events, lenders, tables
from functions.webhooks import feedback, service
from functions.webhooks.settings import WebhooksSettings

MAX_EPOCH_SECONDS = 2**33  # 2242: beyond it `created` is not a time (and datetime cannot hold year 10000)
STRIPE_TRAIL = "webhooks#stripe"  # the audit trail of deliveries that belong to no account (bad signatures)

app = APIGatewayHttpResolver()


@dataclass(frozen=True)
class Runtime:
    settings: WebhooksSettings
    stripe: Any  # StripeEvents.handle, idempotent on the event id
    feedback: Any  # Feedback.handle, idempotent on the SNS message id
    receipt: Any  # Feedback.receipt: delivery receipts, acknowledged without the idempotency record
    config: IdempotencyConfig


def _secret(settings: WebhooksSettings) -> dict[str, Any]:
    value = parameters.get_secret(settings.stripe_secret, transform="json", max_age=settings.secret_max_age_seconds)
    if not isinstance(value, dict) or not value.get("webhook_secret"):
        raise RuntimeError("the Stripe secret has no webhook_secret")
    return value


def _build() -> Runtime:
    settings = tables.configure(WebhooksSettings.from_env())
    lender = lenders.PerLender(lambda profile: profile)
    notices = service.Notices(boto3.client("sqs"), settings.email_queue_url, settings.sms_queue_url)

    def card_of_session(session_id: str) -> tuple[str | None, str | None]:
        from functions.payments.stripe_gateway import PaymentsGateway  # the SDK only where Stripe is reached

        gateway = PaymentsGateway.from_secret(_secret(settings), settings.stripe_api_base)
        info = gateway.retrieve_checkout_session(session_id)
        return info.customer_id, info.payment_method_id

    stripe_events = service.StripeEvents(notices, settings.due_shards, lender, card_of_session)
    feedback_events = feedback.Feedback(boto3.client("sns"), lender, settings.due_shards, settings.sms_sender_id)
    config = IdempotencyConfig(event_key_jmespath="id", expires_after_seconds=settings.idempotency_days * 86400)
    persistence = DynamoDBPersistenceLayer(table_name=settings.idempotency_table)

    def handle_stripe(event: dict[str, Any]) -> dict[str, Any]:
        return stripe_events.handle(event).as_dict()

    def handle_feedback(record: dict[str, Any]) -> dict[str, Any]:
        message = feedback.parse_sns_message(record["message"])
        if message is None:
            return feedback.FeedbackOutcome("not_json").as_dict()
        return feedback_events.handle(message, record["id"], parse_utc(record["at"])).as_dict()

    return Runtime(
        settings,
        idempotent_function(data_keyword_argument="event", config=config, persistence_store=persistence)(handle_stripe),
        idempotent_function(data_keyword_argument="record", config=config, persistence_store=persistence)(
            handle_feedback
        ),
        feedback_events.receipt,
        config,
    )


@cache
def _runtime() -> Runtime:
    """Clients, settings and the idempotent steps, built once per container (never at import)."""
    return _build()


def _raw_body() -> bytes:
    event = app.current_event
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return b""  # not base64 although flagged: it cannot carry a valid signature
    return body.encode("utf-8")


def _error(status: int, code: str, message: str) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={"error": {"code": code, "message": message}},
    )


@app.post("/webhooks/stripe")
def stripe_webhook() -> Response:
    # The Stripe SDK (~150 ms of import) only where Stripe is reached: the email-events function, which shares this
    # module and takes most of the traffic, never loads it. bench.imports counts it in this function's cold start.
    from functions.payments.stripe_gateway import WebhookSignatureError, verify_webhook

    runtime = _runtime()
    now = from_epoch_millis(app.current_event.request_context.time_epoch)
    body = _raw_body()
    signature = app.current_event.headers.get("stripe-signature")
    try:
        event = verify_webhook(body, signature, str(_secret(runtime.settings)["webhook_secret"]))
    except WebhookSignatureError as exc:
        _reject(body, signature, now, str(exc))
        return _error(400, "invalid_signature", "The Stripe-Signature header does not verify for this body.")
    if not _well_formed(event):
        return _error(400, "invalid_event", "The body is not a Stripe event.")
    outcome = runtime.stripe(event=event)
    _count(outcome)
    logger.info(
        "stripe event",
        extra={"event_id": event["id"], "type": event["type"], "outcome": outcome["outcome"]},
    )
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body={"received": True, "outcome": outcome["outcome"]},
    )


def _well_formed(event: dict[str, Any]) -> bool:
    """The envelope every Stripe event has: string id and type, `created` in epoch seconds, `data` an object."""
    created = event.get("created")
    data = event.get("data", {})
    return (
        isinstance(event.get("id"), str)
        and bool(event["id"])
        and isinstance(event.get("type"), str)
        and bool(event["type"])
        and type(created) is int
        and 0 <= created < MAX_EPOCH_SECONDS
        and isinstance(data, dict)
    )


def _reject(body: bytes, signature: str | None, now: datetime, why: str) -> None:
    metrics.add_metric(name=names.METRIC_WEBHOOK_SIGNATURE_FAILURES, unit=MetricUnit.Count, value=1)
    digest = hashlib.sha256(body + b"|" + (signature or "").encode()).hexdigest()[:32]
    events.append(
        AuditEvent(
            STRIPE_TRAIL,
            now,
            EventType.WEBHOOK_REJECTED,
            f"rejected:{digest}",
            service.ACTOR,
            {"reason": why[:200], "body_sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body)},
        )
    )
    logger.warning("stripe webhook rejected", extra={"reason": why[:200]})


def _count(outcome: dict[str, Any]) -> None:
    if outcome["outcome"] in (service.UNMATCHED, service.REFUSED):
        metrics.add_metric(name="WebhookUnmatched", unit=MetricUnit.Count, value=1)
    if outcome["outcome"] != service.APPLIED or not outcome.get("applied_minor"):
        return
    metrics.add_metric(name=names.METRIC_PAYMENTS_APPLIED, unit=MetricUnit.Count, value=1)
    with single_metric(
        name=names.METRIC_AMOUNT_COLLECTED,
        unit=MetricUnit.Count,
        value=int(outcome["applied_minor"]),
        namespace=METRICS_NAMESPACE,
    ) as metric:
        metric.add_dimension(name="currency", value=str(outcome["currency"]))


@app.exception_handler(accounts.KeptChanging)
def _conflict(exc: accounts.KeptChanging) -> Response:
    logger.warning("account kept changing; Stripe will retry", extra={"error": str(exc)})
    return _error(500, "retry", "Busy: deliver again.")


@lambda_entry
def stripe_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    _runtime().config.register_lambda_context(context)
    return app.resolve(event, context)


@lambda_entry
def events_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """SNS records (SES event publishing, SMS replies and SMS events), each processed once by message id, but
    delivery receipts, which change nothing (`Feedback.receipt`). A failure raises: Lambda retries the
    invocation and the records already done are skipped."""
    runtime = _runtime()
    runtime.config.register_lambda_context(context)
    outcomes = []
    for record in event.get("Records") or []:
        sns = record.get("Sns") or {}
        body = str(sns.get("Message") or "")
        item = {"id": str(sns.get("MessageId")), "message": body, "at": sns.get("Timestamp")}
        message = feedback.parse_sns_message(body)
        receipt = runtime.receipt(message) if message is not None else None
        outcome = receipt.as_dict() if receipt is not None else runtime.feedback(record=item)
        metrics.add_metric(name="FeedbackEvents", unit=MetricUnit.Count, value=1)
        outcomes.append(outcome)
    return {"processed": len(outcomes), "outcomes": outcomes}


handler = stripe_handler
lambda_handler = stripe_handler
