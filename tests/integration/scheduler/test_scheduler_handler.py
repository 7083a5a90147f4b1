"""Given placed accounts, when the EventBridge tick fires, then one job per due account is on the email queue."""

import json
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from functions.core.account import due_shard
from functions.core.jobs import Job
from functions.scheduler.handler import lambda_handler
from functions.store import accounts, events
from tests.events.factories import make_account, scheduled_event
from tests.events.factories import place as place_account

TICK = datetime(2026, 3, 8, 14, 0, tzinfo=UTC)
SHARDS = 4


def place(account, now: datetime = TICK - timedelta(hours=1)) -> None:
    place_account(account, now, SHARDS)


def queued_jobs(aws: dict[str, Any]) -> list[Job]:
    jobs = []
    while messages := aws["sqs"].receive_message(QueueUrl=aws["queue_url"], MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            jobs.append(Job.model_validate_json(message["Body"]))
            aws["sqs"].delete_message(QueueUrl=aws["queue_url"], ReceiptHandle=message["ReceiptHandle"])
    return jobs


def test_due_accounts_across_shards_get_one_job_each(aws, context) -> None:
    refs = [f"A-{n}" for n in range(25)]  # more than one SQS batch of 10, spread over the shards
    for ref in refs:
        place(make_account(ref))
    assert len({due_shard(f"acme#{ref}", SHARDS) for ref in refs}) == SHARDS

    summary = lambda_handler(scheduled_event(TICK), context)

    jobs = queued_jobs(aws)
    assert summary["enqueued"] == 25
    assert sorted(job.account_id for job in jobs) == sorted(f"acme#{ref}" for ref in refs)
    job = jobs[0]
    assert (job.channel, job.template, job.stage, job.scheduled_for) == ("email", "reminder", "mid", TICK)
    assert set(json.loads(job.model_dump_json())) == {
        "job_id",
        "account_id",
        "channel",
        "template",
        "variant",
        "stage",
        "scheduled_for",
        "tone",
        "tier",
        "reason",
    }
    dana = accounts.get("acme#A-0")
    assert dana is not None and dana.next_contact_at == TICK + timedelta(days=3)  # claimed: next on cadence


def test_a_rerun_of_the_same_tick_enqueues_nothing_twice(aws, context) -> None:
    place(make_account("A-1"))
    lambda_handler(scheduled_event(TICK), context)
    again = lambda_handler(scheduled_event(TICK), context)
    assert again["due"] == 0
    assert len(queued_jobs(aws)) == 1


def test_accounts_not_yet_due_are_left_alone(aws, context) -> None:
    place(make_account("LATER", due=date(2026, 4, 30)))  # pre-due window opens 2026-04-25
    summary = lambda_handler(scheduled_event(TICK), context)
    assert summary["due"] == 0 and queued_jobs(aws) == []


def test_an_account_without_a_usable_channel_leaves_the_index_and_says_why(aws, context) -> None:
    place(make_account("PHONE-ONLY", email=None))
    summary = lambda_handler(scheduled_event(TICK), context)
    assert (summary["stopped"], summary["enqueued"]) == (1, 0)
    account = accounts.get("acme#PHONE-ONLY")
    assert account is not None and account.next_contact_at is None
    (stopped,) = events.history("acme#PHONE-ONLY")
    assert (stopped.type, stopped.detail["reason"]) == ("outreach_stopped", "no_usable_channel")


def test_the_scheduler_fixture_event_from_aws_is_accepted(aws, context) -> None:
    # EventBridge Scheduler events carry `detail` as the string "{}"; the handler only needs `time`.
    from tests.events.factories import _load

    event = dict(_load("powertools_eventBridgeSchedulerEvent.json"))
    event["time"] = "2026-03-08T14:00:00Z"
    place(make_account("A-1"))
    assert lambda_handler(event, context)["enqueued"] == 1


def test_two_overlapping_runs_enqueue_each_due_contact_once(aws, overlapping_runs) -> None:
    for n in range(40):
        place(make_account(f"O-{n}"))
    summaries = overlapping_runs(TICK)

    jobs = queued_jobs(aws)
    assert sum(summary["enqueued"] for summary in summaries) == 40
    assert sorted(job.account_id for job in jobs) == sorted(f"acme#O-{n}" for n in range(40))


def test_a_job_that_fails_to_enqueue_gives_its_claim_back(aws, context, monkeypatch) -> None:
    place(make_account("F-1"))
    before = accounts.get("acme#F-1").next_contact_at
    from functions.scheduler import handler

    real = handler._runtime()[1]

    class FailingSqs:
        def send_message_batch(self, QueueUrl, Entries):  # noqa: N803 - boto3's argument names
            return {
                "Successful": [],
                "Failed": [{"Id": e["Id"], "Code": "InternalError", "SenderFault": False} for e in Entries],
            }

        def __getattr__(self, name):
            return getattr(real, name)

    monkeypatch.setattr(handler, "_runtime", cache(lambda: (handler.SchedulerSettings.from_env(), FailingSqs())))
    summary = lambda_handler(scheduled_event(TICK), context)
    assert (summary["enqueued"], summary["enqueue_failures"]) == (0, 1)
    assert accounts.get("acme#F-1").next_contact_at == before  # still due: the next tick tries again


def test_a_batch_sqs_refuses_whole_gives_every_claim_back(aws, context, monkeypatch) -> None:
    """Found under injected faults: a SendMessageBatch that raised (throttled, 5xx, timed out) left its accounts
    claimed, their next contact moved on, and no job queued: reminders lost without a trace."""
    from botocore.exceptions import ReadTimeoutError

    from functions.scheduler import handler

    for ref in ("T-1", "T-2"):
        place(make_account(ref))
    before = {ref: accounts.get(f"acme#{ref}").next_contact_at for ref in ("T-1", "T-2")}
    original = handler._runtime
    real = original()[1]

    class TimingOutSqs:
        def send_message_batch(self, QueueUrl, Entries):  # noqa: N803 - boto3's argument names
            raise ReadTimeoutError(endpoint_url=QueueUrl)

        def __getattr__(self, name):
            return getattr(real, name)

    monkeypatch.setattr(handler, "_runtime", cache(lambda: (handler.SchedulerSettings.from_env(), TimingOutSqs())))
    summary = lambda_handler(scheduled_event(TICK), context)
    assert (summary["enqueued"], summary["enqueue_failures"]) == (0, 2)
    assert {ref: accounts.get(f"acme#{ref}").next_contact_at for ref in ("T-1", "T-2")} == before  # due again

    monkeypatch.setattr(handler, "_runtime", original)
    lambda_handler(scheduled_event(TICK + timedelta(minutes=15)), context)
    assert sorted(job.account_id for job in queued_jobs(aws)) == ["acme#T-1", "acme#T-2"]


def test_a_claim_that_fails_mid_batch_still_queues_the_accounts_claimed_before_it(aws, context, monkeypatch) -> None:
    """Found under injected faults: a claim (UpdateItem) throttled in the middle of a batch raised out of the
    pass, and the accounts already claimed in that batch were never queued: their reminders were lost."""
    import pytest

    from functions.scheduler.service import Scheduler
    from functions.store import StoreError

    refs = [f"M-{n}" for n in range(4)]
    for ref in refs:
        place(make_account(ref))
    real_claim = Scheduler._claim
    calls = []

    def third_claim_throttled(self, account, plan, now):
        calls.append(account.account_id)
        if len(calls) == 3:
            raise StoreError("rescheduling account failed: ProvisionedThroughputExceededException")
        return real_claim(self, account, plan, now)

    monkeypatch.setattr(Scheduler, "_claim", third_claim_throttled)
    with pytest.raises(StoreError):
        lambda_handler(scheduled_event(TICK), context)  # the invocation fails: EventBridge retries it
    first = queued_jobs(aws)
    assert sorted(job.account_id for job in first) == sorted(calls[:2])

    monkeypatch.setattr(Scheduler, "_claim", real_claim)
    lambda_handler(scheduled_event(TICK), context)  # the retry takes the rest
    assert sorted(job.account_id for job in first + queued_jobs(aws)) == [f"acme#{ref}" for ref in refs]
