"""The events table: the append-only audit trail. Functions only ever PutItem here.

Each account's trail is a hash chain in append order: item `e#<seq>` carries the hash of item
`e#<seq-1>`. An `id#<event_id>` marker, written in the same transaction, makes every fact land once
however often its message is redelivered; the conditional put on `e#<seq>` makes concurrent writers
take turns instead of forking the chain."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from functions.core.audit import EVENT_KEY_PREFIX, GENESIS_HASH, AuditEvent, EventType
from functions.store import StoreError
from functions.store.attributes import OnDemandTable, UTCTimestampAttribute
from functions.store.idempotency import IdempotencyModel

ID_KEY_PREFIX = "id#"
_APPEND_ATTEMPTS = 8
TRANSACTION_LIMIT = 100  # DynamoDB's maximum of actions per TransactWriteItems


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


def to_domain(item: EventModel, kind: EventType | None = None) -> AuditEvent:
    """The stored event as the domain's. `kind`: its type when not the stored one read as an EventType (the
    verifier keeps a type no writer uses as stored: `store.audit_reader`)."""
    return AuditEvent(
        account_id=item.account_id,
        at=item.at,
        type=EventType(item.type) if kind is None else kind,
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
                transaction.save(_event_item(sealed), condition=EventModel.sk.does_not_exist())
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
        return [to_domain(item) for item in EventModel.query(account_id, EventModel.sk.startswith(EVENT_KEY_PREFIX))]
    except PynamoDBException as exc:
        raise StoreError(f"reading audit trail failed: {exc}") from exc


# --- Batch sending: claims and batched appends (the senders' protocol, see docs/sending.md) ---------------

CLAIM_KEY_PREFIX = "claim#"
CLAIMED = "claimed"
RECORDED = "recorded"  # the event id is already in the trail: a duplicate, nothing to do
HELD = "held"  # another delivery claimed it and has not recorded it (in flight, or died after claiming)
CHANGED = "changed"  # the account changed since it was read: read it again before deciding


class ClaimModel(Model):
    """A delivery's claim on an event id, put before acting on it.

    Claims live in the idempotency table (key `claim#<account>#<event id>`), not beside the trail: the
    trail stays PutItem-only for every function. Put only if no claim exists and the event's `id#` marker
    was not found (read strongly consistent just before). A claim stays after its event is recorded (it
    expires with the table's TTL, long after SQS has given up on the message): deleting it cost a
    transactional write per message, and a claim that stays is what keeps a later copy of the job from
    claiming it again between its marker read and its claim. Only the claim of a job that was not sent
    (its send failed for a transient reason) is deleted, so that its retry can send."""

    Meta = IdempotencyModel.Meta  # type: ignore[assignment]  # the same table

    id = UnicodeAttribute(hash_key=True)  # "claim#<account_id>#<event_id>"
    message_id = UnicodeAttribute()  # the SQS message that carries the claimant's job
    receive_count = NumberAttribute()
    intent = MapAttribute(null=True)  # type: ignore[var-annotated]  # what the claimant was about to record
    expiration = NumberAttribute(null=True)  # epoch seconds: the table's TTL


CLAIM_TTL = timedelta(days=15)  # beyond SQS's longest retention (14 days)


def _claim_key(account_id: str, event_id: str) -> str:
    return f"{CLAIM_KEY_PREFIX}{account_id}#{event_id}"


@dataclass(frozen=True)
class Claim:
    account_id: str
    event_id: str
    message_id: str
    receive_count: int
    intent: dict[str, Any] = field(default_factory=dict)
    check: tuple[type[Model], str, Condition] | None = None  # e.g. the account's version, read when deciding
    # Or a conditional write to another item that rides with the claim (e.g. the contact counted, under the
    # account's version): its condition failing reads as CHANGED, as a failed check does.
    update: tuple[Model, list[Action], Condition] | None = None


@dataclass(frozen=True)
class Held:
    message_id: str
    receive_count: int
    intent: dict[str, Any]


def _claim_items(claim: Claim) -> int:
    return 2 if claim.check or claim.update else 1


def recorded(keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (account id, event id) pairs whose `id#` marker exists: the event is in the trail. One strongly
    consistent BatchGetItem per 100 (unprocessed keys retried by pynamodb)."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return set()
    try:
        found = EventIdModel.batch_get(
            [(account_id, f"{ID_KEY_PREFIX}{event_id}") for account_id, event_id in wanted],
            consistent_read=True,
            attributes_to_get=["account_id", "sk"],
        )
        return {(item.account_id, item.sk.removeprefix(ID_KEY_PREFIX)) for item in found}
    except PynamoDBException as exc:
        raise StoreError(f"reading audit markers failed: {exc}") from exc


def claim(claims: list[Claim], sleep: Callable[[float], None] = time.sleep) -> dict[str, str | Held]:
    """Claim event ids before acting on them, up to 50 in one TransactWriteItems (2 actions each).

    Per event id: CLAIMED, RECORDED (its `id#` marker exists: read first, those are not claimed), CHANGED
    (its `check` failed) or the `Held` claim of another delivery. A cancelled transaction says which items
    failed; the others are sent again without them.

    Why the marker is read rather than checked in the transaction (a ConditionCheck is a transactional
    write of the marker's size, 2 WRU per job): a claim is never deleted once its event is recorded, so a
    copy of the job whose read missed a marker written meanwhile still finds the claim and cannot claim."""
    if len({c.event_id for c in claims}) != len(claims) or len({c.account_id for c in claims}) != len(claims):
        raise ValueError("one claim per event id and per account in a transaction")
    results: dict[str, str | Held] = {}
    held: list[Claim] = []
    _bind_claims()
    done = recorded([(c.account_id, c.event_id) for c in claims])
    results.update({c.event_id: RECORDED for c in claims if (c.account_id, c.event_id) in done})
    connection = EventModel._get_connection().connection
    pending = [c for c in claims if (c.account_id, c.event_id) not in done]
    conflicts = 0
    expires = int(time.time() + CLAIM_TTL.total_seconds())
    while pending:
        batch = _fit(pending, _claim_items)
        rest = pending[len(batch) :]
        try:
            with TransactWrite(connection=connection) as transaction:
                for c in batch:
                    transaction.save(
                        ClaimModel(
                            _claim_key(c.account_id, c.event_id),
                            message_id=c.message_id,
                            receive_count=c.receive_count,
                            intent=c.intent or None,
                            expiration=expires,
                        ),
                        condition=ClaimModel.id.does_not_exist(),
                    )
                    if c.check:
                        model, key, condition = c.check
                        transaction.condition_check(model, key, condition=condition)
                    elif c.update:
                        item, actions, condition = c.update
                        transaction.update(item, actions, condition=condition)
            results.update({c.event_id: CLAIMED for c in batch})
            pending = rest
        except TransactWriteError as exc:
            codes = _reason_codes(exc)
            if len(codes) != sum(_claim_items(c) for c in batch):
                raise StoreError(f"claiming events failed: {exc}") from exc
            failed = {
                (owner, role) for (owner, role), code in zip(_claim_owners(batch), codes, strict=True)
                if code == "ConditionalCheckFailed"
            }  # fmt: skip
            retry: list[Claim] = []
            for n, c in enumerate(batch):
                if (n, "claim") in failed:
                    held.append(c)
                elif (n, "check") in failed or (n, "update") in failed:
                    results[c.event_id] = CHANGED
                else:
                    retry.append(c)
            if retry:  # cancelled by a conflict with another writer (or throttled): back off, send again
                conflicts += 1
                if conflicts >= _APPEND_ATTEMPTS:
                    raise StoreError(f"claiming events failed after {conflicts} tries: {exc}") from exc
                sleep(random.uniform(0, 0.02 * 2**conflicts))
            pending = retry + rest
        except PynamoDBException as exc:
            raise StoreError(f"claiming events failed: {exc}") from exc
    for c in held:  # rare: a duplicate delivery, or a claimant that died; read what it claimed
        try:
            results[c.event_id] = _held(c)
        except StoreError:  # raised, the claims just made would stay held, unsent: this one is tried again later
            results[c.event_id] = CHANGED
    return results


def _bind_claims() -> None:
    """Claims share the idempotency table's Meta (so its name); `tables.configure` drops the models'
    cached connections (the endpoint may have changed): drop the claims' one with them."""
    if EventModel._connection is None or IdempotencyModel._connection is None:
        ClaimModel._connection = None


def _claim_owners(batch: list[Claim]) -> list[tuple[int, str]]:
    """Which claim and role each transaction item has, in the order pynamodb sends them (checks, puts, updates)."""
    checks = [(n, "check") for n, c in enumerate(batch) if c.check]
    updates = [(n, "update") for n, c in enumerate(batch) if c.update and not c.check]
    return checks + [(n, "claim") for n in range(len(batch))] + updates


def _fit(claims: list[Claim], size: Callable[[Claim], int]) -> list[Claim]:
    taken: list[Claim] = []
    used = 0
    for c in claims:
        if used + size(c) > TRANSACTION_LIMIT:
            break
        taken.append(c)
        used += size(c)
    return taken


def _held(c: Claim) -> str | Held:
    try:
        item = ClaimModel.get(_claim_key(c.account_id, c.event_id), consistent_read=True)
    except ClaimModel.DoesNotExist:
        return CHANGED  # recorded or released meanwhile: decide again on the next delivery
    except PynamoDBException as exc:
        raise StoreError(f"reading a claim failed: {exc}") from exc
    intent = item.intent.as_dict() if item.intent else {}
    return Held(item.message_id, int(item.receive_count), intent)


@dataclass(frozen=True)
class Recording:
    """An event to append, the claim it settles (if any: kept, see `ClaimModel`) and a write to the account
    that rides with it."""

    event: AuditEvent
    claim: Claim | None = None
    update: tuple[Model, list[Action], Condition | None] | None = None


def append_batch(
    recordings: list[Recording], releases: Sequence[Claim] = (), sleep: Callable[[float], None] = time.sleep
) -> list[AuditEvent | None]:
    """`append` for many accounts in one TransactWriteItems: each event's `e#<seq>` and `id#` items (as
    `append` writes them, the position from one Query of its trail) and its account update; plus
    `releases`, claims given back without an event (the job will be tried again). A recording's own claim
    is left in place (`ClaimModel`: it keeps later copies of the job out).

    Returns each sealed event, or None where the event id was already recorded."""
    accounts_seen = [r.event.account_id for r in recordings]
    if len(set(accounts_seen)) != len(accounts_seen):
        raise ValueError("one event per account in a batch append")
    size = sum(2 + (r.update is not None) for r in recordings) + len(releases)
    if size > TRANSACTION_LIMIT:
        raise ValueError(f"a batch append is one transaction: {size} actions, at most {TRANSACTION_LIMIT}")
    results: list[AuditEvent | None] = [None] * len(recordings)
    todo = list(range(len(recordings)))
    pending_releases = list(releases)
    _bind_claims()
    connection = EventModel._get_connection().connection
    heads = {i: _last(recordings[i].event.account_id) for i in todo}
    for attempt in range(_APPEND_ATTEMPTS):
        if not todo and not pending_releases:
            break
        sealed = {i: recordings[i].event.sealed(heads[i][0] + 1, heads[i][1]) for i in todo}
        # Per transaction item, in the order pynamodb sends them (deletes, puts, updates): its kind and index.
        deletes: list[tuple[str, int]] = []
        puts: list[tuple[str, int]] = []
        updates: list[tuple[str, int]] = []
        try:
            with TransactWrite(connection=connection) as transaction:
                for i in todo:
                    s = sealed[i]
                    transaction.save(_event_item(s), condition=EventModel.sk.does_not_exist())
                    transaction.save(
                        EventIdModel(s.account_id, f"{ID_KEY_PREFIX}{s.event_id}", seq=s.seq),
                        condition=EventIdModel.sk.does_not_exist(),
                    )
                    puts += [("event", i), ("id", i)]
                    if recordings[i].update is not None:
                        model, actions, condition = recordings[i].update  # type: ignore[misc]
                        transaction.update(model, actions, condition=condition)
                        updates.append(("update", i))
                for n, c in enumerate(pending_releases):
                    transaction.delete(ClaimModel(_claim_key(c.account_id, c.event_id)), _mine(c))
                    deletes.append(("release", n))
            for i in todo:
                results[i] = sealed[i]
            return results
        except TransactWriteError as exc:
            codes = _reason_codes(exc)
            owners = deletes + puts + updates
            if len(codes) != len(owners):
                raise StoreError(f"appending audit events failed: {exc}") from exc
            pairs = list(zip(owners, codes, strict=True))
            recorded = {i for (kind, i), code in pairs if kind == "id" and code == "ConditionalCheckFailed"}
            moved = {
                i for (kind, i), code in pairs
                if kind == "event" and code in ("ConditionalCheckFailed", "TransactionConflict")
            }  # fmt: skip
            gone = {n for (kind, n), code in pairs if kind == "release" and code == "ConditionalCheckFailed"}
            other = [
                code for (kind, i), code in pairs
                if code not in (None, "None", "TransactionConflict") and not (kind == "id" and i in recorded)
                and not (kind == "event" and i in moved) and not (kind == "release" and i in gone)
            ]  # fmt: skip
            if other:
                raise StoreError(f"appending audit events failed: {exc}") from exc
            todo = [i for i in todo if i not in recorded]
            pending_releases = [c for n, c in enumerate(pending_releases) if n not in gone]
            for i in moved - recorded:
                heads[i] = _last(recordings[i].event.account_id)
            if not moved and not recorded and not gone:
                sleep(random.uniform(0, 0.02 * 2**attempt))  # a conflict with another writer: try again
        except PynamoDBException as exc:
            raise StoreError(f"appending audit events failed: {exc}") from exc
    if todo or pending_releases:
        raise StoreError("appending audit events failed: the trails kept moving")
    return results


def _mine(c: Claim) -> Condition:
    return (ClaimModel.message_id == c.message_id) & (ClaimModel.receive_count == c.receive_count)


def _event_item(sealed: AuditEvent) -> EventModel:
    return EventModel(
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
    )
