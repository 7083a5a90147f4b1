"""Real-shaped deliveries for the webhooks handlers: signed Stripe events in HTTP API v2 events, SNS records."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import time
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from functions.core.clock import iso_utc, to_epoch_millis

EVENTS = Path(__file__).parent / "events"
WEBHOOK_SECRET = "whsec_test_cleardue_webhooks"
STRIPE_SECRET_NAME = "stripe-test"


@cache
def raw_fixture(name: str) -> bytes:
    return (EVENTS / name).read_bytes()


def fixture(name: str) -> dict[str, Any]:
    return json.loads(raw_fixture(name))


def signature(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """`Stripe-Signature` as Stripe computes it: t=<unix>,v1=HMAC-SHA256(secret, "<t>.<body>")."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def http_event(body: bytes, stripe_signature: str | None, at: datetime, base64_encoded: bool = False) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) POST /webhooks/stripe as it reaches the function."""
    event = copy.deepcopy(fixture("powertools_apiGatewayProxyV2Event.json"))
    event.update(routeKey="POST /webhooks/stripe", rawPath="/webhooks/stripe", rawQueryString="", cookies=[])
    event.pop("queryStringParameters", None)
    event.pop("pathParameters", None)
    headers = {
        "content-type": "application/json; charset=utf-8",
        "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
    }
    if stripe_signature is not None:
        headers["stripe-signature"] = stripe_signature
    event["headers"] = headers
    context = event["requestContext"]
    context.pop("authorizer", None)
    context.pop("authentication", None)
    context["routeKey"] = "POST /webhooks/stripe"
    context["http"].update(method="POST", path="/webhooks/stripe", userAgent=headers["user-agent"])
    context["timeEpoch"] = to_epoch_millis(at)
    context["time"] = at.strftime("%d/%b/%Y:%H:%M:%S +0000")
    event["isBase64Encoded"] = base64_encoded
    event["body"] = base64.b64encode(body).decode() if base64_encoded else body.decode("utf-8")
    return event


def stripe_event(
    name: str,
    *,
    event_id: str,
    created: datetime,
    account_id: str | None,
    lender_id: str | None = None,
    **obj_changes: Any,
) -> dict[str, Any]:
    """A captured Stripe event (`events/<name>`) re-addressed to one of our accounts."""
    event = copy.deepcopy(fixture(name))
    event["id"] = event_id
    event["created"] = int(created.timestamp())
    obj = event["data"]["object"]
    if account_id is not None:
        obj["metadata"] = {"account_id": account_id, "lender_id": lender_id or account_id.split("#", 1)[0]}
    obj.update(obj_changes)
    return event


def body_of(event: dict[str, Any]) -> bytes:
    return json.dumps(event, indent=2).encode("utf-8")


def sns_event(messages: list[tuple[str, dict[str, Any] | str]], at: datetime) -> dict[str, Any]:
    """An SNS notification batch (one record per message) as Lambda receives it."""
    template = fixture("powertools_snsEvent.json")["Records"][0]
    records = []
    for message_id, message in messages:
        record = copy.deepcopy(template)
        record["Sns"].update(
            MessageId=message_id,
            Message=message if isinstance(message, str) else json.dumps(message),
            Timestamp=iso_utc(at).replace("Z", ".000Z"),
            Subject=None,
            MessageAttributes={},
        )
        records.append(record)
    return {"Records": records}


def drain(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every job on a queue (received once, never deleted, hidden for the rest of the test)."""
    jobs = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=3600).get(
            "Messages", []
        )
        if not messages:
            return jobs
        jobs += [json.loads(message["Body"]) for message in messages]
