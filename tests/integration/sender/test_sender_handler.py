"""Given jobs on the email queue, when the sender consumes a batch, then each is emailed once and audited."""

from datetime import UTC, date, datetime, timedelta

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from functions.core.account import AccountStatus
from functions.core.outreach import plan_contact
from functions.sender.handler import lambda_handler
from functions.store import accounts, events, lenders
from functions.store.accounts import AccountModel
from tests.events.factories import job_event, make_account, sqs_event
from tests.events.factories import place as place_account

TICK = datetime(2026, 3, 8, 14, 0, tzinfo=UTC)


def sent() -> list:
    return ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages


def place_and_plan(ref: str, **overrides):
    account = make_account(ref, **overrides)
    place_account(account, TICK)
    job = plan_contact(accounts.get(account.account_id), TICK, 3).job
    assert job is not None
    return job


def test_each_job_becomes_one_email_with_an_audit_event_and_a_counted_contact(aws, context) -> None:
    jobs = [place_and_plan("A-1"), place_and_plan("A-2", email="sam.lee@example.org")]

    response = lambda_handler(job_event(jobs, sent_at=TICK), context)

    assert response == {"batchItemFailures": []}
    messages = sent()
    assert sorted(m.destinations["ToAddresses"][0] for m in messages) == [
        "dana.reyes@example.com",
        "sam.lee@example.org",
    ]
    assert "USD 153.50 was due on 2026-02-20" in messages[0].subject
    (audit,) = [e for e in events.history("acme#A-1") if e.type == "reminder_sent"]
    assert audit.detail["job_id"] == jobs[0].job_id and audit.detail["message_id"]
    assert audit.at == TICK
    account = accounts.get("acme#A-1")
    assert account is not None and (account.contacts_sent, account.last_contact_at) == (1, TICK)


def test_a_redelivered_job_is_not_sent_twice(aws, context) -> None:
    job = place_and_plan("A-1")
    lambda_handler(job_event([job], TICK), context)
    lambda_handler(job_event([job], TICK + timedelta(minutes=5)), context)
    assert len(sent()) == 1
    assert len([e for e in events.history("acme#A-1") if e.type == "reminder_sent"]) == 1
    assert accounts.get("acme#A-1").contacts_sent == 1


def test_a_failure_after_ses_accepted_retries_only_the_bookkeeping(aws, context, monkeypatch) -> None:
    job = place_and_plan("A-1")
    real_record = accounts.record_contact
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("DynamoDB throttled")
        return real_record(*args, **kwargs)

    monkeypatch.setattr(accounts, "record_contact", flaky)
    first = lambda_handler(job_event([job], TICK), context)
    assert first["batchItemFailures"] == [{"itemIdentifier": "msg-0"}]
    second = lambda_handler(job_event([job], TICK), context)
    assert second["batchItemFailures"] == []
    assert len(sent()) == 1  # the retry did not email again
    assert accounts.get("acme#A-1").contacts_sent == 1


def test_an_account_that_paid_since_scheduling_is_not_emailed(aws, context) -> None:
    job = place_and_plan("A-1")
    AccountModel("acme#A-1").update(actions=[AccountModel.status.set(AccountStatus.PAID.value)])
    lambda_handler(job_event([job], TICK), context)
    assert sent() == []
    suppressed = [e for e in events.history("acme#A-1") if e.type == "reminder_suppressed"]
    assert suppressed[0].detail["reason"] == "not_collectible"


def test_a_poison_message_fails_alone_and_the_rest_of_the_batch_is_sent(aws, context) -> None:
    job = place_and_plan("A-1")
    event = sqs_event(["not json", '{"job_id": "too-short"}', job.model_dump_json()], TICK)
    response = lambda_handler(event, context)
    assert response["batchItemFailures"] == [{"itemIdentifier": "msg-0"}, {"itemIdentifier": "msg-1"}]
    assert len(sent()) == 1


def test_the_lenders_sender_identity_is_used(aws, context) -> None:
    from functions.core.lender import LenderProfile

    lenders.put(
        LenderProfile(lender_id="acme", creditor_name="Acme Lending", sender_email="reminders@lender.example.com")
    )
    lambda_handler(job_event([place_and_plan("A-1")], TICK), context)
    (message,) = sent()
    assert message.source == "reminders@lender.example.com"
    assert message.subject.startswith("Acme Lending:")


@pytest.mark.parametrize("status", [AccountStatus.RECALLED, AccountStatus.SETTLED])
def test_closed_accounts_are_never_emailed(aws, context, status) -> None:
    job = place_and_plan("A-1", due=date(2026, 2, 20))
    AccountModel("acme#A-1").update(actions=[AccountModel.status.set(status.value)])
    lambda_handler(job_event([job], TICK), context)
    assert sent() == []
