"""A small lender portfolio with three weeks of history, shaped as the tables hold it: accounts in several
stages and tiers, emails and texts in two template variants chosen by an experiment, receipts and opens,
identity checks, checkouts, a promise, payments in full and in part, a STOP and a complaint."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from functions.core.audit import EventType
from functions.core.experiments import Standing
from functions.core.kpis import AccountRecord
from tests.events import trails
from tests.events.factories import make_account

LENDER = "acme"
PLACED = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
AS_OF = datetime(2026, 3, 23, 6, 0, tzinfo=UTC)
REPORT_DAY = "2026-03-23"
OWED = 12_000 + 850 + 2_500
SEGMENT = "early#1#en"
STANDINGS = {
    SEGMENT: {"reminder#a": Standing(60, 4), "reminder#b": Standing(58, 9)},
    "mid#2#en": {"reminder#a": Standing(12, 1), "reminder#b": Standing(11, 1)},
}

# The lender's send-time priors (store.learning.prior_counts: {segment: {local hour of week: responses}}).
PRIORS = {
    "early#1#email": {9: 6, 10: 4, 24 + 19: 3, 2 * 24 + 22: 1},
    "early#1#sms": {3 * 24 + 12: 2, 4 * 24 + 18: 3},
    "early#1#any": {5 * 24 + 11: 2},
}


class Trail(trails.Trail):
    def sent(
        self, when: datetime, channel: str = "email", template: str = "reminder", variant: str = "a", **more: Any
    ) -> Trail:
        """As the sender writes it for an account in the experiment's warm-up (the decision names the arm)."""
        decision = f"stage early; experiment: {SEGMENT} {template}/{variant} (warm-up)"
        super().sent(when, channel, template, variant, decision=decision, **more)
        return self


def at(day: int, hour: int = 16) -> datetime:
    """`day` days after placement at `hour` UTC (16:00 UTC is 11:00 in Chicago: inside the contact window)."""
    return (PLACED + timedelta(days=day)).replace(hour=hour)


def records(lender_id: str = LENDER, count: int = 12) -> list[AccountRecord]:
    """`count` accounts of `lender_id` (due 10 to 40 days before placement: early, mid and late stages)."""
    result = []
    for n in range(count):
        account = make_account(f"R-{n:03d}", lender_id=lender_id, due=date(2026, 2, 20) - timedelta(days=3 * n))
        account = account.with_changes(
            tier=1 + n % 3,
            debtor=replace(account.debtor, phone_is_mobile=n % 2 == 0, sms_consent=n % 2 == 0),
            engagement={"email:delivered": 2, **({"email:opened": 1} if n % 3 != 2 else {})},
        )
        trail = Trail(account).sent(at(0), variant="ab"[n % 2]).sent(at(3), variant="ab"[n % 2])
        if n % 2 == 0:
            trail.sent(at(6), "sms", variant="b")
        if n % 4 == 0:
            trail.add(EventType.PORTAL_VERIFIED, at(7), check="date_of_birth")
            trail.add(EventType.PORTAL_CHECKOUT_STARTED, at(7), session="cs_1")
            account = trails.paid(account, OWED if n % 8 == 0 else 5_000, at(7, 17), trail, f"pi_{n}")
            trail.sent(at(7, 18), template="receipt")
        elif n % 4 == 1:
            trail.add(EventType.PORTAL_VERIFIED, at(9), check="date_of_birth")
            trail.add(EventType.PORTAL_PROMISE_MADE, at(9), amount_minor=3_000, due=str(at(12).date()))
        elif n == 6:
            trail.add(EventType.CONSENT_REVOKED, at(6, 17), channel="sms")
        elif n == 7:
            trail.add(EventType.EMAIL_COMPLAINED, at(4))
        result.append(AccountRecord(account, trail.events, PLACED))
    return result
