"""The senders' store protocol on DynamoDB: claims keyed on the event id, and batched appends to many trails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from bench.cost import item_size
from functions.core.account import Channel, Contact, ContactKind, bounded_history
from functions.core.audit import AuditEvent, EventType, chain_breaks
from functions.store import accounts, events
from functions.store import ops as ops_store
from tests.events.factories import make_account, place

AT = datetime(2026, 3, 8, 14, tzinfo=UTC)


def event(account_id: str, event_id: str) -> AuditEvent:
    return AuditEvent(account_id, AT, EventType.REMINDER_SENT, event_id, "sender", {"job_id": event_id})


def claim(account_id: str, event_id: str, message_id: str = "m-1", receives: int = 1, **kw) -> events.Claim:
    return events.Claim(account_id, event_id, message_id, receives, {"outcome": "sent"}, **kw)


def test_claims_say_per_event_whether_it_is_new_recorded_held_or_changed(aws) -> None:
    for ref in ("A-1", "A-2", "A-3", "A-4"):
        place(make_account(ref), AT)
    events.append(event("acme#A-2", "job:2"))  # already recorded
    assert events.claim([claim("acme#A-3", "job:3", "m-old")]) == {"job:3": events.CLAIMED}
    a4 = accounts.get("acme#A-4")
    assert accounts.save_state(a4, a4.with_changes(tier=3), AT, 4)  # changed since `a4` was read

    results = events.claim(
        [
            claim("acme#A-1", "job:1", check=accounts.unchanged_check(accounts.get("acme#A-1"))),
            claim("acme#A-2", "job:2"),
            claim("acme#A-3", "job:3", "m-new"),
            claim("acme#A-4", "job:4", check=accounts.unchanged_check(a4)),
        ]
    )

    assert results["job:1"] == events.CLAIMED
    assert results["job:2"] == events.RECORDED
    assert results["job:3"] == events.Held("m-old", 1, {"outcome": "sent"})
    assert results["job:4"] == events.CHANGED


def test_a_batch_append_chains_each_trail_after_its_head_settles_claims_and_counts(aws, monkeypatch) -> None:
    place(make_account("A-1"), AT)
    place(make_account("A-2"), AT)
    events.append(event("acme#A-1", "earlier"))
    c1, released = claim("acme#A-1", "job:1"), claim("acme#A-2", "job:9")
    assert events.claim([c1, released]) == {"job:1": events.CLAIMED, "job:9": events.CLAIMED}

    sealed = events.append_batch(
        [
            events.Recording(
                event("acme#A-1", "job:1"), c1, accounts.contact_update("acme#A-1", AT, "1", Channel.EMAIL)
            ),
            events.Recording(event("acme#A-2", "job:2")),
        ],
        releases=[released],
    )

    assert [s.seq if s else None for s in sealed] == [2, 1]
    assert [e.event_id for e in events.history("acme#A-1")] == ["earlier", "job:1"]
    assert chain_breaks(events.history("acme#A-1")) == [] and chain_breaks(events.history("acme#A-2")) == []
    assert accounts.get("acme#A-1").contacts_sent == 1 and accounts.get("acme#A-2").contacts_sent == 0
    # job:1 is recorded (its marker says so before any claim); job:9's claim was given back: claimed again.
    assert events.claim([claim("acme#A-1", "job:1"), claim("acme#A-2", "job:9")]) == {
        "job:1": events.RECORDED,
        "job:9": events.CLAIMED,
    }
    # A recorded job's claim is kept (until the TTL): a copy that read no marker still cannot claim it.
    monkeypatch.setattr(events, "recorded", lambda keys: set())
    assert events.claim([claim("acme#A-1", "job:1", "m-copy")]) == {"job:1": events.Held("m-1", 1, {"outcome": "sent"})}
    # Appending a recorded event again writes nothing and says so; `append` still works beside it.
    assert events.append_batch([events.Recording(event("acme#A-1", "job:1"))]) == [None]
    assert events.append(event("acme#A-1", "later")) is not None
    assert [e.seq for e in events.history("acme#A-1")] == [1, 2, 3]


def test_a_batch_append_that_lost_the_race_chains_after_the_winner(aws, monkeypatch) -> None:
    events.append(event("acme#A-1", "first"))
    real_last = events._last
    stale = iter([(0, "0" * 64)])  # read before "first" was written
    monkeypatch.setattr(events, "_last", lambda account_id: next(stale, None) or real_last(account_id))
    (written,) = events.append_batch([events.Recording(event("acme#A-1", "second"))])
    assert written is not None and written.seq == 2
    assert chain_breaks(events.history("acme#A-1")) == []


def test_one_event_per_account_in_a_batch(aws) -> None:
    with pytest.raises(ValueError):
        events.append_batch([events.Recording(event("acme#A-1", "a")), events.Recording(event("acme#A-1", "b"))])


def test_a_send_is_counted_as_it_is_claimed_and_a_job_decided_before_cannot_claim(aws) -> None:
    """Frequency caps see a contact from its claim on: a second job for the account, decided on the version
    read before that claim, no longer claims (it is decided again on the next receive, with the contact)."""
    place(make_account("A-1"), AT)
    read = accounts.get("acme#A-1")
    first = claim("acme#A-1", "job:1", update=accounts.contact_claim(read, AT, "1", Channel.EMAIL))
    second = claim("acme#A-1", "job:2", "m-2", update=accounts.contact_claim(read, AT, "2", Channel.SMS))

    assert events.claim([first]) == {"job:1": events.CLAIMED}
    assert events.claim([second]) == {"job:2": events.CHANGED}
    counted = accounts.get("acme#A-1")
    assert (counted.contacts_sent, len(counted.recent_contacts), counted.version) == (1, 1, read.version + 1)
    assert counted.engagement == {"email:delivered": 1}  # handed to the provider: what responses are judged against

    # Not sent after all: taken back once, however often it is asked.
    assert accounts.uncount_contact(read, AT, Channel.EMAIL) is True
    assert accounts.uncount_contact(read, AT, Channel.EMAIL) is False
    back = accounts.get("acme#A-1")
    assert (back.contacts_sent, back.recent_contacts, back.last_contact_at) == (0, (), None)
    assert back.engagement == {}


def test_a_claim_bounds_the_contact_history_and_its_uncount_takes_back_only_its_own_contact(aws) -> None:
    """A year of messages: the claim writes what `bounded_history` keeps, plus its own contact; the item stops
    growing. A job not sent after all takes back its contact, and the dropped ones stay dropped."""
    place(make_account("A-1"), AT)
    for day in range(365, 0, -3):
        accounts.record_contact("acme#A-1", AT - timedelta(days=day), f"old-{day}", Channel.EMAIL)
    read = accounts.get("acme#A-1")
    kept = bounded_history(read.recent_contacts, AT)
    assert len(kept) < len(read.recent_contacts) == 122

    assert events.claim([claim("acme#A-1", "job:1", update=accounts.contact_claim(read, AT, "1", Channel.SMS))]) == {
        "job:1": events.CLAIMED
    }
    claimed = accounts.get("acme#A-1")
    assert claimed.recent_contacts == (*kept, Contact(AT, Channel.SMS))
    assert (claimed.contacts_sent, claimed.version) == (read.contacts_sent + 1, read.version + 1)

    assert accounts.uncount_contact(read, AT, Channel.SMS) is True
    back = accounts.get("acme#A-1")
    assert back.recent_contacts == kept and back.contacts_sent == read.contacts_sent


def test_a_conversation_logged_after_a_job_was_decided_stops_its_claim(aws) -> None:
    """An operator's note of a call moves the version: the job decided before it is decided again (the pause
    after a conversation applies), and a claim that writes the history whole cannot drop the note."""
    place(make_account("A-1"), AT)
    read = accounts.get("acme#A-1")
    call = Contact(AT, Channel.EMAIL, ContactKind.CONVERSATION)
    assert ops_store.add_conversation("acme#A-1", call, AT)

    job = claim("acme#A-1", "job:1", update=accounts.contact_claim(read, AT, "1", Channel.EMAIL))
    assert events.claim([job]) == {"job:1": events.CHANGED}
    assert accounts.get("acme#A-1").recent_contacts == (call,)


def test_an_account_stops_growing_once_its_history_is_bounded(aws) -> None:
    """One message every 3 days: the item grows ~48 bytes a message for its first month, then stays put
    (it grew without end before: 3,815 bytes after 60 messages, 6,695 after 120)."""
    place(make_account("A-1"), AT)
    table, key = accounts.AccountModel.Meta.table_name, {"account_id": {"S": "acme#A-1"}}
    sizes = []
    for n in range(60):
        read = accounts.get("acme#A-1")
        job = claim(
            "acme#A-1", f"job:{n}", update=accounts.contact_claim(read, AT + timedelta(days=3 * n), "1", Channel.EMAIL)
        )
        assert events.claim([job]) == {f"job:{n}": events.CLAIMED}
        sizes.append(item_size(boto3.client("dynamodb").get_item(TableName=table, Key=key)["Item"]))
    print(f"\naccount item after 10 / 30 / 60 messages: {sizes[9]} / {sizes[29]} / {sizes[59]} bytes")
    assert sizes[29] == sizes[59] < 1_500
