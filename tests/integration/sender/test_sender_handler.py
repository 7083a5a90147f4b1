"""Given email jobs on the queue, when the sender consumes a batch, then each becomes one email, audited once."""

from __future__ import annotations

import re
from datetime import date, timedelta
from urllib.parse import parse_qs, urlparse

import pytest

from functions.core import engagement, links
from functions.core.account import AccountStatus, Block, Channel, Dispute, DisputeStatus
from functions.core.jobs import Template, job_id_for
from functions.core.lender import LenderProfile
from functions.sender.handler import _runtime, email_handler, handler, lambda_handler
from functions.store import accounts, events, lenders
from functions.store.accounts import AccountModel
from tests.conftest import LINK_KEY, PORTAL_API_URL, PORTAL_URL, SENDER
from tests.events.factories import job_event, sqs_event
from tests.integration.sender.conftest import TICK, email_job, emails, inject, no_fault, parts


def audits(account_id: str, kind: str) -> list:
    return [e for e in events.history(account_id) if e.type == kind]


def test_each_job_becomes_one_email_with_both_parts_the_unsubscribe_headers_and_an_audit(aws, context) -> None:
    lenders.put(LenderProfile(lender_id="acme", creditor_name="Acme Lending", help_email="help@acme.example"))
    jobs = [email_job("A-1"), email_job("A-2", email="sam.lee@example.org")]
    requests = inject(Channel.EMAIL, "SendEmail", no_fault)

    response = email_handler(job_event(jobs, sent_at=TICK), context)

    assert response == {"batchItemFailures": []}
    sent = sorted(emails(), key=lambda m: m["To"])
    assert [m["To"] for m in sent] == ["dana.reyes@example.com", "sam.lee@example.org"]
    message = sent[0]
    assert message["Subject"] == "Acme Lending: $153.50 was due on February 20, 2026 (account A-1)"
    assert message["From"] == f"Acme Lending <{SENDER}>"
    body = parts(message)
    assert set(body) == {"text/plain", "text/html"}
    for fact in ("$120.00", "$8.50", "$25.00", "$153.50", "February 20, 2026", "help@acme.example"):
        assert fact in body["text/plain"] and fact in body["text/html"]
    # One action: the signed pay link, for this account's opaque reference and valid from now.
    pay_url = next(line for line in body["text/plain"].splitlines() if line.startswith(PORTAL_URL))
    token = pay_url.split("#t=", 1)[1]
    account = accounts.get("acme#A-1")
    assert links.read(token, TICK, LINK_KEY).link_ref == account.link_ref
    # RFC 8058 one-click unsubscribe, pointing at the portal API with the same token, plus mailto.
    unsubscribe, mailto = (target.strip(" <>") for target in message["List-Unsubscribe"].split(","))
    assert unsubscribe.startswith(f"{PORTAL_API_URL}/unsubscribe?")
    assert parse_qs(urlparse(unsubscribe).query)["t"] == [token]
    assert mailto == "mailto:help@acme.example?subject=unsubscribe"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    tags = {tag["Name"]: tag["Value"] for tag in requests[0]["EmailTags"]}
    assert tags["template"] == "reminder"
    # SES engagement events (opens, clicks, bounces) name the account through this tag.
    to_dana = next(r for r in requests if r["Destination"]["ToAddresses"] == ["dana.reyes@example.com"])
    dana_tags = {tag["Name"]: tag["Value"] for tag in to_dana["EmailTags"]}
    assert engagement.account_from_tag(dana_tags[engagement.ACCOUNT_TAG]) == "acme#A-1"
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", tag["Value"]) for r in requests for tag in r["EmailTags"])
    (audit,) = audits("acme#A-1", "reminder_sent")
    assert audit.at == TICK and audit.detail["message_id"]
    assert {key: audit.detail[key] for key in ("job_id", "template", "variant", "tone", "channel")} == {
        "job_id": jobs[0].job_id, "template": "reminder", "variant": "a", "tone": "friendly", "channel": "email",
    }  # fmt: skip
    assert len(audit.detail["content_hash"]) == 64
    assert (account.contacts_sent, account.last_contact_at) == (1, TICK)


def test_the_same_batch_delivered_twice_sends_each_email_once(aws, context) -> None:
    jobs = [email_job("A-1"), email_job("A-2", email="sam.lee@example.org")]
    assert email_handler(job_event(jobs, TICK), context) == {"batchItemFailures": []}
    assert email_handler(job_event(jobs, TICK + timedelta(minutes=5)), context) == {"batchItemFailures": []}
    assert len(emails()) == 2
    for job in jobs:
        assert len(audits(job.account_id, "reminder_sent")) == 1
        assert accounts.get(job.account_id).contacts_sent == 1


def test_the_old_handler_names_are_the_email_sender() -> None:
    assert handler is email_handler and lambda_handler is email_handler


