"""The events table: the append-only audit trail. Functions only ever PutItem here."""

from __future__ import annotations

from pynamodb.attributes import MapAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError, PynamoDBException
from pynamodb.models import Model

from functions.core.audit import GENESIS_HASH, AuditEvent, EventType
from functions.store import StoreError
from functions.store.attributes import UTCTimestampAttribute


class EventModel(Model):
    class Meta:
        table_name = "cleardue-events"
        billing_mode = "PAY_PER_REQUEST"

    account_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)  # "<at>#<event_id>": the trail reads in time order
    at = UTCTimestampAttribute()
    event_id = UnicodeAttribute()
    type = UnicodeAttribute()
    actor = UnicodeAttribute()
    detail = MapAttribute(null=True)  # type: ignore[var-annotated]
    prev_hash = UnicodeAttribute()
    hash = UnicodeAttribute()


def _to_domain(item: EventModel) -> AuditEvent:
    return AuditEvent(
        account_id=item.account_id,
        at=item.at,
        type=EventType(item.type),
        event_id=item.event_id,
        actor=item.actor,
        detail=item.detail.as_dict() if item.detail else {},
        prev_hash=item.prev_hash,
        hash=item.hash,
    )


def _last_hash(account_id: str) -> str:
    for item in EventModel.query(account_id, scan_index_forward=False, limit=1):
        return item.hash
    return GENESIS_HASH


def append(event: AuditEvent) -> AuditEvent | None:
    """Seal the event onto its account's chain and write it once.

    Returns the sealed event, or None if an event with the same time and id is already recorded
    (a redelivered message): the trail never holds the same fact twice."""
    try:
        sealed = event.sealed(_last_hash(event.account_id))
        EventModel(
            event.account_id,
            sealed.sort_key,
            at=sealed.at,
            event_id=sealed.event_id,
            type=sealed.type.value,
            actor=sealed.actor,
            detail=sealed.detail or None,
            prev_hash=sealed.prev_hash,
            hash=sealed.hash,
        ).save(condition=EventModel.sk.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise StoreError(f"appending audit event failed: {exc}") from exc
    except PynamoDBException as exc:
        raise StoreError(f"appending audit event failed: {exc}") from exc
    return sealed


def history(account_id: str) -> list[AuditEvent]:
    """Every event of an account, oldest first."""
    try:
        return [_to_domain(item) for item in EventModel.query(account_id)]
    except PynamoDBException as exc:
        raise StoreError(f"reading audit trail failed: {exc}") from exc
