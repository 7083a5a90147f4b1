"""Sender fixtures: what SES and SNS received (moto in-process), provider faults injected on the real clients."""

from __future__ import annotations

import email
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email.message import Message
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from moto.sns.models import sns_backends

from functions import names
from functions.core.account import Account, Channel, Stage
from functions.core.jobs import Job, Template, Tone, job_id_for
from functions.core.outreach import current_stage, plan_contact
from functions.sender import handler
from functions.store import accounts
from tests.events.factories import make_account, place

TICK = datetime(2026, 3, 8, 15, 0, tzinfo=UTC)
SMS_SENDER_ID = "ClearDue"


@pytest.fixture
def sms(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The SMS job queue and the default SNS sender id, beside everything `aws` provides."""
    queue_url = aws["sqs"].create_queue(QueueName="sms-jobs")["QueueUrl"]
    monkeypatch.setenv(names.ENV_SMS_QUEUE_URL, queue_url)
    monkeypatch.setenv(names.ENV_SMS_SENDER_ID, SMS_SENDER_ID)
    handler._runtime.cache_clear()
    yield {**aws, "sms_queue_url": queue_url}
    handler._runtime.cache_clear()


def emails() -> list[Message]:
    """Every email SES accepted, parsed as the recipient's mail client would."""
    backend = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    return [email.message_from_string(m.raw_data) for m in backend.sent_messages]


def texts() -> list[tuple[str, str]]:
    """Every (phone number, text) SNS accepted."""
    return list(sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages.values())


def parts(message: Message) -> dict[str, str]:
    """The decoded text/plain and text/html bodies."""
    found = {}
    for part in message.walk():
        if part.get_content_type() in ("text/plain", "text/html"):
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found[part.get_content_type()] = payload.decode(part.get_content_charset() or "utf-8")
    return found


def placed(ref: str, **overrides: Any) -> Account:
    account = make_account(ref, **overrides)
    place(account, TICK)
    stored = accounts.get(account.account_id)
    assert stored is not None
    return stored


def email_job(ref: str, **overrides: Any) -> Job:
    """The job the scheduler would queue for a freshly placed account."""
    account = placed(ref, **overrides)
    job = plan_contact(account, TICK, 3).job
    assert job is not None and job.channel is Channel.EMAIL
    return job


def sms_job(ref: str, *, consent: bool = True, phone: str = "+13125550147", **overrides: Any) -> Job:
    account = make_account(ref, **overrides)
    account = account.with_changes(
        debtor=replace(account.debtor, phone=phone, phone_is_mobile=True, sms_consent=consent)
    )
    place(account, TICK)
    return Job(
        job_id=job_id_for(account.account_id, plan_stage(account), TICK),
        account_id=account.account_id,
        channel=Channel.SMS,
        template=Template.REMINDER,
        variant="a",
        stage=plan_stage(account),
        scheduled_for=TICK,
        tone=Tone.NEUTRAL,
    )


def plan_stage(account: Account) -> Stage:
    return current_stage(account, TICK)


def inject(channel: Channel, operation: str, fault: Callable[[int], dict[str, Any] | None]) -> list[dict[str, Any]]:
    """Call `fault(n)` before the n-th (1-based) `operation` of the channel's real client; an error it returns
    is what the provider answers (HTTP 400/429). Returns the requests' parameters, as sent."""
    client = handler._runtime(channel).sender.client
    service = client.meta.service_model.service_name
    requests: list[dict[str, Any]] = []

    def capture(params: dict[str, Any], **_: Any) -> None:
        requests.append(params)

    def before_call(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        error = fault(len(requests))
        if error is None:
            return None
        status = 429 if "Thrott" in error["Code"] or "TooMany" in error["Code"] else 400
        return AWSResponse("https://fault.test", status, {}, None), {"Error": error, "ResponseMetadata": {}}

    client.meta.events.register(f"provide-client-params.{service}.{operation}", capture)
    client.meta.events.register(f"before-call.{service}.{operation}", before_call)
    return requests


def no_fault(_: int) -> None:
    return None
