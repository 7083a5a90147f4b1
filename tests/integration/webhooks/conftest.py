"""The webhooks function on moto, set up once per test module: every table, the job queues, the secrets.

Creating six tables with their indexes is most of an integration test's time on this machine, so a
module shares one in-process moto and each test starts from empty tables and queues instead."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

from functions import names
from functions.store import pii, tables
from functions.store.settings import StoreSettings
from functions.webhooks import handler
from tests.conftest import moto_environment
from tests.integration.webhooks.helpers import STRIPE_SECRET_NAME, WEBHOOK_SECRET

REGION = "us-east-1"
_queue_numbers = itertools.count(1)
SENDER = "reminders@lender.example.com"
STRIPE_SECRET_VALUE = json.dumps({"api_key": "sk_test_webhooks", "webhook_secret": WEBHOOK_SECRET})


def reset_runtimes() -> None:
    """Forget clients and settings built against another moto (module-level caches of every handler)."""
    from aws_lambda_powertools.utilities import parameters

    from functions.ingest import handler as ingest
    from functions.observability import metrics
    from functions.scheduler import handler as scheduler
    from functions.sender import handler as sender

    for module in (ingest, scheduler, sender, handler):
        module._runtime.cache_clear()
    pii.configure(None, REGION)  # the keys table is emptied too: no cached key outlives its item
    metrics.clear_metrics()
    parameters.clear_caches()


def install(monkeypatch: pytest.MonkeyPatch, sqs: Any) -> str:
    """What the webhooks function needs beyond the tables: the SMS queue and the Stripe secret."""
    sms_queue_url = sqs.create_queue(QueueName="sms-jobs")["QueueUrl"]
    boto3.client("secretsmanager").create_secret(Name=STRIPE_SECRET_NAME, SecretString=STRIPE_SECRET_VALUE)
    monkeypatch.setenv(names.ENV_STRIPE_SECRET, STRIPE_SECRET_NAME)
    monkeypatch.setenv(names.ENV_SMS_QUEUE_URL, sms_queue_url)
    monkeypatch.delenv(names.ENV_STRIPE_API_BASE, raising=False)
    handler._runtime.cache_clear()
    return sms_queue_url


@pytest.fixture(scope="module")
def webhooks_stack() -> Iterator[dict[str, Any]]:
    settings = StoreSettings(region=REGION, due_shards=4)
    with pytest.MonkeyPatch.context() as monkeypatch, mock_aws():
        env = {
            **moto_environment(settings),
            names.ENV_PORTAL_URL: "https://pay.test.cleardue.example",
            names.ENV_PORTAL_API_URL: "https://api.test.cleardue.example",
            names.ENV_DEFAULT_SENDER_EMAIL: SENDER, names.ENV_LINK_KEY_SECRET: "link-key",
        }  # fmt: skip
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
        reset_runtimes()
        tables.create_all_tables(settings)
        sqs = boto3.client("sqs")
        queue_url = sqs.create_queue(QueueName="email-jobs")["QueueUrl"]
        monkeypatch.setenv(names.ENV_EMAIL_QUEUE_URL, queue_url)
        boto3.client("secretsmanager").create_secret(Name="link-key", SecretString="test-link-signing-key-0123456789")
        sms_queue_url = install(monkeypatch, sqs)
        yield {"settings": settings, "sqs": sqs, "queue_url": queue_url, "sms_queue_url": sms_queue_url, "env": env}
        reset_runtimes()


def _empty_tables(settings: StoreSettings) -> None:
    dynamodb = boto3.resource("dynamodb")
    for name in (getattr(settings, field) for field in tables.models_by_setting()):
        table = dynamodb.Table(name)
        keys = [k["AttributeName"] for k in table.key_schema]
        scan: dict[str, Any] = {
            "ProjectionExpression": ", ".join(f"#k{i}" for i in range(len(keys))),
            "ExpressionAttributeNames": {f"#k{i}": key for i, key in enumerate(keys)},
        }
        with table.batch_writer() as batch:
            while True:
                page = table.scan(**scan)
                for item in page["Items"]:
                    batch.delete_item(Key={key: item[key] for key in keys})
                if "LastEvaluatedKey" not in page:
                    break
                scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@pytest.fixture
def hooks(webhooks_stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A clean slate on the module's moto: empty tables and queues, fresh caches, the original secret."""
    for key, value in webhooks_stack["env"].items():
        monkeypatch.setenv(key, value)
    sqs = webhooks_stack["sqs"]
    fresh = next(_queue_numbers)  # fresh queues: SQS allows one purge a minute
    queue_url = sqs.create_queue(QueueName=f"email-jobs-{fresh}")["QueueUrl"]
    sms_queue_url = sqs.create_queue(QueueName=f"sms-jobs-{fresh}")["QueueUrl"]
    monkeypatch.setenv(names.ENV_EMAIL_QUEUE_URL, queue_url)
    monkeypatch.setenv(names.ENV_SMS_QUEUE_URL, sms_queue_url)
    monkeypatch.setenv(names.ENV_STRIPE_SECRET, STRIPE_SECRET_NAME)
    monkeypatch.delenv(names.ENV_STRIPE_API_BASE, raising=False)
    _empty_tables(webhooks_stack["settings"])
    boto3.client("secretsmanager").put_secret_value(SecretId=STRIPE_SECRET_NAME, SecretString=STRIPE_SECRET_VALUE)
    sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages.clear()
    reset_runtimes()
    yield {**webhooks_stack, "queue_url": queue_url, "sms_queue_url": sms_queue_url}
    reset_runtimes()
