"""The audit trail on DynamoDB: once per fact, a chain in append order, safe under concurrent writers."""

from datetime import UTC, datetime, timedelta

from functions.core.audit import GENESIS_HASH, AuditEvent, EventType, chain_breaks
from functions.store import events

AT = datetime(2026, 3, 8, 14, tzinfo=UTC)


def event(event_id: str, at: datetime = AT) -> AuditEvent:
    return AuditEvent("acme#A-1", at, EventType.REMINDER_SENT, event_id, "sender", {"job_id": event_id})


def test_a_redelivered_fact_is_recorded_once(aws) -> None:
    assert events.append(event("job:1")) is not None
    assert events.append(event("job:1")) is None
    assert [e.event_id for e in events.history("acme#A-1")] == ["job:1"]


def test_trail_is_in_append_order_even_when_facts_arrive_late(aws) -> None:
    events.append(event("late-news", AT))
    events.append(event("older-fact", AT - timedelta(days=2)))
    trail = events.history("acme#A-1")
    assert [e.event_id for e in trail] == ["late-news", "older-fact"]
    assert chain_breaks(trail) == []


def test_a_writer_that_lost_the_race_chains_after_the_winner(aws, monkeypatch) -> None:
    events.append(event("first"))
    real_last = events._last
    stale = iter([(0, GENESIS_HASH)])  # the first read is from before "first" was written
    monkeypatch.setattr(events, "_last", lambda account_id: next(stale, None) or real_last(account_id))
    written = events.append(event("second"))
    assert written is not None and written.seq == 2
    assert chain_breaks(events.history("acme#A-1")) == []
