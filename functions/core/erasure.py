"""Erasure (GDPR Art. 17) against record retention (Reg F 1006.100): when a debtor's data may be erased.

A debt collector keeps records of its compliance until 3 years after its last collection activity on the
debt (1006.100(a)); GDPR Art. 17(3)(b) lets a legal obligation defer erasure. So an erasure request stops
all contact at once, and the data is destroyed on the day the retention period ends: immediately if there
was no collection activity, or it ended 3 years ago. Never refused: deferred, with the date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from functions.core.account import Account

RETENTION_YEARS = 3  # Reg F 1006.100(a)


def add_years(moment: datetime, years: int) -> datetime:
    """The same date `years` later (29 February becomes 28 February)."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


def last_collection_activity(account: Account) -> datetime | None:
    """The latest thing cleardue did or recorded in collecting the debt: a message, a payment, a dispute, a
    hardship request, a validation notice, a plan. None: no collection activity at all."""
    moments = [
        account.last_contact_at,
        account.dispute.opened_at if account.dispute else None,
        account.hardship_requested_at,
        account.validation_notice_at,
        account.plan.created_at if account.plan else None,
        *(contact.at for contact in account.recent_contacts),
        *(payment.at for payment in account.payments),
    ]
    known = [moment for moment in moments if moment is not None]
    return max(known) if known else None


@dataclass(frozen=True, slots=True)
class ErasureDecision:
    due_at: datetime  # when the data is destroyed
    deferred: bool  # True: kept until due_at (retention), contact stopped meanwhile
    last_activity: datetime | None
    basis: str  # why this date


def decide(account: Account, now: datetime) -> ErasureDecision:
    """When the debtor's data may be erased, asked at `now`."""
    last = last_collection_activity(account)
    if last is None:
        return ErasureDecision(now, False, None, "no collection activity: nothing to retain")
    kept_until = add_years(last, RETENTION_YEARS)
    if kept_until <= now:
        return ErasureDecision(now, False, last, "the retention period has ended (Reg F 1006.100)")
    return ErasureDecision(
        kept_until,
        True,
        last,
        f"records kept {RETENTION_YEARS} years after the last collection activity (Reg F 1006.100)",
    )
