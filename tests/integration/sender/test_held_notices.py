"""A receipt or payment notice that may not go now (outside the contact window) waits on the queue for
the window instead of being dropped, and is still sent exactly once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from functions.core import payments
from functions.core.account import Channel
from functions.core.money import Money
from functions.sender.handler import email_handler
from functions.store import accounts, events
from tests.events.factories import sqs_event
from tests.integration.sender.conftest import emails, placed

NIGHT = datetime(2026, 3, 9, 8, 30, tzinfo=UTC)  # 03:30 in Chicago
MORNING = datetime(2026, 3, 9, 13, 0, tzinfo=UTC)  # 08:00 in Chicago (CDT)


def deliver(aws: dict[str, Any], context: Any, body: str, sent_at: datetime, receive_count: int) -> dict[str, Any]:
    event = sqs_event([body], sent_at, receive_count)
    arn = aws["sqs"].get_queue_attributes(QueueUrl=aws["queue_url"], AttributeNames=["QueueArn"])["Attributes"]
    event["Records"][0]["eventSourceARN"] = arn["QueueArn"]
    return email_handler(event, context)


def queued(aws: dict[str, Any]) -> list[dict[str, Any]]:
    messages = aws["sqs"].receive_message(QueueUrl=aws["queue_url"], MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def test_a_receipt_at_night_waits_for_the_morning_and_is_sent_once(aws, context) -> None:
    account = placed("H-1")
    paid = payments.apply_payment(account, payments.PaymentFact("pi_n", Money(1_000, "USD"), NIGHT))
    assert accounts.save_state(account, paid, NIGHT, 4)
    receipt = payments.receipt_job(paid, "pi_n", NIGHT, Channel.EMAIL)

    # 03:30: not sent, not recorded, queued again for 08:00 (the record itself succeeds).
    assert deliver(aws, context, receipt.model_dump_json(), NIGHT, 1) == {"batchItemFailures": []}
    assert emails() == [] and events.history(account.account_id) == []
    (again,) = queued(aws)
    assert again["job_id"] == receipt.job_id and again["scheduled_for"] == "2026-03-09T13:00:00Z"

    # Its first receive comes right away (still night in truth): it waits on the queue, unsent.
    first = deliver(aws, context, json.dumps(again), NIGHT + timedelta(seconds=1), 1)
    assert len(first["batchItemFailures"]) == 1 and emails() == []
    # The next receive is after the wait: sent once, recorded once.
    assert deliver(aws, context, json.dumps(again), NIGHT + timedelta(seconds=1), 2) == {"batchItemFailures": []}
    assert len(emails()) == 1 and "received your payment" in emails()[0]["Subject"]
    (sent,) = events.history(account.account_id)
    assert sent.detail["template"] == "receipt" and sent.at == MORNING
    assert deliver(aws, context, json.dumps(again), NIGHT + timedelta(seconds=1), 3) == {"batchItemFailures": []}
    assert len(emails()) == 1  # a redelivery sends nothing


def test_a_wait_longer_than_sqs_allows_takes_several_receives() -> None:
    from functions.sender.batch import wait_seconds

    sent = NIGHT
    assert wait_seconds(sent + timedelta(seconds=30), sent, 1) == 0  # a few seconds: just send
    assert wait_seconds(sent + timedelta(hours=4), sent, 1) == 4 * 3600 + 1
    assert wait_seconds(sent + timedelta(hours=4), sent, 2) == 0
    # 13 hours (a lender whose window is 09:00-20:00): 12 h, then the last hour, then send.
    assert wait_seconds(sent + timedelta(hours=13), sent, 1) == 12 * 3600 + 1
    assert wait_seconds(sent + timedelta(hours=13), sent, 2) == 3600 + 1
    assert wait_seconds(sent + timedelta(hours=13), sent, 3) == 0
