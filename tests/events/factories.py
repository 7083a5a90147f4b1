"""Real-shaped events for the handlers, built from the captured AWS payloads in this folder."""

from __future__ import annotations

import copy
import json
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from functions.core.account import Account, Balance, Debtor
from functions.core.clock import iso_utc, to_epoch_millis
from functions.core.jobs import Job
from functions.core.money import Money

EVENTS = Path(__file__).parent


@cache
def _load(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def s3_object_created(bucket: str, key: str, etag: str, at: datetime) -> dict[str, Any]:
    """An S3 ObjectCreated:Put notification (key URL-encoded, as S3 sends it)."""
    event = copy.deepcopy(_load("powertools_s3Event.json"))
    record = event["Records"][0]
    record["awsRegion"] = "us-east-1"
    record["eventTime"] = iso_utc(at)
    record["s3"]["bucket"].update(name=bucket, arn=f"arn:aws:s3:::{bucket}")
    record["s3"]["object"].update(key=quote_plus(key), eTag=etag)
    return event


def scheduled_event(at: datetime) -> dict[str, Any]:
    """An EventBridge "Scheduled Event" for the tick at `at`."""
    event = copy.deepcopy(_load("dotnet_scheduled-event.json"))
    event["time"] = iso_utc(at)
    return event


def sqs_event(bodies: list[str], sent_at: datetime, receive_count: int = 1) -> dict[str, Any]:
    """An SQS batch as the event source mapping delivers it."""
    template = _load("powertools_sqsEvent.json")["Records"][0]
    records = []
    for index, body in enumerate(bodies):
        record = copy.deepcopy(template)
        record.update(messageId=f"msg-{index}", body=body, messageAttributes={})
        record["attributes"]["SentTimestamp"] = str(to_epoch_millis(sent_at))
        record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
        records.append(record)
    return {"Records": records}


def job_event(jobs: list[Job], sent_at: datetime) -> dict[str, Any]:
    return sqs_event([job.model_dump_json() for job in jobs], sent_at)


def make_account(
    ref: str = "A-1001",
    *,
    lender_id: str = "acme",
    due: date = date(2026, 2, 20),
    principal: int = 12_000,
    interest: int = 850,
    fees: int = 2_500,
    currency: str = "USD",
    email: str | None = "dana.reyes@example.com",
    timezone: str = "America/Chicago",
) -> Account:
    return Account(
        lender_id=lender_id,
        external_ref=ref,
        debtor=Debtor(name="Dana Reyes", email=email, phone="+13125550147", timezone=timezone, language="en"),
        balance=Balance(Money(principal, currency), Money(interest, currency), Money(fees, currency)),
        due_date=due,
    )


def place(account: Account, now: datetime, shards: int = 4) -> None:
    """Put an account in the table as a lender's first upload would."""
    from functions.core.outreach import first_contact_at
    from functions.store import accounts

    accounts.put_new([accounts.new_item(account, first_contact_at(account, now), "upload-test", now, shards)])
