"""A deferred erasure is carried out by the first scheduler tick after its date, and only then."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from functions.core.account import Channel
from functions.core.audit import EventType
from functions.scheduler.handler import lambda_handler
from functions.store import accounts, erasure, events
from tests.events.factories import make_account, place, scheduled_event

AT = datetime(2026, 3, 8, 15, 0, tzinfo=UTC)


def test_the_scheduler_carries_out_an_erasure_on_its_date(aws, context) -> None:
    account = make_account("E-1")
    place(account, AT)
    accounts.record_contact(account.account_id, AT, "job-1", Channel.EMAIL)
    due = erasure.request(account.account_id, "ops:alice", "debtor's letter", AT + timedelta(hours=1)).due_at

    before = lambda_handler(scheduled_event(due - timedelta(minutes=15)), context)
    on_the_day = lambda_handler(scheduled_event(due), context)

    assert "erased" not in before and on_the_day["erased"] == 1
    erased = accounts.get(account.account_id)
    assert erased is not None and erased.debtor.email is None and erased.debtor.name == ""
    assert events.history(account.account_id)[-1].type is EventType.ACCOUNT_ERASED
