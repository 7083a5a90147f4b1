"""Given the sample portfolio run through the pipeline with every log at DEBUG (ingest -> scheduler -> email
sender -> SES and SMS feedback webhooks -> portal), no log line holds a sample debtor's name, email address,
phone number or date of birth.

What is checked: the functions' own log output (Powertools JSON on stdout, through MaskingFormatter) and every
other logger's records, except the SDKs' wire logs (botocore, urllib3, moto...: DEBUG request dumps that the
Lambda runtime's INFO level never emits)."""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from functions import names
from functions.core import links
from functions.core.lender import LenderProfile
from functions.observability import logger
from functions.portal_api import handler as portal_handler
from functions.scheduler import handler as scheduler
from functions.sender import handler as sender
from functions.store import accounts, events, lenders
from functions.webhooks import handler as webhooks
from local.lambda_events import LocalLambdaContext
from local.portal_gateway import event_from_request, response_parts
from tests.conftest import LINK_KEY
from tests.events.factories import scheduled_event, sqs_event
from tests.integration.ingest.test_ingest_handler import put, run
from tests.integration.webhooks.helpers import drain, fixture, sns_event

SAMPLES = Path(__file__).resolve().parents[2] / "local"
AT = datetime(2026, 3, 8, 19, 0, tzinfo=UTC)  # pre-due reminders, inside 08:00-21:00 in every sample zone
SDK_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer", "moto", "werkzeug", "aws_xray_sdk", "asyncio")


def sample_pii() -> tuple[list[dict[str, str]], set[str]]:
    with (SAMPLES / "sample_portfolio.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    values: set[str] = set()
    for row in rows:
        values |= {row["name"], row["email"], row["date_of_birth"], row["phone"], row["phone"][2:]}
    return rows, {value for value in values if value}


def portal(method: str, path: str, body: Any = None, session: str | None = None) -> tuple[int, Any]:
    headers = {"content-type": "application/json", "origin": "https://pay.test.cleardue.example"}
    if session:
        headers["authorization"] = f"Bearer {session}"
    event = event_from_request(method, path, now=AT, body=json.dumps(body) if body else None, headers=headers)
    status, _, data = response_parts(portal_handler.handler(event, LocalLambdaContext("cleardue-portal-api")))
    return status, json.loads(data) if data else None


@pytest.fixture
def debug_logs() -> Iterator[io.StringIO]:
    """The functions' logger at DEBUG, its lines (as Lambda would ship them) written to a buffer."""
    level, lines = logger.log_level, io.StringIO()
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(lines)
    logger.setLevel("DEBUG")
    yield lines
    logger.setLevel(level)
    handler.setStream(previous)


def test_a_pipeline_run_logs_no_debtor_pii(aws, context, caplog, debug_logs, monkeypatch) -> None:
    caplog.set_level(logging.DEBUG)
    rows, pii = sample_pii()
    profile = LenderProfile.model_validate(json.loads((SAMPLES / "sample_lender.json").read_text()))
    lenders.put(profile)
    boto3.client("ses").verify_domain_identity(Domain=profile.sender_email.split("@")[1])
    sms_queue = aws["sqs"].create_queue(QueueName="sms-jobs")["QueueUrl"]
    monkeypatch.setenv(names.ENV_SMS_QUEUE_URL, sms_queue)
    monkeypatch.setenv(names.ENV_STRIPE_SECRET, "stripe-unused")  # the SES/SNS entry point never reads it
    for module in (scheduler, sender, webhooks):
        module._runtime.cache_clear()
    portal_handler.reset()

    # Ingest the sample portfolio, run the scheduler, send what it queued.
    run(
        aws,
        context,
        put(aws, f"portfolios/{profile.lender_id}/sample.csv", (SAMPLES / "sample_portfolio.csv").read_text()),
    )
    scheduler.lambda_handler(scheduled_event(AT), context)
    jobs = drain(aws["sqs"], aws["queue_url"])
    assert jobs, "the scheduler queued no reminder: the run would prove nothing"
    for start in range(0, len(jobs), 10):
        reply = sender.email_handler(sqs_event([json.dumps(job) for job in jobs[start : start + 10]], AT), context)
        assert reply["batchItemFailures"] == []

    # SES says the first address bounced (no account tag: found by blind index); the second debtor texts STOP.
    bounce = fixture("ses_eventpub_bounce.json")
    bounce["mail"]["destination"] = [rows[0]["email"]]
    bounce["mail"].pop("tags", None)
    bounce["bounce"]["bouncedRecipients"][0]["emailAddress"] = rows[0]["email"]
    stop = {"originationNumber": rows[1]["phone"], "messageBody": "STOP", "inboundMessageId": "in-1"}
    webhooks.events_handler(sns_event([("m-1", bounce), ("m-2", stop)], AT), context)

    # The third debtor opens the pay link, passes the identity check, reads the account, disputes in words.
    account_id = f"{profile.lender_id}#{rows[2]['external_ref']}"
    account = accounts.get(account_id)
    assert account is not None and account.link_ref
    token = links.sign(account.link_ref, AT, LINK_KEY)
    status, session = portal("POST", "/session", {"token": token, "date_of_birth": rows[2]["date_of_birth"]})
    assert status == 200, session
    assert portal("GET", "/account", session=session["session"])[0] == 200
    statement = f"I am {rows[2]['name']}, reach me at {rows[2]['email']} or {rows[2]['phone']}"
    assert portal("POST", "/disputes", {"reason": "not_mine", "details": statement}, session["session"])[0] == 200

    kinds = {
        event.type.value for row in rows[:3] for event in events.history(f"{profile.lender_id}#{row['external_ref']}")
    }
    assert {"reminder_sent", "email_bounced", "consent_revoked", "portal_verified", "portal_dispute_opened"} <= kinds
    output = debug_logs.getvalue() + "\n".join(
        record.getMessage() + " " + json.dumps(record.__dict__, default=str)
        for record in caplog.records
        if not record.name.startswith(SDK_LOGGERS) and record.name != logger.name
    )
    assert output.count('"level"') > 10, "no log output captured: the check would prove nothing"
    leaks = {
        value: output[max(0, output.find(value) - 300) : output.find(value) + 100] for value in pii if value in output
    }
    assert leaks == {}
