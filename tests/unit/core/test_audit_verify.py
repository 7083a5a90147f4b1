"""verify_chain: every kind of tampering with an account's trail is found and named where it is."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from functions.core.audit import GENESIS_HASH, AuditEvent, Break, BreakKind, EventType, verify_chain

AT = datetime(2026, 3, 8, 14, tzinfo=UTC)
ACCOUNT = "acme#A-1"


def chain(count: int) -> list[AuditEvent]:
    events, prev = [], GENESIS_HASH
    for n in range(1, count + 1):
        event = AuditEvent(
            ACCOUNT, AT + timedelta(minutes=n), EventType.REMINDER_SENT, f"job:{n}", "sender", {"job_id": f"j{n}"}
        ).sealed(n, prev)
        events.append(event)
        prev = event.hash
    return events


def markers(events: list[AuditEvent]) -> dict[str, int]:
    return {event.event_id: event.seq for event in events}


def kinds(breaks: list[Break]) -> list[tuple[int, BreakKind]]:
    return [(b.seq, b.kind) for b in breaks]


def test_an_untouched_trail_verifies_with_its_markers() -> None:
    trail = chain(5)
    assert verify_chain(trail, markers(trail)) == []
    assert verify_chain([]) == []


def test_a_changed_detail_is_altered_content_at_its_position() -> None:
    trail = chain(5)
    trail[2] = replace(trail[2], detail={"job_id": "forged"})

    (found,) = verify_chain(trail)

    assert (found.account_id, found.seq, found.kind) == (ACCOUNT, 3, BreakKind.ALTERED)
    assert str(found).startswith("acme#A-1 seq 3: altered: content does not match its hash")


def test_a_changed_type_actor_or_time_is_altered_content() -> None:
    for change in (
        {"type": EventType.PAYMENT_APPLIED},
        {"actor": "ops"},
        {"at": AT - timedelta(days=1)},
        {"event_id": "other"},
    ):
        trail = chain(3)
        trail[1] = replace(trail[1], **change)
        assert kinds(verify_chain(trail)) == [(2, BreakKind.ALTERED)], change


def test_a_deleted_middle_event_is_missing_and_named() -> None:
    trail = chain(5)
    del trail[2]

    (found,) = verify_chain(trail)

    assert (found.seq, found.kind) == (3, BreakKind.MISSING)
    assert "event 3 is not in the trail" in found.detail


def test_several_deleted_events_are_one_missing_span() -> None:
    trail = chain(6)
    del trail[1:4]
    assert [(b.seq, b.kind, b.detail) for b in verify_chain(trail)] == [
        (2, BreakKind.MISSING, "events 2-4 are not in the trail")
    ]


def test_a_deleted_first_event_is_missing() -> None:
    trail = chain(3)[1:]
    assert kinds(verify_chain(trail)) == [(1, BreakKind.MISSING)]


def test_swapped_events_are_reordered() -> None:
    trail = chain(5)
    trail[1], trail[2] = trail[2], trail[1]
    assert kinds(verify_chain(trail)) == [(2, BreakKind.REORDERED)]


def test_a_forged_event_with_a_recomputed_hash_but_the_wrong_prev_hash_breaks_the_link() -> None:
    trail = chain(3)
    forged = AuditEvent(ACCOUNT, AT, EventType.PAYMENT_APPLIED, "forged", "ops", {"amount": 1}).sealed(4, "f" * 64)
    trail.append(forged)

    (found,) = verify_chain(trail)

    assert (found.seq, found.kind) == (4, BreakKind.LINK)
    assert "is not the hash of event 3" in found.detail


def test_an_edit_whose_hash_is_recomputed_shows_at_the_next_link() -> None:
    trail = chain(4)
    trail[1] = replace(trail[1], detail={"job_id": "forged"}).sealed(2, trail[1].prev_hash)
    assert kinds(verify_chain(trail)) == [(3, BreakKind.LINK)]


def test_a_forged_first_event_must_start_from_genesis() -> None:
    trail = chain(2)
    trail[0] = replace(trail[0], detail={"x": 1}).sealed(1, "a" * 64)
    assert kinds(verify_chain(trail)) == [(1, BreakKind.LINK), (2, BreakKind.LINK)]


def test_a_second_event_at_the_same_position_is_a_fork() -> None:
    trail = chain(3)
    rival = AuditEvent(ACCOUNT, AT, EventType.PAYMENT_APPLIED, "rival", "ops").sealed(2, trail[0].hash)
    trail.insert(2, rival)
    assert kinds(verify_chain(trail)) == [(2, BreakKind.FORKED)]


def test_a_renumbered_event_is_altered() -> None:
    trail = chain(3)
    trail[2] = replace(trail[2], seq=7)
    assert (3, BreakKind.MISSING) in kinds(verify_chain(trail))
    assert (7, BreakKind.ALTERED) in kinds(verify_chain(trail))


def test_a_truncated_tail_is_not_detectable_by_the_chain_alone() -> None:
    # The remaining events still verify: only something outside the chain (here the markers) can tell.
    trail = chain(5)
    kept = trail[:3]
    assert verify_chain(kept) == []
    assert kinds(verify_chain(kept, markers(trail))) == [(4, BreakKind.TRUNCATED)]


def test_a_whole_trail_deleted_leaves_its_markers() -> None:
    (found,) = verify_chain([], markers(chain(2)), account_id=ACCOUNT)
    assert (found.account_id, found.seq, found.kind) == (ACCOUNT, 1, BreakKind.TRUNCATED)


def test_an_event_without_its_marker_is_unrecorded() -> None:
    trail = chain(3)
    recorded = markers(trail)
    del recorded["job:2"]
    recorded["job:3"] = 1
    assert kinds(verify_chain(trail, recorded)) == [(2, BreakKind.UNRECORDED), (3, BreakKind.UNRECORDED)]


def test_an_event_of_another_account_in_the_trail_is_altered() -> None:
    trail = chain(2)
    trail.append(replace(chain(3)[2], account_id="acme#B-2"))
    assert kinds(verify_chain(trail)) == [(3, BreakKind.ALTERED)]


def test_an_unknown_type_hashes_as_stored() -> None:
    # The reader keeps a tampered, unknown type as text: it is reported as altered, not a crash.
    trail = chain(2)
    trail[1] = replace(trail[1], type="made_up")  # type: ignore[arg-type]
    assert kinds(verify_chain(trail)) == [(2, BreakKind.ALTERED)]
