"""One scheduling pass: query every due shard, plan each account, enqueue, then claim."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from functions.core.account import Account
from functions.core.audit import AuditEvent, EventType
from functions.core.lender import LenderProfile
from functions.core.outreach import ContactPlan, NoContactReason, plan_contact
from functions.store import accounts, events

ACTOR = "scheduler"
SQS_BATCH_LIMIT = 10


@dataclass
class ScheduleSummary:
    due: int = 0
    enqueued: int = 0
    waiting: int = 0  # no stage open now; rescheduled to when one opens
    held: int = 0  # a compliance rule allows it later (window, cap, pause): rescheduled to then
    stopped: int = 0  # left the due index (not collectible, no usable channel)
    enqueue_failures: int = 0
    claim_conflicts: int = 0
    job_ids: list[str] = field(default_factory=list)


@dataclass
class _Pending:
    account: Account
    plan: ContactPlan


class Scheduler:
    """Plans and enqueues the contacts due at `now`. Safe to re-run: job ids are deterministic and
    each account is claimed with a conditional update of `next_contact_at` after its job is enqueued."""

    def __init__(self, sqs: Any, queue_url: str, shards: int, lender_for: Callable[[str], LenderProfile]) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._shards = shards
        self._lender_for = lender_for

    def run(self, now: datetime) -> ScheduleSummary:
        summary = ScheduleSummary()
        batch: list[_Pending] = []
        for shard in range(self._shards):
            for account in accounts.due_accounts(f"{shard:02d}", now):
                summary.due += 1
                plan = plan_contact(account, now, self._lender_for(account.lender_id).cadence_days)
                if plan.job is None:
                    self._without_job(account, plan, now, summary)
                    continue
                batch.append(_Pending(account, plan))
                if len(batch) == SQS_BATCH_LIMIT:
                    self._flush(batch, summary)
                    batch = []
        self._flush(batch, summary)
        return summary

    def _without_job(self, account: Account, plan: ContactPlan, now: datetime, summary: ScheduleSummary) -> None:
        if not accounts.reschedule(account.account_id, account.next_contact_at, plan.next_contact_at, self._shards):
            summary.claim_conflicts += 1
            return
        if plan.reason == NoContactReason.NO_STAGE_OPEN:
            summary.waiting += 1
            return
        if plan.reason == NoContactReason.HELD:
            summary.held += 1
            return
        summary.stopped += 1
        events.append(
            AuditEvent(
                account_id=account.account_id,
                at=now,
                type=EventType.OUTREACH_STOPPED,
                event_id=f"stop:{(plan.reason or '').split(':')[0]}",
                actor=ACTOR,
                detail={"reason": plan.reason},
            )
        )

    def _flush(self, batch: list[_Pending], summary: ScheduleSummary) -> None:
        """Claim each account (conditional update of its next contact), then enqueue only what was claimed.

        Two overlapping runs cannot both claim the same due instance, so each contact is enqueued once.
        A job that then fails to enqueue gives its claim back: the account is due again at the next tick."""
        claimed = []
        for pending in batch:
            if accounts.reschedule(
                pending.account.account_id, pending.account.next_contact_at, pending.plan.next_contact_at, self._shards
            ):
                claimed.append(pending)
            else:
                summary.claim_conflicts += 1  # another run claimed it, or it changed since the query
        if not claimed:
            return
        response = self._sqs.send_message_batch(
            QueueUrl=self._queue_url,
            Entries=[
                {"Id": str(index), "MessageBody": pending.plan.job.model_dump_json()}  # type: ignore[union-attr]
                for index, pending in enumerate(claimed)
            ],
        )
        for entry in response.get("Successful", []):
            job = claimed[int(entry["Id"])].plan.job
            assert job is not None
            summary.enqueued += 1
            summary.job_ids.append(job.job_id)
        for entry in response.get("Failed", []):
            pending = claimed[int(entry["Id"])]
            summary.enqueue_failures += 1
            accounts.reschedule(
                pending.account.account_id, pending.plan.next_contact_at, pending.account.next_contact_at, self._shards
            )
