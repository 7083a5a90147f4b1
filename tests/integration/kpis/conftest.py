"""A few weeks of collections by the real handlers on in-process moto, on a virtual clock: the scheduler's
ticks, the senders draining their queues, and debtors answering through the webhooks (STOP, payments)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest

from functions import names
from functions.core import audit_check, kpis
from functions.scheduler import handler as scheduler
from functions.scheduler.handler import lambda_handler as scheduler_handler
from functions.sender import handler as sender
from functions.sender.handler import email_handler, sms_handler
from functions.store import accounts, events
from functions.store.accounts import AccountModel
from functions.webhooks import handler as webhooks
from functions.webhooks.handler import events_handler, stripe_handler
from local.lambda_events import LocalLambdaContext
from tests.events.factories import scheduled_event, sqs_event
from tests.integration.webhooks.helpers import (
    STRIPE_SECRET_NAME,
    WEBHOOK_SECRET,
    body_of,
    http_event,
    signature,
    sns_event,
    stripe_event,
)

SLOT = timedelta(minutes=15)  # EventBridge rate(15 minutes)


class Collections:
    """Drives the handlers as their triggers would, at moments the test chooses."""

    def __init__(self, sqs: Any, queues: dict[str, str]) -> None:
        self.sqs = sqs
        self.queues = queues
        self.context = LocalLambdaContext("cleardue-test")
        self.delivered = 0

    def tick(self, at: datetime) -> None:
        """The scheduler's run at `at`, then every queued job through its sender (as the SQS event sources)."""
        scheduler_handler(scheduled_event(at), self.context)
        self.drain(at)

    def drain(self, at: datetime) -> None:
        for channel, handler in (("email", email_handler), ("sms", sms_handler)):
            url = self.queues[channel]
            while messages := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
                handler(sqs_event([m["Body"] for m in messages], at), self.context)
                for message in messages:
                    self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                self.delivered += len(messages)

    def next_tick(self, after: datetime) -> datetime | None:
        """The first 15-minute slot after `after` at which some account is due."""
        due = [item.next_contact_at for item in AccountModel.scan() if item.next_contact_at is not None]
        if not due:
            return None
        moment = max(min(due), after + SLOT)
        return moment + (-(moment - datetime.min.replace(tzinfo=moment.tzinfo)) % SLOT)

    def text_reply(self, phone: str, body: str, at: datetime, inbound_id: str) -> None:
        message = {"originationNumber": phone, "destinationNumber": "+12125550101", "messageBody": body}
        events_handler(sns_event([(inbound_id, {**message, "inboundMessageId": inbound_id})], at), self.context)
        self.drain(at)

    def payment(self, account_id: str, minor: int, at: datetime, payment_id: str) -> None:
        event = stripe_event(
            "rubymock_payment_intent.succeeded.json", event_id=f"evt_{payment_id}", created=at,
            account_id=account_id, id=payment_id, amount=minor, amount_received=minor, currency="usd",
        )  # fmt: skip
        body = body_of(event)
        response = stripe_handler(http_event(body, signature(body), at), self.context)
        assert response["statusCode"] == 200, response
        self.drain(at)  # the receipt

    def records(self) -> list[kpis.AccountRecord]:
        """Every account as the tables hold it, with its trail and its placement time."""
        found = []
        for item in AccountModel.scan():
            account = accounts.get(item.account_id)
            assert account is not None
            found.append(kpis.AccountRecord(account, events.history(item.account_id), item.created_at))
        return found

    def violations(self) -> list[audit_check.Violation]:
        return audit_check.check_all((r.account, r.trail) for r in self.records())


@pytest.fixture
def collections(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[Collections]:
    """`aws` plus the SMS queue and the Stripe secret the webhooks need; every handler's caches fresh."""
    sqs = aws["sqs"]
    sms_queue_url = sqs.create_queue(QueueName="sms-jobs")["QueueUrl"]
    monkeypatch.setenv(names.ENV_SMS_QUEUE_URL, sms_queue_url)
    secret = json.dumps({"api_key": "sk_test_kpis", "webhook_secret": WEBHOOK_SECRET})
    boto3.client("secretsmanager").create_secret(Name=STRIPE_SECRET_NAME, SecretString=secret)
    monkeypatch.setenv(names.ENV_STRIPE_SECRET, STRIPE_SECRET_NAME)
    monkeypatch.delenv(names.ENV_STRIPE_API_BASE, raising=False)
    for module in (scheduler, sender, webhooks):
        module._runtime.cache_clear()
    yield Collections(sqs, {"email": aws["queue_url"], "sms": sms_queue_url})
    for module in (scheduler, sender, webhooks):
        module._runtime.cache_clear()
