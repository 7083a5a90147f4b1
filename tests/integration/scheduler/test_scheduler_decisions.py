"""The scheduler with the decision engine: routing by channel, follow-ups that change the account's
state, the time budget, and held-by-rule metrics."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

from functions.core.account import (
    Channel,
    Contact,
    Debtor,
    Installment,
    Plan,
    PlanStatus,
    Promise,
    PromiseStatus,
)
from functions.core.jobs import Job, Template
from functions.core.money import Money
from functions.observability import logger
from functions.scheduler import handler
from functions.scheduler.handler import lambda_handler
from functions.store import accounts
from functions.store.accounts import AccountModel, ContactAttribute
from local.lambda_events import LocalLambdaContext
from tests.events.factories import make_account, scheduled_event
from tests.events.factories import place as place_account

TICK = datetime(2026, 3, 8, 14, 0, tzinfo=UTC)  # 09:00 in Chicago
SHARDS = 4


def place(account, now: datetime = TICK - timedelta(hours=1)) -> None:
    place_account(account, now, SHARDS)


def drain(aws: dict[str, Any], url: str) -> list[Job]:
    jobs = []
    while messages := aws["sqs"].receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            jobs.append(Job.model_validate_json(message["Body"]))
            aws["sqs"].delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return jobs


def texting(ref: str, principal: int = 150_000):
    account = make_account(ref, principal=principal)
    d = account.debtor
    return account.with_changes(
        debtor=Debtor(d.name, d.email, "+13125550147", d.timezone, "en", phone_is_mobile=True, sms_consent=True)
    )


def with_state(account_id: str, **changes: Any) -> None:
    before = accounts.get(account_id)
    assert before is not None
    assert accounts.save_state(before, before.with_changes(**changes), TICK - timedelta(hours=1), SHARDS)


def test_jobs_go_to_the_queue_of_their_channel(aws, context) -> None:
    place(texting("RICH"))  # tier 1 with consent to texts: SMS first
    place(make_account("PLAIN"))  # tier 2: email
    summary = lambda_handler(scheduled_event(TICK), context)
    assert summary["by_channel"] == {"sms": 1, "email": 1}
    (text,) = drain(aws, aws["sms_queue_url"])
    (email,) = drain(aws, aws["queue_url"])
    assert (text.account_id, text.channel, text.tier) == ("acme#RICH", "sms", 1)
    assert (email.account_id, email.channel, email.tier) == ("acme#PLAIN", "email", 2)
    assert email.reason is not None and "tier 2" in email.reason
    assert accounts.get("acme#RICH").tier == 1  # the tier is stored with the claim


def test_without_an_sms_queue_everything_goes_by_email(aws, context, monkeypatch) -> None:
    monkeypatch.delenv("SMS_QUEUE_URL")
    handler._runtime.cache_clear()
    place(texting("RICH"))
    summary = lambda_handler(scheduled_event(TICK), context)
    assert summary["by_channel"] == {"email": 1}
    assert [job.channel for job in drain(aws, aws["queue_url"])] == ["email"]


def test_a_broken_promise_is_marked_and_its_message_queued_once(aws, context) -> None:
    place(make_account("P-1"))
    promise = Promise(Money(5_000, "USD"), date(2026, 3, 4), datetime(2026, 3, 1, tzinfo=UTC))
    with_state("acme#P-1", promise=promise, next_contact_at=TICK - timedelta(minutes=5))
    summary = lambda_handler(scheduled_event(TICK), context)
    (job,) = drain(aws, aws["queue_url"])
    assert (job.template, summary["follow_ups"]) == (Template.BROKEN_PROMISE.value, 1)
    account = accounts.get("acme#P-1")
    assert account.promise.status is PromiseStatus.BROKEN and account.version == 2
    assert account.next_contact_at == TICK + timedelta(days=3)
    again = lambda_handler(scheduled_event(TICK + timedelta(minutes=15)), context)
    assert again["due"] == 0 and drain(aws, aws["queue_url"]) == []


def test_a_current_plan_gets_its_installment_notice(aws, context) -> None:
    place(make_account("PLAN-1"))
    plan = Plan(
        "plan-1",
        TICK - timedelta(days=10),
        (Installment(1, date(2026, 3, 10), Money(5_000, "USD")), Installment(2, date(2026, 4, 9), Money(5_000, "USD"))),
        PlanStatus.CURRENT,
    )
    with_state("acme#PLAN-1", plan=plan, next_contact_at=TICK - timedelta(minutes=5))
    lambda_handler(scheduled_event(TICK), context)
    (job,) = drain(aws, aws["queue_url"])
    assert job.template == Template.INSTALLMENT_DUE.value
    assert accounts.get("acme#PLAN-1").next_contact_at == datetime(2026, 4, 6, 13, 0, tzinfo=UTC)  # 3 days before


class ShortOnTime(LocalLambdaContext):
    """300 s at the start, then 5 s: under the 15 s margin, so nothing more may start."""

    calls = 0

    def get_remaining_time_in_millis(self) -> int:
        self.calls += 1
        return 300_000 if self.calls == 1 else 5_000


def test_when_time_runs_out_the_rest_is_left_for_the_next_run(aws) -> None:
    for n in range(3):
        place(make_account(f"T-{n}"))
    summary = lambda_handler(scheduled_event(TICK), ShortOnTime("cleardue-scheduler"))
    assert (summary["due"], summary["left"], summary["enqueued"]) == (3, 3, 0)  # each one left still due
    assert all(accounts.get(f"acme#T-{n}").next_contact_at <= TICK for n in range(3))  # still due
    assert lambda_handler(scheduled_event(TICK), LocalLambdaContext("cleardue-scheduler"))["enqueued"] == 3


def test_held_contacts_are_counted_by_the_rule_that_held_them(aws, context, capsys) -> None:
    place(make_account("NIGHT"), TICK - timedelta(hours=12))
    night = datetime(2026, 3, 8, 6, 0, tzinfo=UTC)  # 01:00 in Chicago
    summary = lambda_handler(scheduled_event(night), context)
    assert (summary["held"], summary["held_by"]) == (1, {"inconvenient_time": 1})
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    held = [m for m in metrics if "ContactsHeldByRule" in m]
    assert held and held[0]["rule"] == "inconvenient_time" and held[0]["ContactsHeldByRule"] in (1, [1.0], 1.0)


def test_overlapping_runs_with_state_changes_enqueue_each_follow_up_once(aws, overlapping_runs) -> None:
    promise = Promise(Money(5_000, "USD"), date(2026, 3, 4), datetime(2026, 3, 1, tzinfo=UTC))
    for n in range(12):
        place(make_account(f"B-{n}"))
        with_state(f"acme#B-{n}", promise=promise, next_contact_at=TICK - timedelta(minutes=5))
    summaries = overlapping_runs(TICK)
    jobs = drain(aws, aws["queue_url"])
    assert sum(s["enqueued"] for s in summaries) == 12
    assert sorted(job.account_id for job in jobs) == sorted(f"acme#B-{n}" for n in range(12))
    assert {job.template for job in jobs} == {Template.BROKEN_PROMISE.value}


def test_a_contact_held_by_a_cap_is_counted_under_the_cap_not_the_missing_consent(aws, context) -> None:
    place(make_account("BUSY"))
    sent = tuple(Contact(TICK - timedelta(days=d), Channel.EMAIL) for d in (1, 2, 3))
    with_state("acme#BUSY", next_contact_at=TICK - timedelta(minutes=5))
    AccountModel("acme#BUSY").update(
        actions=[
            AccountModel.recent_contacts.set(
                [ContactAttribute(at=c.at, channel=c.channel.value, kind=c.kind.value) for c in sent]
            )
        ]
    )
    summary = lambda_handler(scheduled_event(TICK), context)
    assert summary["held_by"] == {"frequency_cap": 1}


def test_the_pass_logs_and_counts_its_jobs_by_channel(aws, context, capsys) -> None:
    # Given an account reached by text and one by email
    place(texting("RICH"))
    place(make_account("PLAIN"))

    # When a pass enqueues their jobs, its log lines written as Lambda ships them
    stream = logger.registered_handler
    assert isinstance(stream, logging.StreamHandler)
    previous = stream.setStream(io.StringIO())
    try:
        lambda_handler(scheduled_event(TICK), context)
        written = stream.stream.getvalue()
    finally:
        stream.setStream(previous)

    # Then its log line counts them by channel, readable (a key named `email` would have its value masked as PII)
    (logged,) = [json.loads(line) for line in written.splitlines() if '"schedule pass"' in line]
    assert (logged["enqueued_email"], logged["enqueued_sms"], logged["enqueued"]) == (1, 1, 2)
    assert "by_channel" not in logged and "job_ids" not in logged
    # and a metric per channel
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    by_channel = {m["channel"]: m["JobsEnqueuedByChannel"] for m in lines if "JobsEnqueuedByChannel" in m}
    assert by_channel in ({"email": 1, "sms": 1}, {"email": [1.0], "sms": [1.0]}), by_channel
