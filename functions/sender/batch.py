"""One SQS batch of jobs, sent at most once each with a handful of DynamoDB calls for the whole batch.

1. Read every job's account (one BatchGetItem) and decide: the rendered message, or why nothing is sent.
2. Claim the jobs: their audit markers (`id#<event id>`) are read first (one strongly consistent
   BatchGetItem: a job found there is a duplicate, done), then one TransactWriteItems puts a
   `claim#<account>#<event id>` item per job (idempotency table), only if it does not exist and the
   account is still the version decided on. The cancellation reasons say, per job: claimed by another
   delivery (in flight, recorded, or it died), or the account changed (try again later).
3. Send the claimed jobs, one provider call each.
4. Record every outcome (one TransactWriteItems, plus one Query per account for its trail's head):
   the audit event, its `id#` marker and the contact count. Claims of jobs whose send failed for a
   transient reason are deleted (released) first, on their own write, so SQS retries them.

A claim stays after its job is recorded (until the table's TTL): a copy of the job whose marker read
came just before the record cannot claim it. A claim that stays without a record (its claimant died
between claiming and recording) is found by the job's next receive: the claim remembers what was about
to happen, and the job is recorded as that, a send with an unknown provider message id, never sent
again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from functions.core.clock import parse_utc
from functions.core.compliance import Kind
from functions.core.decision import kind_of
from functions.core.jobs import Job
from functions.sender import service
from functions.store import accounts, events

_TRANSACTIONAL = Kind.TRANSACTIONAL


class RetryLater(RuntimeError):
    """Not now: the job's record fails and SQS delivers it again after a back-off."""


class NotYet(RetryLater):
    """The job is for later than now: SQS keeps it out of sight for `seconds` (its visibility timeout)."""

    def __init__(self, seconds: int) -> None:
        super().__init__(f"the job is for later: waiting {seconds} s on the queue")
        self.seconds = seconds


GRACE_SECONDS = 60  # a job scheduled this little after it was enqueued is simply sent
MAX_VISIBILITY_SECONDS = 43_200  # SQS's longest visibility timeout (12 h)


def wait_seconds(scheduled_for: datetime, sent_at: datetime, receive_count: int) -> int:
    """How long a job scheduled for later than it was enqueued must still wait on the queue (0: send).

    Time comes from the event: the sender cannot read the clock, but it knows the message was sent at
    `sent_at` and that each earlier receive hid it for a full step (its visibility timeout, at most 12 h),
    so receive k happens no earlier than `sent_at + (k - 1) * step`."""
    total = (scheduled_for - sent_at).total_seconds()
    if total <= GRACE_SECONDS:
        return 0
    step = min(total, MAX_VISIBILITY_SECONDS)
    waited = (receive_count - 1) * step
    return 0 if waited >= total else int(min(step, total - waited)) + 1


RELEASE_ATTEMPTS = 3


@dataclass
class Item:
    message_id: str
    receive_count: int
    job: Job
    now: datetime
    event_id: str
    sent_at: datetime | None = None  # when SQS got the message (None: the job's own time)
    decided: service.Delivery | service.Ready | None = None
    delivery: service.Delivery | None = None
    claim: events.Claim | None = None
    counted: bool = False  # this receive's claim counted the contact (`accounts.contact_claim`)
    error: Exception | None = None


@dataclass
class Outcome:
    """Per SQS message id: the delivery (None: nothing to do, a duplicate) or the error that fails it."""

    deliveries: dict[str, service.Delivery | None] = field(default_factory=dict)
    errors: dict[str, Exception] = field(default_factory=dict)
    # A receipt or payment notice that may not go now (the contact window): queued again for this moment.
    later: dict[str, datetime] = field(default_factory=dict)


