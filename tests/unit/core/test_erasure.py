"""When a debtor's data may be erased: at once, or when Reg F 1006.100's retention ends (deferred, dated)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from functions.core import erasure
from functions.core.account import Channel, Contact
from tests.events.factories import make_account

NOW = datetime(2026, 3, 8, 14, tzinfo=UTC)


def test_an_account_never_worked_is_erased_at_once() -> None:
    decision = erasure.decide(make_account(), NOW)

    assert (decision.due_at, decision.deferred, decision.last_activity) == (NOW, False, None)


def test_an_account_contacted_is_kept_three_years_after_the_last_contact() -> None:
    contacted = datetime(2026, 2, 1, 15, tzinfo=UTC)
    account = replace(make_account(), last_contact_at=contacted, recent_contacts=(Contact(contacted, Channel.EMAIL),))

    decision = erasure.decide(account, NOW)

    assert decision.deferred and decision.due_at == datetime(2029, 2, 1, 15, tzinfo=UTC)
    assert "1006.100" in decision.basis


def test_retention_that_has_ended_erases_at_once() -> None:
    account = replace(make_account(), last_contact_at=datetime(2022, 3, 8, 13, tzinfo=UTC))

    decision = erasure.decide(account, NOW)

    assert (decision.due_at, decision.deferred) == (NOW, False)


def test_a_leap_day_moves_to_the_28th() -> None:
    assert erasure.add_years(datetime(2028, 2, 29, tzinfo=UTC), 3) == datetime(2031, 2, 28, tzinfo=UTC)
