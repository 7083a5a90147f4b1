"""When an account is next due for contact, and the job a due account gets.

The walking-skeleton rules: an account is contacted while an outreach stage is open, on the
lender's cadence, by email; between stage windows the next contact waits for the next window to
open at 09:00 in the debtor's zone. The decision engine (compliance gate, tiers, channels, send-time)
replaces `plan_contact` as it grows; the shape of its result stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from functions.core.account import Account, Stage, days_past_due, next_stage_opens, stage_for
from functions.core.clock import at_local_time, ensure_utc, local_date
from functions.core.compliance import Kind, earliest_allowed, standing_of
from functions.core.jobs import Channel, Job, job_id_for

WINDOW_OPENS_AT = time(9, 0)
REMINDER_TEMPLATE = "reminder"
DEFAULT_VARIANT = "a"


class NoContactReason:
    NOT_COLLECTIBLE = "not_collectible"
    NO_USABLE_CHANNEL = "no_usable_channel"
    NO_STAGE_OPEN = "no_stage_open"
    HELD = "held"  # a compliance rule allows it later (outside the window, a cap): rescheduled
    BLOCKED = "blocked"  # a compliance rule allows it only once something changes


@dataclass(frozen=True, slots=True)
class ContactPlan:
    """What to do with a due account now: a job (or none, with the reason), and when to look again.

    `next_contact_at` None takes the account out of the due index (nothing more to do until
    something about it changes)."""

    job: Job | None
    next_contact_at: datetime | None
    reason: str | None = None


def current_stage(account: Account, now: datetime) -> Stage:
    return stage_for(days_past_due(account.due_date, local_date(now, account.debtor.timezone)))


def next_window_opens(account: Account, now: datetime) -> datetime | None:
    """The moment the next outreach stage opens for this account (09:00 local), if any."""
    dpd = days_past_due(account.due_date, local_date(now, account.debtor.timezone))
    opens_at_dpd = next_stage_opens(dpd)
    if opens_at_dpd is None:
        return None
    day = account.due_date + timedelta(days=opens_at_dpd)
    return at_local_time(day, WINDOW_OPENS_AT, account.debtor.timezone)


def first_contact_at(account: Account, now: datetime) -> datetime | None:
    """When a newly placed (or updated) account should first be looked at by the scheduler."""
    if not account.is_collectible:
        return None
    if current_stage(account, now) is not Stage.NONE:
        return ensure_utc(now)
    return next_window_opens(account, now)


def plan_contact(account: Account, now: datetime, cadence_days: int) -> ContactPlan:
    """Decide the contact for an account the due index says is due at `now`."""
    now = ensure_utc(now)
    if not account.is_collectible:
        return ContactPlan(job=None, next_contact_at=None, reason=NoContactReason.NOT_COLLECTIBLE)
    stage = current_stage(account, now)
    if stage is Stage.NONE:
        return ContactPlan(
            job=None, next_contact_at=next_window_opens(account, now), reason=NoContactReason.NO_STAGE_OPEN
        )
    if not account.debtor.email:
        return ContactPlan(job=None, next_contact_at=None, reason=NoContactReason.NO_USABLE_CHANNEL)
    allowed_at, reasons = earliest_allowed(account, standing_of(account), Channel.EMAIL, Kind.REMINDER, now)
    if allowed_at is None:
        return ContactPlan(job=None, next_contact_at=None, reason=f"{NoContactReason.BLOCKED}: {'; '.join(reasons)}")
    if allowed_at > now:
        return ContactPlan(job=None, next_contact_at=allowed_at, reason=NoContactReason.HELD)
    # The slot is the due time the account was claimed for, so any scheduler run that picks up this
    # same due instance derives the same job id.
    slot = account.next_contact_at or now
    job = Job(
        job_id=job_id_for(account.account_id, stage, slot),
        account_id=account.account_id,
        channel=Channel.EMAIL,
        template=REMINDER_TEMPLATE,
        variant=DEFAULT_VARIANT,
        stage=stage,
        scheduled_for=now,
    )
    return ContactPlan(job=job, next_contact_at=now + timedelta(days=cadence_days))


@dataclass(frozen=True, slots=True)
class Recheck:
    reason: str | None  # None: send it
    retry_at: datetime | None = None  # when it would be allowed, if only time stands in the way


def still_eligible(account: Account, job: Job, now: datetime) -> Recheck:
    """The sender's re-check at the moment of sending: the account may have paid, opted out or been
    contacted since the job was scheduled, and a retried job may arrive outside the contact window."""
    if not account.is_collectible:
        return Recheck(NoContactReason.NOT_COLLECTIBLE)
    if job.channel is Channel.EMAIL and not account.debtor.email:
        return Recheck(NoContactReason.NO_USABLE_CHANNEL)
    if current_stage(account, now) is Stage.NONE:
        return Recheck(NoContactReason.NO_STAGE_OPEN)
    allowed_at, reasons = earliest_allowed(account, standing_of(account), job.channel, Kind.REMINDER, now)
    if allowed_at is None:
        return Recheck(f"{NoContactReason.BLOCKED}: {'; '.join(reasons)}")
    if allowed_at > ensure_utc(now):
        return Recheck(f"{NoContactReason.HELD}: {'; '.join(reasons)}", allowed_at)
    return Recheck(None)
