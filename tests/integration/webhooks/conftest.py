"""The webhooks function on moto: the shared `aws` fixture plus an SMS queue and the Stripe secret."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from functions import names
from functions.webhooks import handler
from tests.integration.webhooks.helpers import STRIPE_SECRET_NAME, WEBHOOK_SECRET


def install(monkeypatch: pytest.MonkeyPatch, sqs: Any) -> str:
    """Create what the webhooks function needs beyond the common stack; returns the SMS queue URL."""
    sms_queue_url = sqs.create_queue(QueueName="sms-jobs")["QueueUrl"]
    boto3.client("secretsmanager").create_secret(
        Name=STRIPE_SECRET_NAME,
        SecretString=json.dumps({"api_key": "sk_test_webhooks", "webhook_secret": WEBHOOK_SECRET}),
    )
    monkeypatch.setenv(names.ENV_STRIPE_SECRET, STRIPE_SECRET_NAME)
    monkeypatch.setenv(names.ENV_SMS_QUEUE_URL, sms_queue_url)
    monkeypatch.delenv(names.ENV_STRIPE_API_BASE, raising=False)
    handler._runtime.cache_clear()
    return sms_queue_url


@pytest.fixture
def hooks(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    sms_queue_url = install(monkeypatch, aws["sqs"])
    yield {**aws, "sms_queue_url": sms_queue_url}
    handler._runtime.cache_clear()