def send_batch(
    items: list[Item], sender: service.Sender, due_shards: int, log: Callable[[str, dict[str, Any]], None]
) -> Outcome:
    outcome = Outcome()
    work: list[Item] = []
    seen_jobs: set[str] = set()
    busy_accounts: set[str] = set()
    for item in items:
        wait = wait_seconds(item.job.scheduled_for, item.sent_at or item.now, item.receive_count)
        if wait:
            outcome.errors[item.message_id] = NotYet(wait)
        elif item.job.channel is not sender.channel:  # a poison job: it fails on every receive, then the DLQ has it
            outcome.errors[item.message_id] = ValueError(
                f"a {item.job.channel} job reached the {sender.channel} sender"
            )
        elif item.event_id in seen_jobs:
            outcome.deliveries[item.message_id] = None  # the same job twice in one batch: once is enough
        elif item.job.account_id in busy_accounts:
            # Another job for this account is in the batch: one at a time (the claim checks its version).
            outcome.errors[item.message_id] = RetryLater(f"another job for {item.job.account_id} is in this batch")
        else:
            seen_jobs.add(item.event_id)
            busy_accounts.add(item.job.account_id)
            work.append(item)
    if not work:
        return outcome

    # 1. Read and decide.
    found = accounts.get_many([item.job.account_id for item in work])
    claims: list[events.Claim] = []
    for item in work:
        account = found.get(item.job.account_id)
        item.decided = sender.decide(item.job, account, item.now)
        decided = item.decided
        if isinstance(decided, service.Delivery) and decided.retry_at and kind_of(item.job.template) is _TRANSACTIONAL:
            # Not collection, but still a communication: it waits for the window instead of being dropped.
            outcome.later[item.message_id] = parse_utc(decided.retry_at)
            continue
        if account is None:
            outcome.deliveries[item.message_id] = item.decided  # type: ignore[assignment]
            continue  # never placed (or removed): nothing to audit against
        ready = isinstance(item.decided, service.Ready)
        intent = item.decided.facts() if isinstance(item.decided, service.Ready) else item.decided
        item.claim = events.Claim(
            account_id=item.job.account_id,
            event_id=item.event_id,
            message_id=item.message_id,
            receive_count=item.receive_count,
            intent={key: value for key, value in intent.as_dict().items() if value is not None},
            # A send is counted as it is claimed (under the version it was decided on); a suppression only checks it.
            check=None if ready else accounts.unchanged_check(account),
            update=accounts.contact_claim(account, item.now, item.job.job_id, item.job.channel) if ready else None,
        )
        claims.append(item.claim)

    # 2. Claim.
    claimed = events.claim(claims) if claims else {}
    to_record: list[Item] = []
    for item in work:
        if item.claim is None:
            continue
        result = claimed[item.event_id]
        if result == events.CLAIMED:
            item.counted = item.claim.update is not None
            to_record.append(item)
        elif result == events.RECORDED:
            outcome.deliveries[item.message_id] = None  # a redelivered job: already done
        elif result == events.CHANGED:
            outcome.errors[item.message_id] = RetryLater("the account changed while the job was decided")
        elif isinstance(result, events.Held):
            if result.message_id == item.message_id and result.receive_count < item.receive_count:
                # This message's earlier receive claimed the job and never recorded it: it may have sent.
                item.claim = events.Claim(
                    item.job.account_id, item.event_id, result.message_id, result.receive_count, result.intent
                )
                stored = dict(result.intent)
                if stored.get("segments") is not None:
                    stored["segments"] = int(stored["segments"])  # a stored number comes back as a float
                item.delivery = service.Delivery.from_dict(stored)
                log("recording a job whose sender died after claiming it", {"job_id": item.job.job_id})
                to_record.append(item)
            elif result.message_id == item.message_id:
                outcome.errors[item.message_id] = RetryLater("this message is being handled by another receive")
            else:
                outcome.deliveries[item.message_id] = None  # the same job queued twice: its claimant records it

    # 3. Send.
    releases: list[events.Claim] = []
    uncounts: list[Item] = []
    recordings: list[events.Recording] = []
    recorded: list[Item] = []
    for item in to_record:
        if item.delivery is None:
            if isinstance(item.decided, service.Ready):
                try:
                    item.delivery = sender.send(item.job, item.decided)
                except Exception as exc:  # noqa: BLE001  # TransientSendError, botocore errors, anything unexpected
                    # Throttled, transient or unexpected: not sent (as far as we know); the job is tried again.
                    item.error = exc
                    assert item.claim is not None
                    releases.append(item.claim)  # not sent: give the claim back so the retry can send
                    if item.counted:
                        uncounts.append(item)  # and the contact its claim counted
                    outcome.errors[item.message_id] = exc
                    continue
            else:
                assert isinstance(item.decided, service.Delivery)
                item.delivery = item.decided
        event = service.audit_event(item.job, item.delivery, item.now)
        assert event is not None
        update = None
        if item.counted and item.delivery.outcome != service.SENT:
            # Refused for good: not a contact after all; taken back with the record (once, as the record is).
            assert isinstance(item.decided, service.Ready)
            update = accounts.contact_uncount(item.decided.account, item.now, item.job.channel)
        recordings.append(events.Recording(event, item.claim, update))
        recorded.append(item)

    # 4. Record. A failed send gives its claim back on its own write, first: written together with the records,
    # a failed record write kept the claim, and the next receive took the job for sent (recorded, never sent).
    if releases and _release(releases, log):
        for item in uncounts:  # after the claims are given back: a claim still held reads as sent (and counted)
            assert isinstance(item.decided, service.Ready)
            try:
                if not accounts.uncount_contact(item.decided.account, item.now, item.job.channel):
                    log("a failed send's contact was counted since", {"job_id": item.job.job_id})
            except Exception as exc:  # noqa: BLE001  # over-counted by one: caps err on the side of fewer contacts
                log("a failed send's contact could not be taken back", {"job_id": item.job.job_id, "error": str(exc)})
    written: list[Any] = []
    if recordings:
        try:
            written = events.append_batch(recordings)
        except Exception as exc:  # noqa: BLE001  # every record fails; the next receive finds the claims
            for item in recorded:
                outcome.errors[item.message_id] = RetryLater(f"recording failed: {exc}")
            return outcome
    for item, sealed in zip(recorded, written, strict=True):
        assert item.delivery is not None
        if sealed is None:
            # Already in the trail (a copy that read no marker, then found a claim kept by a recorded job):
            # recorded and counted once, by the first; nothing more to do.
            outcome.deliveries[item.message_id] = None
            continue
        try:
            service.follow_up(item.job, item.delivery, item.now, due_shards)
        except Exception as exc:  # noqa: BLE001  # recorded and counted; the state change is logged as lost
            log("the outcome's state change failed", {"job_id": item.job.job_id, "error": str(exc)})
        outcome.deliveries[item.message_id] = item.delivery
    return outcome


def _release(claims: list[events.Claim], log: Callable[[str, dict[str, Any]], None]) -> bool:
    """Give back the claims of jobs whose send failed (so their retry sends), trying a few times: a claim still
    held when the job comes back reads as "this message's earlier receive may have sent it". False if they
    could not be given back."""
    for attempt in range(1, RELEASE_ATTEMPTS + 1):
        try:
            events.append_batch([], claims)
            return True
        except Exception as exc:  # noqa: BLE001
            if attempt == RELEASE_ATTEMPTS:
                log("claims of failed sends could not be given back", {"jobs": len(claims), "error": str(exc)})
    return False
