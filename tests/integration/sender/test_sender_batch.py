"""Given a batch of jobs, the sender claims, sends and records them together, each job still at most once."""

from __future__ import annotations

from datetime import timedelta

from functions.core.account import Channel
from functions.sender.handler import email_handler
from functions.store import accounts, events
from tests.events.factories import job_event, sqs_event
from tests.integration.sender.conftest import TICK, email_job, emails, inject


def sent_audits(account_id: str) -> list:
    return [e for e in events.history(account_id) if e.type == "reminder_sent"]


def test_a_duplicate_job_inside_a_batch_and_the_batch_delivered_twice_send_one_email_each(aws, context) -> None:
    jobs = [email_job("A-1"), email_job("A-2", email="sam.lee@example.org")]
    batch = [jobs[0], jobs[1], jobs[0]]

    assert email_handler(job_event(batch, TICK), context) == {"batchItemFailures": []}
    assert email_handler(job_event(batch, TICK + timedelta(minutes=5)), context) == {"batchItemFailures": []}

    assert sorted(m["To"] for m in emails()) == ["dana.reyes@example.com", "sam.lee@example.org"]
    for job in jobs:
        assert len(sent_audits(job.account_id)) == 1
        assert accounts.get(job.account_id).contacts_sent == 1


def test_a_job_claimed_by_a_receive_still_in_flight_is_not_sent_twice(aws, context, monkeypatch) -> None:
    """The same message handed out again while its first receive is still working (same receive count)."""
    job = email_job("A-1")
    real_append = events.append_batch
    monkeypatch.setattr(events, "append_batch", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("killed")))
    assert email_handler(job_event([job], TICK), context)["batchItemFailures"] == [{"itemIdentifier": "msg-0"}]
    monkeypatch.setattr(events, "append_batch", real_append)

    # Same receive: it may still be sending; try later. A later receive knows the first one is over.
    assert email_handler(job_event([job], TICK), context)["batchItemFailures"] == [{"itemIdentifier": "msg-0"}]
    later = sqs_event([job.model_dump_json()], TICK, receive_count=3)
    assert email_handler(later, context)["batchItemFailures"] == []
    assert len(emails()) == 1
    (audit,) = sent_audits("acme#A-1")
    assert audit.detail["message_id_unknown"] is True
    assert accounts.get("acme#A-1").contacts_sent == 1


def test_a_throttled_record_fails_alone_and_succeeds_on_its_retry(aws, context) -> None:
    jobs = [email_job("A-1"), email_job("A-2", email="sam.lee@example.org"), email_job("A-3", email="kim@example.net")]

    def throttle_second(n):
        return {"Code": "ThrottlingException", "Message": "Rate exceeded"} if n == 2 else None

    requests = inject(Channel.EMAIL, "SendEmail", throttle_second)
    assert email_handler(job_event(jobs, TICK), context) == {"batchItemFailures": [{"itemIdentifier": "msg-1"}]}
    assert len(emails()) == 2 and sent_audits(jobs[1].account_id) == []

    retry = sqs_event([jobs[1].model_dump_json()], TICK + timedelta(seconds=30), receive_count=2)
    assert email_handler(retry, context) == {"batchItemFailures": []}
    assert len(requests) == 4 and len(emails()) == 3
    for job in jobs:
        (audit,) = sent_audits(job.account_id)
        assert audit.detail["message_id"]
        assert accounts.get(job.account_id).contacts_sent == 1


def test_a_claim_that_conflicts_fails_only_its_record(aws, context, monkeypatch) -> None:
    """Three accounts in one batch; one account changes between the sender's read and its claim."""
    jobs = [email_job("A-1"), email_job("A-2", email="sam.lee@example.org"), email_job("A-3", email="kim@example.net")]
    real_get_many = accounts.get_many

    def read_then_change(ids):
        found = real_get_many(ids)
        before = found["acme#A-2"]  # a payment webhook saves the account right after the sender read it
        assert accounts.save_state(before, before.with_changes(tier=2), TICK, 4)
        return found

    monkeypatch.setattr(accounts, "get_many", read_then_change)
    response = email_handler(job_event(jobs, TICK), context)
    monkeypatch.setattr(accounts, "get_many", real_get_many)
    assert response == {"batchItemFailures": [{"itemIdentifier": "msg-1"}]}
    assert sorted(m["To"] for m in emails()) == ["dana.reyes@example.com", "kim@example.net"]

    retry = sqs_event([jobs[1].model_dump_json()], TICK + timedelta(seconds=30), receive_count=2)
    assert email_handler(retry, context) == {"batchItemFailures": []}
    assert len(emails()) == 3
    assert [len(sent_audits(job.account_id)) for job in jobs] == [1, 1, 1]


def test_two_jobs_for_one_account_in_a_batch_go_one_at_a_time(aws, context) -> None:
    job = email_job("A-1")
    other = job.model_copy(update={"job_id": "0123456789abcdef0123456789abcdef"})
    assert email_handler(job_event([job, other], TICK), context) == {"batchItemFailures": [{"itemIdentifier": "msg-1"}]}
    assert len(emails()) == 1