def test_a_failure_after_ses_accepted_never_sends_again_and_is_recorded_once(aws, context, monkeypatch) -> None:
    job = email_job("A-1")
    real_append = events.append_batch
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("DynamoDB throttled")
        return real_append(*args, **kwargs)

    monkeypatch.setattr(events, "append_batch", flaky)
    assert email_handler(job_event([job], TICK), context)["batchItemFailures"] == [{"itemIdentifier": "msg-0"}]
    retry = sqs_event([job.model_dump_json()], TICK, receive_count=2)
    assert email_handler(retry, context)["batchItemFailures"] == []
    assert email_handler(retry, context)["batchItemFailures"] == []
    assert len(emails()) == 1  # the retry did not email again
    (audit,) = audits("acme#A-1", "reminder_sent")
    assert audit.detail["message_id_unknown"] is True and len(audit.detail["content_hash"]) == 64
    assert accounts.get("acme#A-1").contacts_sent == 1


def test_a_throttled_ses_call_is_retried_through_sqs_and_succeeds_once(aws, context) -> None:
    job = email_job("A-1")

    def throttle_first(n):
        return {"Code": "TooManyRequestsException", "Message": "Maximum sending rate exceeded."} if n == 1 else None

    requests = inject(Channel.EMAIL, "SendEmail", throttle_first)

    first = email_handler(job_event([job], TICK), context)
    assert first == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}  # SQS will deliver it again
    assert emails() == [] and audits("acme#A-1", "reminder_sent") == []
    # The claim counted the contact; the failed send took it back (caps and KPIs count only what went out).
    untouched = accounts.get("acme#A-1")
    assert (untouched.contacts_sent, untouched.recent_contacts, untouched.last_contact_at) == (0, (), None)

    second = email_handler(sqs_event([job.model_dump_json()], TICK + timedelta(seconds=30), receive_count=2), context)
    assert second == {"batchItemFailures": []}
    assert len(requests) == 2 and len(emails()) == 1
    assert len(audits("acme#A-1", "reminder_sent")) == 1 and accounts.get("acme#A-1").contacts_sent == 1


def test_a_refused_address_blocks_the_channel_and_is_never_retried(aws, context) -> None:
    job = email_job("A-1")
    requests = inject(
        Channel.EMAIL, "SendEmail", lambda n: {"Code": "MessageRejected", "Message": "Email address is not verified."}
    )

    assert email_handler(job_event([job], TICK), context) == {"batchItemFailures": []}  # done: nothing to retry
    assert email_handler(job_event([job], TICK + timedelta(minutes=5)), context) == {"batchItemFailures": []}

    assert len(requests) == 1  # the redelivered job did not try again
    account = accounts.get("acme#A-1")
    assert account.blocked_channels == {Channel.EMAIL: Block.INVALID}
    assert (account.contacts_sent, account.recent_contacts) == (0, ())  # counted on claim, taken back on record
    (audit,) = audits("acme#A-1", "reminder_suppressed")
    assert audit.detail["reason"] == "ses:MessageRejected" and audit.detail["block"] == "invalid"


def test_an_account_that_paid_since_scheduling_is_not_emailed(aws, context) -> None:
    job = email_job("A-1")
    AccountModel("acme#A-1").update(actions=[AccountModel.status.set(AccountStatus.PAID.value)])
    email_handler(job_event([job], TICK), context)
    assert emails() == []
    (suppressed,) = audits("acme#A-1", "reminder_suppressed")
    assert suppressed.detail["reason"] == "not_collectible"


def test_a_blocked_channel_is_not_used(aws, context) -> None:
    job = email_job("A-1")
    before = accounts.get("acme#A-1")
    assert accounts.save_state(before, before.with_changes(blocked_channels={Channel.EMAIL: Block.OPTED_OUT}), TICK, 4)
    email_handler(job_event([job], TICK), context)
    assert emails() == []
    assert audits("acme#A-1", "reminder_suppressed")[0].detail["reason"] == "channel_blocked: opted_out"


def test_a_poison_message_fails_alone_and_the_rest_of_the_batch_is_sent(aws, context) -> None:
    job = email_job("A-1")
    event = sqs_event(["not json", '{"job_id": "too-short"}', job.model_dump_json()], TICK)
    response = email_handler(event, context)
    assert response["batchItemFailures"] == [{"itemIdentifier": "msg-0"}, {"itemIdentifier": "msg-1"}]
    assert len(emails()) == 1


def test_the_lenders_sender_identity_and_the_configuration_set_are_used(aws, context, monkeypatch) -> None:
    monkeypatch.setenv("SES_CONFIGURATION_SET", "cleardue-events")
    lenders.put(LenderProfile(lender_id="acme", creditor_name="Acme Lending", sender_email=SENDER))
    requests = inject(Channel.EMAIL, "SendEmail", no_fault)
    email_handler(job_event([email_job("A-1")], TICK), context)
    (message,) = emails()
    assert message["From"] == f"Acme Lending <{SENDER}>"
    assert requests[0]["ConfigurationSetName"] == "cleardue-events"
    assert requests[0]["FromEmailAddress"] == SENDER


def test_spanish_debtors_get_spanish_words_and_amounts(aws, context) -> None:
    job = email_job("A-1")
    AccountModel("acme#A-1").update(actions=[AccountModel.language.set("es")])
    email_handler(job_event([job], TICK), context)
    (message,) = emails()
    text = parts(message)["text/plain"]
    assert "153,50" in text and "20 de febrero de 2026" in text and "Capital" in text


