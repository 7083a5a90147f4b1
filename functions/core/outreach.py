"""When an account is next due for contact, and the job a due account gets.

`plan_contact` is the decision engine (functions/core/decision.py) with the default policy and a
given cadence; the scheduler calls `decide` with each lender's compiled rules. `first_contact_at`
(ingest) and `still_eligible` (the sender's re-check) keep their signatures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from functools import cache

from functions.core.account import Account, Stage, days_past_due, stage_for
from functions.core.clock import ensure_utc, local_date
from functions.core.compliance import GatePolicy, Kind, earliest_allowed, gate_policy, standing_of
from functions.core.decision import (
    DEFAULT_VARIANT,
    STAGE_OPENS_AT,
    ContactPlan,
    NoContactReason,
    decide,
    kind_of,
    next_stage_at,
)
from functions.core.jobs import Channel, Job, Template
from functions.core.policy import OutreachPolicy, Rules, compile_rules

__all__ = [
    "DEFAULT_VARIANT",
    "ContactPlan",
    "NoContactReason",
    "Recheck",
    "current_stage",
    "first_contact_at",
    "plan_contact",
    "still_eligible",
]

WINDOW_OPENS_AT: time = STAGE_OPENS_AT
REMINDER_TEMPLATE = Template.REMINDER.value


@cache
def default_rules(cadence_days: int = 3) -> tuple[Rules, GatePolicy]:
    """The shipped policy's rules (first-party regime) with a given fallback cadence."""
    rules = compile_rules(OutreachPolicy(), cadence_days=cadence_days)
    return rules, gate_policy(rules)


def current_stage(account: Account, now: datetime) -> Stage:
    return stage_for(days_past_due(account.due_date, local_date(now, account.debtor.timezone)))


def next_window_opens(account: Account, now: datetime) -> datetime | None:
    """The moment the next outreach stage opens for this account (09:00 local), if any."""
    dpd = days_past_due(account.due_date, local_date(now, account.debtor.timezone))
    return next_stage_at(account, dpd, default_rules()[0])


def first_contact_at(account: Account, now: datetime) -> datetime | None:
    """When a newly placed (or updated) account should first be looked at by the scheduler: now if a
    stage is open or an arrangement is running (the engine works out its dates), else when one opens."""
    if not account.is_collectible:
        return None
    if account.promise is not None or account.plan is not None or current_stage(account, now) is not Stage.NONE:
        return ensure_utc(now)
    return next_window_opens(account, now)


def plan_contact(account: Account, now: datetime, cadence_days: int) -> ContactPlan:
    """Decide the contact for an account the due index says is due at `now` (default policy)."""
    rules, policy = default_rules(cadence_days)
    return decide(account, now, rules, policy)


@dataclass(frozen=True, slots=True)
class Recheck:
    reason: str | None  # None: send it
    retry_at: datetime | None = None  # when it would be allowed, if only time stands in the way


def still_eligible(account: Account, job: Job, now: datetime, policy: GatePolicy | None = None) -> Recheck:
    """The sender's re-check at the moment of sending: the account may have paid, opted out or been
    contacted since the job was scheduled, and a retried job may arrive outside the contact window.

    The job's template sets what the gate checks (a receipt is not collection; an installment
    notice is what a current plan allows); a reminder also needs an open stage."""
    kind = kind_of(job.template)
    if kind is not Kind.TRANSACTIONAL and not account.is_collectible:
        return Recheck(NoContactReason.NOT_COLLECTIBLE)
    if job.channel is Channel.EMAIL and not account.debtor.email:
        return Recheck(NoContactReason.NO_USABLE_CHANNEL)
    if job.template == REMINDER_TEMPLATE and current_stage(account, now) is Stage.NONE:
        return Recheck(NoContactReason.NO_STAGE_OPEN)
    policy = policy if policy is not None else default_rules()[1]  # the lender's, when the caller has it
    allowed_at, reasons = earliest_allowed(account, standing_of(account), job.channel, kind, now, policy)
    if allowed_at is None:
        return Recheck(f"{NoContactReason.BLOCKED}: {'; '.join(reasons)}")
    if allowed_at > ensure_utc(now):
        return Recheck(f"{NoContactReason.HELD}: {'; '.join(reasons)}", allowed_at)
    return Recheck(None)
