"""The events table: the append-only audit trail. Functions only ever PutItem here.

Each account's trail is a hash chain in append order: item `e#<seq>` carries the hash of item
`e#<seq-1>`. An `id#<event_id>` marker, written in the same transaction, makes every fact land once
however often its message is redelivered; the conditional put on `e#<seq>` makes concurrent writers
take turns instead of forking the chain."""

from __future__ import annotations

from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from functions.core.audit import EVENT_KEY_PREFIX, GENESIS_HASH, AuditEvent, EventType
from functions.store import StoreError
from functions.store.attributes import OnDemandTable, UTCTimestampAttribute

ID_KEY_PREFIX = "id#"
_APPEND_ATTEMPTS = 8


class EventModel(Model):
    class Meta(OnDemandTable):
        table_name = "cleardue-events"

    account_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)  # "e#<seq, 10 digits>"
    seq = NumberAttribute()
    at = UTCTimestampAttribute()
    event_id = UnicodeAttribute()
    type = UnicodeAttribute()
    actor = UnicodeAttribute()
    detail = MapAttribute(null=True)  # type: ignore[var-annotated]
    prev_hash = UnicodeAttribute()
    hash = UnicodeAttribute()


class EventIdModel(Model):
    """The once-only marker of an event id (same table, `id#` keys)."""

    Meta = EventModel.Meta  # type: ignore[assignment]  # the same table

    account_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)  # "id#<event_id>"
    seq = NumberAttribute()


def _to_domain(item: EventModel) -> AuditEvent:
    return AuditEvent(
        account_id=item.account_id,
        at=item.at,
        type=EventType(item.type),
        event_id=item.event_id,
        actor=item.actor,
        detail=item.detail.as_dict() if item.detail else {},
        seq=int(item.seq),
        prev_hash=item.prev_hash,
        hash=item.hash,
    )


def _last(account_id: str) -> tuple[int, str]:
    for item in EventModel.query(
        account_id, EventModel.sk.startswith(EVENT_KEY_PREFIX), scan_index_forward=False, limit=1
    ):
        return int(item.seq), item.hash
    return 0, GENESIS_HASH


def _reason_codes(exc: TransactWriteError) -> list[str | None]:
    return [reason.code if reason else None for reason in exc.cancellation_reasons]


def append(event: AuditEvent) -> AuditEvent | None:
    """Seal the event onto its account's chain and write it once.

    Returns the sealed event, or None if an event with this id is already in the trail (a
    redelivered message): the trail never holds the same fact twice."""
    connection = EventModel._get_connection().connection
    for _ in range(_APPEND_ATTEMPTS):
        try:
            last_seq, last_hash = _last(event.account_id)
            sealed = event.sealed(last_seq + 1, last_hash)
            with TransactWrite(connection=connection) as transaction:
                transaction.save(
                    EventModel(
                        sealed.account_id,
                        sealed.sort_key,
                        seq=sealed.seq,
                        at=sealed.at,
                        event_id=sealed.event_id,
                        type=sealed.type.value,
                        actor=sealed.actor,
                        detail=sealed.detail or None,
                        prev_hash=sealed.prev_hash,
                        hash=sealed.hash,
                    ),
                    condition=EventModel.sk.does_not_exist(),
                )
                transaction.save(
                    EventIdModel(sealed.account_id, f"{ID_KEY_PREFIX}{sealed.event_id}", seq=sealed.seq),
                    condition=EventIdModel.sk.does_not_exist(),
                )
            return sealed
        except TransactWriteError as exc:
            codes = _reason_codes(exc)
            if len(codes) == 2 and codes[1] == "ConditionalCheckFailed":
                return None  # this event id is already recorded
            if codes and codes[0] in ("ConditionalCheckFailed", "TransactionConflict"):
                continue  # another writer took this position: chain after it
            raise StoreError(f"appending audit event failed: {exc}") from exc
        except PynamoDBException as exc:
            raise StoreError(f"appending audit event failed: {exc}") from exc
    raise StoreError(f"appending audit event failed: the trail of {event.account_id} kept moving")


def history(account_id: str) -> list[AuditEvent]:
    """Every event of an account, in trail (append) order."""
    try:
        return [_to_domain(item) for item in EventModel.query(account_id, EventModel.sk.startswith(EVENT_KEY_PREFIX))]
    except PynamoDBException as exc:
        raise StoreError(f"reading audit trail failed: {exc}") from exc
