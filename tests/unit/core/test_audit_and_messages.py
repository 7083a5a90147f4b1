from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from functions.core.audit import GENESIS_HASH, AuditEvent, EventType, chain_breaks
from functions.core.lender import LenderProfile
from functions.core.messages import reminder_email
from tests.events.factories import make_account

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


def test_reminder_is_transparent_about_creditor_breakdown_and_date() -> None:
    lender = LenderProfile(lender_id="acme", creditor_name="Acme Lending", help_email="help@acme.example.com")
    account = make_account("LN-55501234", due=date(2026, 2, 20), principal=12_000, interest=850, fees=2_500)
    past = reminder_email(account, lender, today=date(2026, 3, 8))
    assert past.subject == "Acme Lending: USD 153.50 was due on 2026-02-20 (account ••••1234)"
    for fact in (
        "Hello Dana,",
        "Principal  USD 120.00",
        "Interest   USD 8.50",
        "Fees       USD 25.00",
        "help@acme.example.com",
    ):
        assert fact in past.text
    assert "LN-55501234" not in past.text + past.subject  # the full reference is never in a message
    upcoming = reminder_email(account, lender, today=date(2026, 2, 16))
    assert "is due on 2026-02-20" in upcoming.subject
