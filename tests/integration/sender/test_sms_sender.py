"""Given SMS jobs on the queue, when the SMS sender consumes a batch, then each becomes one text, audited once."""

from __future__ import annotations

from datetime import timedelta

from functions.core.account import AccountStatus, Block, Channel
from functions.core.sms import measure
from functions.sender.handler import sms_handler
from functions.store import accounts, events
from functions.store.accounts import AccountModel
from tests.conftest import PORTAL_URL
from tests.events.factories import job_event, sqs_event
from tests.integration.sender.conftest import SMS_SENDER_ID, TICK, inject, no_fault, sms_job, texts


def audits(account_id: str, kind: str) -> list:
    return [e for e in events.history(account_id) if e.type == kind]


def test_each_sms_job_becomes_one_transactional_text_even_when_the_batch_comes_twice(sms, context) -> None:
    jobs = [sms_job("S-1"), sms_job("S-2", phone="+13125550199")]
    requests = inject(Channel.SMS, "Publish", no_fault)

    assert sms_handler(job_event(jobs, TICK), context) == {"batchItemFailures": []}
    assert sms_handler(job_event(jobs, TICK + timedelta(minutes=5)), context) == {"batchItemFailures": []}

    sent = sorted(texts())
    assert [phone for phone, _ in sent] == ["+13125550147", "+13125550199"]
    text = sent[0][1]
    # A text's token says it was sent in a text (links.SMS_VERSION): a visit by it is the text's click.
    assert "$153.50" in text and f"{PORTAL_URL}/#t=3" in text and text.endswith("Reply STOP to opt out")
    assert len(requests) == 2
    attributes = requests[0]["MessageAttributes"]
    assert attributes["AWS.SNS.SMS.SMSType"] == {"DataType": "String", "StringValue": "Transactional"}
    assert attributes["AWS.SNS.SMS.SenderID"] == {"DataType": "String", "StringValue": SMS_SENDER_ID}
    (audit,) = audits("acme#S-1", "reminder_sent")
    assert audit.detail["channel"] == "sms" and audit.detail["message_id"]
    assert audit.detail["segments"] == measure(text).segments
    assert accounts.get("acme#S-1").contacts_sent == 1


def test_an_account_that_paid_since_scheduling_gets_no_text(sms, context) -> None:
    job = sms_job("S-1")
    AccountModel("acme#S-1").update(actions=[AccountModel.status.set(AccountStatus.PAID.value)])
    sms_handler(job_event([job], TICK), context)
    assert texts() == []
    assert audits("acme#S-1", "reminder_suppressed")[0].detail["reason"] == "not_collectible"


def test_no_text_without_consent(sms, context) -> None:
    sms_handler(job_event([sms_job("S-1", consent=False)], TICK), context)
    assert texts() == []
    assert audits("acme#S-1", "reminder_suppressed")[0].detail["reason"] == "no_sms_consent"


def test_a_number_sns_refuses_blocks_the_channel_and_is_never_retried(sms, context) -> None:
    job = sms_job("S-1")
    requests = inject(
        Channel.SMS, "Publish", lambda n: {"Code": "InvalidParameter", "Message": "Invalid parameter: PhoneNumber"}
    )
    assert sms_handler(job_event([job], TICK), context) == {"batchItemFailures": []}
    assert sms_handler(job_event([job], TICK + timedelta(minutes=5)), context) == {"batchItemFailures": []}
    assert len(requests) == 1
    assert accounts.get("acme#S-1").blocked_channels == {Channel.SMS: Block.INVALID}
    assert audits("acme#S-1", "reminder_suppressed")[0].detail["block"] == "invalid"


def test_an_opted_out_number_is_marked_opted_out(sms, context) -> None:
    job = sms_job("S-1")
    inject(Channel.SMS, "Publish", lambda n: {"Code": "OptedOut", "Message": "Phone number is opted out"})
    sms_handler(job_event([job], TICK), context)
    assert accounts.get("acme#S-1").blocked_channels == {Channel.SMS: Block.OPTED_OUT}


def test_a_number_that_is_not_e164_is_never_sent_to(sms, context) -> None:
    job = sms_job("S-1", phone="3125550147")
    requests = inject(Channel.SMS, "Publish", no_fault)
    sms_handler(job_event([job], TICK), context)
    assert requests == [] and texts() == []
    assert accounts.get("acme#S-1").blocked_channels == {Channel.SMS: Block.INVALID}


def test_a_throttled_publish_is_retried_and_sent_once(sms, context) -> None:
    job = sms_job("S-1")
    requests = inject(
        Channel.SMS, "Publish", lambda n: {"Code": "Throttled", "Message": "Rate exceeded"} if n == 1 else None
    )
    assert sms_handler(job_event([job], TICK), context) == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}
    retry = sqs_event([job.model_dump_json()], TICK + timedelta(seconds=30), receive_count=2)
    assert sms_handler(retry, context) == {"batchItemFailures": []}
    assert len(requests) == 2 and len(texts()) == 1


def test_an_email_job_on_the_sms_queue_is_refused(sms, context) -> None:
    job = sms_job("S-1").model_copy(update={"channel": Channel.EMAIL})
    assert sms_handler(job_event([job], TICK), context) == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}
    assert texts() == []
