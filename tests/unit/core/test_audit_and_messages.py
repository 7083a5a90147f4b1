from dataclasses import replace
from datetime import UTC, datetime, timedelta

from functions.core.audit import GENESIS_HASH, AuditEvent, EventType, chain_breaks

AT = datetime(2026, 3, 8, 14, tzinfo=UTC)


def _chain(count: int) -> list[AuditEvent]:
    events, prev = [], GENESIS_HASH
    for n in range(count):
        event = AuditEvent(
            "acme#A-1", AT + timedelta(minutes=n), EventType.REMINDER_SENT, f"e{n}", "sender", {"job_id": f"j{n}"}
        ).sealed(n + 1, prev)
        events.append(event)
        prev = event.hash
    return events


def test_a_sealed_chain_verifies() -> None:
    assert chain_breaks(_chain(5)) == []


def test_editing_or_removing_an_event_breaks_the_chain() -> None:
    edited = _chain(5)
    edited[2] = replace(edited[2], detail={"job_id": "forged"})
    assert chain_breaks(edited) == [edited[2].sort_key]
    removed = _chain(5)
    del removed[1]
    assert removed[1].sort_key in chain_breaks(removed)
    swapped = _chain(3)
    swapped[1], swapped[2] = swapped[2], swapped[1]
    assert chain_breaks(swapped) != []
