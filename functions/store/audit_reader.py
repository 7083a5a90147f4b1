"""Reading the audit trail back for verification: every account's trail, as stored, tampered or not.

`events.history` reads a healthy trail; this module reads whatever is in the table. An item an insider
edited into something the model cannot load (an unknown type, a time that is not a time) is kept in the
trail as stored, so the verifier reports it where it sits instead of the read failing. Each trail comes
with its once-only `id#` markers (event id -> position), which show a deleted tail the chain cannot."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from pynamodb.exceptions import PynamoDBException

from functions.core.audit import EVENT_KEY_PREFIX, AuditEvent, Break, EventType, verify_chain
from functions.store import StoreError
from functions.store.events import ID_KEY_PREFIX, EventModel, to_domain

_UNREADABLE_AT = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Trail:
    """One account's events in stored (sort key) order and its markers (event id -> position)."""

    account_id: str
    events: list[AuditEvent] = field(default_factory=list)
    recorded: dict[str, int] = field(default_factory=dict)

    def verify(self) -> list[Break]:
        """The breaks in this trail (see `functions.core.audit.verify_chain`)."""
        return verify_chain(self.events, self.recorded, account_id=self.account_id)


def _text(raw: dict[str, Any], name: str) -> str:
    value = raw.get(name, {})
    return str(value.get("S", value.get("N", ""))) if isinstance(value, dict) else ""


def _seq_of(raw: dict[str, Any], sort_key: str) -> int:
    for text in (_text(raw, "seq"), sort_key.removeprefix(EVENT_KEY_PREFIX)):
        try:
            return int(text)
        except ValueError:
            continue
    return 0


def _event(raw: dict[str, Any]) -> AuditEvent:
    """The event as stored. An item the model cannot load becomes an event whose content cannot match its
    hash (its stored links kept), so it is reported as altered in place."""
    try:
        item = EventModel.from_raw_data(raw)
        try:
            kind = EventType(item.type)
        except ValueError:
            kind = cast(EventType, item.type)  # a type no writer uses: hashed as stored, so reported as altered
        return to_domain(item, kind)
    except Exception as exc:  # any malformed attribute: keep the item in the trail, flagged
        sort_key = _text(raw, "sk")
        return AuditEvent(
            account_id=_text(raw, "account_id"),
            at=_UNREADABLE_AT,
            type=cast(EventType, _text(raw, "type")),
            event_id=_text(raw, "event_id"),
            actor=_text(raw, "actor"),
            detail={"unreadable": f"{type(exc).__name__}: {exc}"},
            seq=_seq_of(raw, sort_key),
            prev_hash=_text(raw, "prev_hash"),
            hash=_text(raw, "hash"),
        )


def _add(trail: Trail, raw: dict[str, Any]) -> None:
    sort_key = _text(raw, "sk")
    if sort_key.startswith(EVENT_KEY_PREFIX):
        trail.events.append(_event(raw))
    elif sort_key.startswith(ID_KEY_PREFIX):
        try:
            trail.recorded[sort_key.removeprefix(ID_KEY_PREFIX)] = int(_text(raw, "seq"))
        except ValueError:
            trail.recorded[sort_key.removeprefix(ID_KEY_PREFIX)] = 0


def _pages(read: Any) -> Iterator[dict[str, Any]]:
    start = None
    while True:
        try:
            page = read(exclusive_start_key=start)
        except PynamoDBException as exc:
            raise StoreError(f"reading the audit trail failed: {exc}") from exc
        yield from page.get("Items", [])
        start = page.get("LastEvaluatedKey")
        if not start:
            return


def _trail_items() -> Any:
    return EventModel.sk.startswith(EVENT_KEY_PREFIX) | EventModel.sk.startswith(ID_KEY_PREFIX)


def trail(account_id: str) -> Trail:
    """One account's trail and markers (a Query; consistent, so a just-written event is seen)."""
    connection = EventModel._get_connection()
    found = Trail(account_id)
    for raw in _pages(
        lambda exclusive_start_key: connection.query(
            account_id, consistent_read=True, exclusive_start_key=exclusive_start_key
        )
    ):
        _add(found, raw)
    return found


def trails(page_size: int | None = None) -> Iterator[Trail]:
    """Every account's trail: one Scan of the table, paged.

    A Scan returns an account's items together and in sort key order (an item collection is stored so);
    should an account's items ever come back in two runs, its trail is read again whole by Query and
    yielded again: a consumer keeps the last trail it is given per account."""
    connection = EventModel._get_connection()
    current: Trail | None = None
    done: set[str] = set()
    reread: set[str] = set()
    for raw in _pages(
        lambda exclusive_start_key: connection.scan(
            filter_condition=_trail_items(), limit=page_size, exclusive_start_key=exclusive_start_key
        )
    ):
        account_id = _text(raw, "account_id")
        if current is not None and account_id == current.account_id:
            _add(current, raw)
            continue
        if current is not None:
            yield current
            done.add(current.account_id)
            current = None
        if account_id in done:  # a second run of an account: read it whole, once
            if account_id not in reread:
                reread.add(account_id)
                yield trail(account_id)
            continue
        current = Trail(account_id)
        _add(current, raw)
    if current is not None:
        yield current
