"""One scheduling pass: query every due shard in parallel, decide each account, claim it, enqueue its job.

Claims come first: an account is claimed by a conditional update of its `next_contact_at` (and, when
the decision changed its state — a promise broken or kept, its tier — by `claim_state`, which also
holds the version lock), and only claimed jobs are enqueued, 10 per SendMessageBatch, on the queue of
their channel. Two overlapping runs cannot both claim the same due instance. A job that fails to
enqueue gives its claim back. When the Lambda's remaining time falls under the margin the pass
stops: what is left stays due and the next tick picks it up (`left` says how many).

Plan installments (with a charges queue): an account on a current plan is also asked which installment
charges are due (`core.installments.due_charges`); once the account is claimed, one charge job per due
attempt goes on the charges queue (the charger makes the charge, keyed per attempt, so a second copy
charges nothing twice), and the account's next look is the earlier of the contact decision's and the
charges' (`next_look`: the next charge day, or soon while a charge is queued or awaiting Stripe's answer).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from functions.core import installments, propensity
from functions.core.account import Account, Channel, PlanStatus
from functions.core.audit import AuditEvent, EventType
from functions.core.compliance import GatePolicy
from functions.core.decision import ContactPlan, Learned, NoContactReason, decide
from functions.core.lender import PlanBounds
from functions.core.policy import Rules
from functions.store import accounts, events
from functions.store import experiments as experiment_store
from functions.store import learning as learning_store

ACTOR = "scheduler"
SQS_BATCH_LIMIT = 10
DEFAULT_MARGIN_MS = 15_000  # stop this long before the Lambda's timeout; the next tick does the rest


@dataclass
class ScheduleSummary:
    due: int = 0
    enqueued: int = 0
    waiting: int = 0  # no stage open now, or an arrangement runs: rescheduled to its next date
    held: int = 0  # a compliance rule allows it later (window, cap, pause): rescheduled to then
    timed: int = 0  # allowed now, but the debtor's hour comes later today (send time): rescheduled to it
    stopped: int = 0  # left the due index (not collectible, no usable channel, blocked)
    enqueue_failures: int = 0
    claim_conflicts: int = 0
    left: int = 0  # not looked at: the time budget ran out (still due: the next tick takes them)
    follow_ups: int = 0  # jobs that are not plain reminders (broken promise, installment, validation notice)
    charges_enqueued: int = 0  # plan installment charge jobs put on the charges queue
    charge_enqueue_failures: int = 0  # not queued: the account's next look (soon) queues them again
    held_by: dict[str, int] = field(default_factory=dict)  # the compliance rule that held each contact
    by_channel: dict[str, int] = field(default_factory=dict)
    job_ids: list[str] = field(default_factory=list)


@dataclass
class _Pending:
    account: Account
    plan: ContactPlan
    charges: tuple[installments.Charge, ...] = ()


@dataclass(frozen=True)
class ChargeQueue:
    """Where installment charges go, and each lender's plan rules (retries, grace) they follow."""

    url: str
    plan_bounds_for: Callable[[str], PlanBounds]


def held_rule(plan: ContactPlan) -> str:
    """The rule that held a contact, from the decision's record (`<channel>: <rule>: <reason>`): the first
    one that waits for time (another channel may be denied for good, e.g. no consent to texts)."""
    for line in plan.why:
        parts = line.split(": ", 2)
        if len(parts) == 3 and parts[0] in _CHANNELS and parts[1] not in _PERMANENT_RULES:
            return parts[1]
    return "unknown"


_CHANNELS = frozenset(channel.value for channel in Channel)
_PERMANENT_RULES = frozenset({"suppressed", "channel_permitted", "validation_notice_first"})