def test_a_validation_notice_is_recorded_on_the_account(aws, context) -> None:
    lenders.put(LenderProfile(lender_id="acme", creditor_name="Northwind Bank", regime="third_party"))
    job = email_job("A-1")
    AccountModel("acme#A-1").update(
        actions=[
            AccountModel.lender_attributes.set(
                {"collector_name": "Fairway Recovery", "collector_address": "PO Box 1, Austin TX"}
            )
        ]
    )
    notice = job.model_copy(update={"template": Template.VALIDATION_NOTICE.value})
    assert email_handler(job_event([notice], TICK), context) == {"batchItemFailures": []}
    (message,) = emails()
    text = parts(message)["text/plain"]
    assert "Fairway Recovery is a debt collector" in text and "www.cfpb.gov/debt-collection" in text
    assert accounts.get("acme#A-1").validation_notice_at == TICK
    assert audits("acme#A-1", "reminder_sent")[0].detail["template"] == "validation_notice"


def test_a_validation_notice_without_the_collectors_address_is_not_sent(aws, context) -> None:
    lenders.put(LenderProfile(lender_id="acme", creditor_name="Northwind Bank", regime="third_party"))
    notice = email_job("A-1").model_copy(update={"template": Template.VALIDATION_NOTICE.value})
    assert email_handler(job_event([notice], TICK), context) == {"batchItemFailures": []}
    assert emails() == []
    assert audits("acme#A-1", "reminder_suppressed")[0].detail["reason"].startswith("missing_fact")


@pytest.mark.parametrize("status", [AccountStatus.RECALLED, AccountStatus.SETTLED])
def test_closed_accounts_are_never_emailed(aws, context, status) -> None:
    job = email_job("A-1", due=date(2026, 2, 20))
    AccountModel("acme#A-1").update(actions=[AccountModel.status.set(status.value)])
    email_handler(job_event([job], TICK), context)
    assert emails() == []


def test_a_retried_job_waits_longer_on_each_receive(aws, context) -> None:
    from local.lambda_events import sqs_record

    sqs, queue_url = aws["sqs"], aws["queue_url"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.send_message(QueueUrl=queue_url, MessageBody=email_job("A-1").model_dump_json())
    (message,) = sqs.receive_message(QueueUrl=queue_url, AttributeNames=["All"])["Messages"]
    record = sqs_record(message, queue_arn, TICK)
    record["attributes"]["ApproximateReceiveCount"] = "3"
    inject(Channel.EMAIL, "SendEmail", lambda n: {"Code": "ThrottlingException", "Message": "Rate exceeded"})
    delays: list[dict] = []
    _runtime(Channel.EMAIL).sqs.meta.events.register(
        "provide-client-params.sqs.ChangeMessageVisibility", lambda params, **_: delays.append(params)
    )

    assert email_handler({"Records": [record]}, context) == {
        "batchItemFailures": [{"itemIdentifier": message["MessageId"]}]
    }

    assert [(d["QueueUrl"], d["ReceiptHandle"], d["VisibilityTimeout"]) for d in delays] == [
        (queue_url, message["ReceiptHandle"], 120)  # 30 s, 60 s, 120 s on the third receive
    ]


def test_a_verified_disputes_verification_goes_alone_and_ends_the_pause(aws, context) -> None:
    """FDCPA 809(b): after an operator verified a dispute, the verification is the one email that may go;
    once it went, the dispute is verified (sent) and collection may resume."""
    lenders.put(LenderProfile(lender_id="acme", creditor_name="Acme Lending"))
    reminder = email_job("A-1")
    before = accounts.get("acme#A-1")
    assert before is not None
    dispute = Dispute(TICK - timedelta(days=5), "wrong_amount", DisputeStatus.VERIFYING, "ledger-0308")
    assert accounts.save_state(before, before.with_changes(dispute=dispute), TICK, 4)

    assert email_handler(job_event([reminder], TICK), context) == {"batchItemFailures": []}
    assert emails() == [] and audits("acme#A-1", "reminder_suppressed")  # a reminder waits for the verification

    verification = reminder.model_copy(
        update={
            "template": Template.DISPUTE_VERIFICATION.value,
            "job_id": job_id_for("acme#A-1", reminder.stage, TICK + timedelta(minutes=15)),
        }
    )
    assert email_handler(job_event([verification], TICK), context) == {"batchItemFailures": []}
    (message,) = emails()
    text = parts(message)["text/plain"]
    assert message["Subject"].startswith("Verification of your Acme Lending account")
    assert "You disputed this debt on" in text and "ledger-0308" in text and "Total amount of the debt now" in text
    saved = accounts.get("acme#A-1")
    assert saved is not None and saved.dispute is not None
    assert saved.dispute.status is DisputeStatus.VERIFIED and saved.dispute.verification_sent_at == TICK
    assert audits("acme#A-1", "reminder_sent")[0].detail["template"] == "dispute_verification"