def test_a_job_queued_twice_whose_other_copy_holds_the_claim_is_skipped_in_a_mixed_batch(aws, context) -> None:
    jobs = [email_job("A-1"), email_job("A-2", email="sam.lee@example.org"), email_job("A-3", email="kim@example.net")]
    held = events.Claim(jobs[1].account_id, f"job:{jobs[1].job_id}", "another-message", 1, {"outcome": "sent"})
    assert events.claim([held]) == {held.event_id: events.CLAIMED}  # the other copy is being sent right now

    assert email_handler(job_event(jobs, TICK), context) == {"batchItemFailures": []}

    assert sorted(m["To"] for m in emails()) == ["dana.reyes@example.com", "kim@example.net"]
    assert sent_audits(jobs[1].account_id) == []  # its claimant records it


def test_a_failed_send_whose_batch_could_not_be_recorded_is_sent_on_its_retry(aws, context, monkeypatch) -> None:
    """Found under injected faults: the failed send's claim was given back in the same write as the batch's
    records; when that write failed the claim stayed, and the retry recorded the job as sent without sending it."""
    jobs = [email_job("A-1"), email_job("A-2", email="sam.lee@example.org")]
    inject(
        Channel.EMAIL,
        "SendEmail",
        lambda n: {"Code": "TooManyRequestsException", "Message": "slow"} if n == 2 else None,
    )
    real_append = events.append_batch

    def records_fail(recordings, releases=()):
        if recordings:
            raise RuntimeError("ProvisionedThroughputExceededException")
        return real_append(recordings, releases)

    monkeypatch.setattr(events, "append_batch", records_fail)
    failures = email_handler(job_event(jobs, TICK), context)["batchItemFailures"]
    monkeypatch.setattr(events, "append_batch", real_append)
    assert failures == [{"itemIdentifier": "msg-0"}, {"itemIdentifier": "msg-1"}]
    assert len(emails()) == 1  # A-1 went out, A-2 was throttled

    retry = sqs_event([job.model_dump_json() for job in jobs], TICK + timedelta(seconds=30), receive_count=2)
    assert email_handler(retry, context) == {"batchItemFailures": []}

    assert sorted(m["To"] for m in emails()) == ["dana.reyes@example.com", "sam.lee@example.org"]
    (first,) = sent_audits("acme#A-1")
    assert first.detail["message_id_unknown"] is True  # sent, its record lost: recorded once, never sent again
    (second,) = sent_audits("acme#A-2")
    assert second.detail["message_id"] and not second.detail.get("message_id_unknown")


def test_a_held_claim_that_cannot_be_read_fails_only_its_own_job(aws, context, monkeypatch) -> None:
    """Found under injected faults: reading the claim another delivery holds failed (throttled) after this
    batch's own claims were written; the whole batch failed with them held, and each job's retry then took
    its own claim for "sent by an earlier receive" and recorded a reminder that never went out."""
    jobs = [email_job("A-1"), email_job("A-2", email="sam.lee@example.org")]
    held = events.Claim(jobs[1].account_id, f"job:{jobs[1].job_id}", "another-message", 1, {"outcome": "sent"})
    assert events.claim([held]) == {held.event_id: events.CLAIMED}
    real_held = events._held

    def throttled(claim):
        raise events.StoreError("reading a claim failed: ProvisionedThroughputExceededException")

    monkeypatch.setattr(events, "_held", throttled)
    response = email_handler(job_event(jobs, TICK), context)
    monkeypatch.setattr(events, "_held", real_held)

    assert response == {"batchItemFailures": [{"itemIdentifier": "msg-1"}]}  # only the unreadable one retries
    assert [m["To"] for m in emails()] == ["dana.reyes@example.com"]
    (audit,) = sent_audits(jobs[0].account_id)
    assert audit.detail["message_id"]


def test_a_copy_whose_marker_read_missed_the_record_is_held_by_the_kept_claim(aws, context, monkeypatch) -> None:
    """The audit marker is read before claiming (not checked in the claim transaction): a copy of a job whose
    read came just before the job was recorded still finds its claim, kept after the record, and neither
    sends nor records it again; the same message redelivered (its first receive recorded it, then died
    before SQS deleted it) tries to record it as the claim says and finds it already in the trail."""
    job = email_job("A-1")
    assert email_handler(job_event([job], TICK), context) == {"batchItemFailures": []}
    monkeypatch.setattr(events, "recorded", lambda keys: set())  # every marker read comes too early

    copy = sqs_event([job.model_dump_json()], TICK)
    copy["Records"][0]["messageId"] = "another-message"  # the job queued twice
    assert email_handler(copy, context) == {"batchItemFailures": []}
    redelivered = sqs_event([job.model_dump_json()], TICK, receive_count=2)
    assert email_handler(redelivered, context) == {"batchItemFailures": []}

    assert len(emails()) == 1
    (audit,) = sent_audits("acme#A-1")
    assert "message_id_unknown" not in audit.detail  # the first record stands
    assert accounts.get("acme#A-1").contacts_sent == 1