class Scheduler:
    """Decides and enqueues the contacts due at `now`. Safe to re-run and to overlap: job ids are
    deterministic and each account is claimed (conditional update) before its job is enqueued."""

    def __init__(
        self,
        sqs: Any,
        queues: dict[Channel, str],
        shards: int,
        rules_for: Callable[[str], tuple[Rules, GatePolicy]],
        remaining_ms: Callable[[], int] | None = None,
        margin_ms: int = DEFAULT_MARGIN_MS,
        charges: ChargeQueue | None = None,
        model: propensity.Model | None = None,
    ) -> None:
        """`model`: the propensity model (read once per container by the handler; default: the shipped one)."""
        self._sqs = sqs
        self._model = model
        self._charges = charges
        self._charge_batch: list[installments.ChargeJob] = []
        self._queues = queues
        self._shards = shards
        self._rules_for = rules_for
        self._remaining_ms = remaining_ms
        self._margin_ms = margin_ms

    def run(self, now: datetime) -> ScheduleSummary:
        summary = ScheduleSummary()
        run_standings = experiment_store.RunStandings()
        learned = self._learned()
        margin = self._margin_ms
        if self._remaining_ms is not None:  # a short timeout keeps a proportionate margin, never all of it
            margin = min(margin, self._remaining_ms() // 4)
        batches: dict[Channel, list[_Pending]] = {channel: [] for channel in self._queues}
        due = [account for shard in accounts.due_in_all_shards(self._shards, now) for account in shard]
        summary.due = len(due)
        for index, account in enumerate(due):
            if self._remaining_ms is not None and self._remaining_ms() < margin:
                summary.left = len(due) - index
                break
            rules, policy = self._rules_for(account.lender_id)
            # Experiment standings: read once per lender in this run (pooled), only for lenders that test.
            testing = rules.experiments
            standings = run_standings.of(account.lender_id, testing) if testing is not None else None
            plan = decide(account, now, rules, policy, standings=standings, learned=learned(account.lender_id, rules))
            pending = self._with_charges(_Pending(account, plan), now)
            plan = pending.plan
            if plan.job is None:
                self._without_job(pending, now, summary)
                continue
            batch = batches[plan.job.channel]
            batch.append(pending)
            if len(batch) == SQS_BATCH_LIMIT:
                self._flush(plan.job.channel, batch, now, summary)
                batch.clear()
        for channel, batch in batches.items():
            self._flush(channel, batch, now, summary)
        self._flush_charges(summary)
        return summary

    def _learned(self) -> Callable[[str, Rules], Learned | None]:
        """What each lender's decisions learn from in this run: its send-time priors (one Query per lender per
        run, only when its learning is on) and the propensity model (unless the lender turned it off)."""
        run_priors = learning_store.RunPriors()
        model = self._model or propensity.default_model()
        found: dict[str, Learned | None] = {}

        def learned(lender_id: str, rules: Rules) -> Learned | None:
            if lender_id not in found:
                settings = rules.learning
                found[lender_id] = (
                    None
                    if settings is None
                    else Learned(
                        run_priors.of(lender_id, settings.min_prior_responses), model if settings.propensity else None
                    )
                )
            return found[lender_id]

        return learned

    def _with_charges(self, pending: _Pending, now: datetime) -> _Pending:
        """The installment charges due now, and a next look no later than the charges need."""
        plan = pending.account.plan
        if self._charges is None or plan is None or plan.status is not PlanStatus.CURRENT:
            return pending
        bounds = self._charges.plan_bounds_for(pending.account.lender_id)
        charges = installments.due_charges(pending.account, now, bounds)
        wake = installments.next_look(pending.account, now, bounds)
        if wake is None and not charges:
            return pending
        next_contact_at = installments.earliest(pending.plan.next_contact_at, wake)
        return _Pending(pending.account, replace(pending.plan, next_contact_at=next_contact_at), charges)

    def _claimed(self, pending: _Pending, now: datetime, summary: ScheduleSummary) -> None:
        """The account is ours for this due instance: queue its charges (sent 10 a batch)."""
        self._charge_batch.extend(charge.job(now) for charge in pending.charges)
        if len(self._charge_batch) >= SQS_BATCH_LIMIT:
            self._flush_charges(summary)

    def _flush_charges(self, summary: ScheduleSummary) -> None:
        assert self._charges is not None or not self._charge_batch
        while self._charge_batch:
            chunk, self._charge_batch = self._charge_batch[:SQS_BATCH_LIMIT], self._charge_batch[SQS_BATCH_LIMIT:]
            response = self._sqs.send_message_batch(
                QueueUrl=self._charges.url,  # type: ignore[union-attr]
                Entries=[{"Id": str(index), "MessageBody": job.model_dump_json()} for index, job in enumerate(chunk)],
            )
            summary.charges_enqueued += len(response.get("Successful", []))
            summary.charge_enqueue_failures += len(response.get("Failed", []))

    def _claim(self, account: Account, plan: ContactPlan, now: datetime) -> bool:
        if plan.updated is not None or (plan.tier is not None and plan.tier != account.tier):
            after = (plan.updated or account).with_changes(next_contact_at=plan.next_contact_at, tier=plan.tier)
            return accounts.claim_state(account, after, now, self._shards)
        return accounts.reschedule(account.account_id, account.next_contact_at, plan.next_contact_at, self._shards)

    def _without_job(self, pending: _Pending, now: datetime, summary: ScheduleSummary) -> None:
        account, plan = pending.account, pending.plan
        if not self._claim(account, plan, now):
            summary.claim_conflicts += 1
            return
        self._claimed(pending, now, summary)
        if plan.reason in (NoContactReason.NO_STAGE_OPEN, NoContactReason.WAITING):
            summary.waiting += 1
            return
        if plan.reason == NoContactReason.TIMED:
            summary.timed += 1
            return
        if plan.reason == NoContactReason.HELD:
            summary.held += 1
            rule = held_rule(plan)
            summary.held_by[rule] = summary.held_by.get(rule, 0) + 1
            return
        summary.stopped += 1
        events.append(
            AuditEvent(
                account_id=account.account_id,
                at=now,
                type=EventType.OUTREACH_STOPPED,
                event_id=f"stop:{(plan.reason or '').split(':')[0]}",
                actor=ACTOR,
                detail={"reason": plan.reason, "why": "; ".join(plan.why)},
            )
        )

    def _flush(self, channel: Channel, batch: list[_Pending], now: datetime, summary: ScheduleSummary) -> None:
        """Claim each account, then enqueue only what was claimed; a failed entry gives its claim back."""
        claimed = []
        failure: Exception | None = None
        for pending in batch:
            try:
                won = self._claim(pending.account, pending.plan, now)
            except Exception as exc:  # noqa: BLE001  # the rest stay due; the claimed ones are still queued first
                failure = exc
                break
            if won:
                claimed.append(pending)
                self._claimed(pending, now, summary)
            else:
                summary.claim_conflicts += 1  # another run claimed it, or it changed since the query
        if claimed:
            self._enqueue(channel, claimed, summary)
        if failure is not None:
            raise failure  # the invocation fails (and is retried) only after nothing claimed is left behind

    def _enqueue(self, channel: Channel, claimed: list[_Pending], summary: ScheduleSummary) -> None:
        entries = [
            {"Id": str(index), "MessageBody": pending.plan.job.model_dump_json()}  # type: ignore[union-attr]
            for index, pending in enumerate(claimed)
        ]
        try:
            response = self._sqs.send_message_batch(QueueUrl=self._queues[channel], Entries=entries)
        except Exception as exc:  # noqa: BLE001  # throttled, 5xx, timed out: every entry failed, claims go back
            # (raised, the claims stayed taken and the accounts were never contacted: found by the faults run)
            response = {"Failed": [{"Id": e["Id"], "Code": type(exc).__name__, "SenderFault": False} for e in entries]}
        sent = Counter[str]()
        for entry in response.get("Successful", []):
            job = claimed[int(entry["Id"])].plan.job
            assert job is not None
            summary.enqueued += 1
            summary.job_ids.append(job.job_id)
            sent[job.channel.value] += 1
            summary.follow_ups += job.template != "reminder"
        for name, count in sent.items():
            summary.by_channel[name] = summary.by_channel.get(name, 0) + count
        failure: Exception | None = None
        for entry in response.get("Failed", []):
            pending = claimed[int(entry["Id"])]
            summary.enqueue_failures += 1
            try:
                accounts.reschedule(
                    pending.account.account_id, pending.plan.next_contact_at, pending.account.next_contact_at,
                    self._shards,
                )  # fmt: skip
            except Exception as exc:  # noqa: BLE001  # give the others back first
                failure = failure or exc
        if failure is not None:
            raise failure
