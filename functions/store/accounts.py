"""The accounts table: one item per placed account, with the sparse sharded `due` index."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from functions.core import payments
from functions.core.account import (
    Account,
    AccountStatus,
    Balance,
    Channel,
    Contact,
    ContactKind,
    Debtor,
    Flag,
    Placement,
    bounded_history,
    due_shard,
)
from functions.core.links import new_link_ref
from functions.core.money import Money
from functions.core.pii import is_sealed
from functions.store import StoreError, batch, conditional_write, get_or_none, pii
from functions.store import account_state as state
from functions.store.attributes import OnDemandTable, UTCTimestampAttribute


class _KeysOnlyIndex(GlobalSecondaryIndex["AccountModel"]):
    """An index of the accounts table that holds keys only: what it finds is read from the table.

    A subclass names the index (`class ByLinkIndex(_KeysOnlyIndex, index_name="by_link")`) and declares its keys."""

    def __init_subclass__(cls, *, index_name: str, **kwargs: Any) -> None:
        cls.Meta = type("Meta", (), {"index_name": index_name, "projection": KeysOnlyProjection()})
        super().__init_subclass__(**kwargs)


class DueIndex(_KeysOnlyIndex, index_name="due"):
    """Sparse: only accounts with something due carry `due_shard` and `next_contact_at`.

    Keys only: with every attribute projected, each write to a due account (the sender's contact count, a
    webhook's engagement counter, a state change) was also a write of the whole item in the index; keys
    only, the index is written only when the due time moves. The scheduler reads the items it finds
    (`due_accounts`: one BatchGetItem per 100). DynamoDB cannot change an existing index's projection: a
    stack deployed with the ALL projection drops the index in one deploy and adds it back in the next."""

    due_shard = UnicodeAttribute(hash_key=True)
    next_contact_at = UTCTimestampAttribute(range_key=True)


class ByLenderIndex(_KeysOnlyIndex, index_name="by_lender"):
    lender_id = UnicodeAttribute(hash_key=True)
    account_id = UnicodeAttribute(range_key=True)


class ByLinkIndex(_KeysOnlyIndex, index_name="by_link"):
    """Sparse: the pay link's opaque reference to its account (core.links)."""

    link_ref = UnicodeAttribute(hash_key=True)


class ByPhoneIndex(_KeysOnlyIndex, index_name="by_phone"):
    """Sparse: the accounts a mobile number belongs to (an SMS reply, STOP or HELP, names only the number).

    Keyed by the number's blind index (store.pii.blind_index), never the number."""

    phone_bidx = UnicodeAttribute(hash_key=True)


class ByEmailIndex(_KeysOnlyIndex, index_name="by_email"):
    """Sparse: the accounts an email address belongs to (SES notifications that carry no account tag).

    Keyed by the address's blind index (store.pii.blind_index), never the address."""

    email_bidx = UnicodeAttribute(hash_key=True)


class ErasureDueIndex(_KeysOnlyIndex, index_name="erasure_due"):
    """Sparse: accounts whose erasure was requested and deferred (Reg F 1006.100 retention), by due date."""

    erasure_queue = UnicodeAttribute(hash_key=True)  # always ERASURE_QUEUE: one partition, a few items
    erasure_due_at = UTCTimestampAttribute(range_key=True)


class ContactAttribute(MapAttribute[str, Any]):
    at = UTCTimestampAttribute()
    channel = UnicodeAttribute()
    kind = UnicodeAttribute()


class AccountModel(Model):
    class Meta(OnDemandTable):
        table_name = "cleardue-accounts"

    account_id = UnicodeAttribute(hash_key=True)
    lender_id = UnicodeAttribute()
    external_ref = UnicodeAttribute()
    # Debtor PII: sealed under the debtor's data key (core.pii, `pii1:` values), bound to account and field.
    debtor_name = UnicodeAttribute(null=True)  # absent once erased
    email = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    email_bidx = UnicodeAttribute(null=True)  # blind indexes for the webhooks' lookups
    phone_bidx = UnicodeAttribute(null=True)
    data_key = UnicodeAttribute(null=True)  # the debtor's data key wrapped by the tenant's KEK (store.pii)
    timezone = UnicodeAttribute()
    timezones = ListAttribute(of=UnicodeAttribute, null=True)  # type: ignore[var-annotated]
    language = UnicodeAttribute(default="en")
    postal_code = UnicodeAttribute(null=True)  # sealed
    country = UnicodeAttribute(null=True)
    phone_is_mobile = BooleanAttribute(default=False)
    sms_consent = BooleanAttribute(default=False)
    currency = UnicodeAttribute()
    principal_minor = NumberAttribute()
    interest_minor = NumberAttribute(default=0)
    fees_minor = NumberAttribute(default=0)
    due_date = UnicodeAttribute()
    status = UnicodeAttribute(default=AccountStatus.ACTIVE.value)
    # Reconciliation: the lender's flags are the lender's to set and clear on every upload; flags that
    # arise through cleardue (a dispute in the portal, an operator's notice) live apart and are never
    # overwritten by a portfolio. The account is flagged if either set has the flag.
    lender_flags = UnicodeSetAttribute(null=True)
    flags = UnicodeSetAttribute(null=True)
    original_creditor = UnicodeAttribute(null=True)
    itemization_date = UnicodeAttribute(null=True)
    open_date = UnicodeAttribute(null=True)
    last_payment_date = UnicodeAttribute(null=True)
    last_payment_minor = NumberAttribute(null=True)
    charge_off_date = UnicodeAttribute(null=True)
    statute_of_limitations = UnicodeAttribute(null=True)
    verification = MapAttribute(null=True)  # type: ignore[var-annotated]
    due_shard = UnicodeAttribute(null=True)
    next_contact_at = UTCTimestampAttribute(null=True)
    contacts_sent = NumberAttribute(default=0)
    last_contact_at = UTCTimestampAttribute(null=True)
    last_job_id = UnicodeAttribute(null=True)
    # Every contact made, newest last: what frequency caps and pauses count (a few a month).
    recent_contacts = ListAttribute(of=ContactAttribute, null=True)  # type: ignore[var-annotated]
    lender_attributes = MapAttribute(null=True)  # type: ignore[var-annotated]
    placed_by_upload = UnicodeAttribute(null=True)
    last_upload = UnicodeAttribute(null=True)
    created_at = UTCTimestampAttribute(null=True)
    updated_at = UTCTimestampAttribute(null=True)
    # What happened through cleardue (codecs in store.account_state; written by `save_state`).
    blocked_channels = MapAttribute(null=True)  # type: ignore[var-annotated]
    preferred_channel = UnicodeAttribute(null=True)
    promise = MapAttribute(null=True)  # type: ignore[var-annotated]
    plan = MapAttribute(null=True)  # type: ignore[var-annotated]
    payments = ListAttribute(null=True)  # type: ignore[var-annotated]
    credit_minor = NumberAttribute(null=True)
    dispute = MapAttribute(null=True)  # type: ignore[var-annotated]
    hardship_requested_at = UTCTimestampAttribute(null=True)
    validation_notice_at = UTCTimestampAttribute(null=True)
    tier = NumberAttribute(null=True)
    version = NumberAttribute(default=0)
    link_ref = UnicodeAttribute(null=True)  # the pay link's opaque reference, set once at placement
    # Counters only the webhooks write, one atomic increment each (store.webhooks.add_engagement).
    engagement = MapAttribute(null=True)  # type: ignore[var-annotated]
    # Messages handed to the provider, counted by the sender's claim (account_state.DELIVERED_ATTRIBUTES).
    delivered_email = NumberAttribute(null=True)
    delivered_sms = NumberAttribute(null=True)
    # Written only by the portal (store.portal.PortalStateModel); read here for decisions and messages.
    portal_language = UnicodeAttribute(null=True)
    portal_preferred_time = UnicodeAttribute(null=True)
    portal_settlement_minor = NumberAttribute(null=True)
    portal_settlement_expires_at = UTCTimestampAttribute(null=True)
    # The debtor's own free text (a dispute statement, a hardship note), sealed; the trail keeps a reference.
    debtor_texts = ListAttribute(null=True)  # type: ignore[var-annotated]
    # Erasure (GDPR Art. 17): requested (contact stopped), deferred while Reg F 1006.100 keeps the records.
    erasure_requested_at = UTCTimestampAttribute(null=True)
    erasure_queue = UnicodeAttribute(null=True)
    erasure_due_at = UTCTimestampAttribute(null=True)
    erased_at = UTCTimestampAttribute(null=True)

    due_index = DueIndex()
    by_lender_index = ByLenderIndex()
    by_link_index = ByLinkIndex()
    by_phone_index = ByPhoneIndex()
    by_email_index = ByEmailIndex()
    erasure_due_index = ErasureDueIndex()


ERASURE_QUEUE = "due"
PII_ATTRIBUTES = ("debtor_name", "email", "phone", "postal_code", "email_bidx", "phone_bidx", "data_key")


class AccountErased(StoreError):
    """The account was erased at the debtor's request: it is never placed or filled in again."""


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _debtor_key(item: AccountModel) -> pii.DebtorKey | None:
    return pii.debtor_key(item.account_id, item.lender_id, item.data_key) if item.data_key else None


def _opened(key: pii.DebtorKey | None, field: str, value: str | None) -> str | None:
    if key is None:
        return None if is_sealed(value) else value  # sealed without a key: shredded
    return key.open(field, value)


def to_domain(item: AccountModel) -> Account:
    """The account as the domain sees it: the debtor's fields decrypted (every reader goes through here)."""
    currency = item.currency
    key = _debtor_key(item)
    return Account(
        lender_id=item.lender_id,
        external_ref=item.external_ref,
        debtor=Debtor(
            name=_opened(key, "name", item.debtor_name) or "",
            email=_opened(key, "email", item.email),
            phone=_opened(key, "phone", item.phone),
            timezone=item.timezone,
            language=item.portal_language or item.language,  # the debtor's own choice beats the lender's
            timezones=tuple(str(zone) for zone in item.timezones or ()),
            postal_code=_opened(key, "postal_code", item.postal_code),
            country=item.country,
            phone_is_mobile=bool(item.phone_is_mobile),
            sms_consent=bool(item.sms_consent),
        ),
        balance=Balance(
            principal=Money(int(item.principal_minor), currency),
            interest=Money(int(item.interest_minor), currency),
            fees=Money(int(item.fees_minor), currency),
        ),
        due_date=date.fromisoformat(item.due_date),
        status=AccountStatus(item.status),
        next_contact_at=item.next_contact_at,
        contacts_sent=int(item.contacts_sent or 0),
        last_contact_at=item.last_contact_at,
        lender_attributes=dict(item.lender_attributes.as_dict()) if item.lender_attributes else {},
        flags=frozenset(Flag(flag) for flag in (item.lender_flags or set()) | (item.flags or set())),
        placement=Placement(
            original_creditor=item.original_creditor,
            itemization_date=_date(item.itemization_date),
            open_date=_date(item.open_date),
            last_payment_date=_date(item.last_payment_date),
            last_payment=Money(int(item.last_payment_minor), currency) if item.last_payment_minor is not None else None,
            charge_off_date=_date(item.charge_off_date),
            statute_of_limitations=_date(item.statute_of_limitations),
        ),
        verification=dict(item.verification.as_dict()) if item.verification else {},
        recent_contacts=tuple(
            Contact(contact.at, Channel(contact.channel), ContactKind(contact.kind))
            for contact in item.recent_contacts or ()
        ),
        **state.outcomes_in(item, currency),
        hardship_requested_at=item.hardship_requested_at,
        validation_notice_at=item.validation_notice_at,
        version=int(item.version or 0),
        link_ref=item.link_ref,
        preferred_time=item.portal_preferred_time,
        settlement_minor=int(item.portal_settlement_minor) if item.portal_settlement_minor is not None else None,
        settlement_expires_at=item.portal_settlement_expires_at,
    )


def get(account_id: str) -> Account | None:
    """The account, or None if it was never placed."""
    item = get_or_none(AccountModel, account_id, "account")
    return to_domain(item) if item else None


def _lender_owned(account: Account, key: pii.DebtorKey) -> list[tuple[Any, Any]]:
    """The attributes a portfolio row sets (None: absent), the debtor's sealed under `key`. Everything else
    on the item is cleardue's."""
    debtor, balance, placement = account.debtor, account.balance, account.placement
    return [
        (AccountModel.lender_id, account.lender_id),
        (AccountModel.external_ref, account.external_ref),
        (AccountModel.data_key, key.wrapped),
        (AccountModel.debtor_name, key.seal("name", debtor.name)),
        (AccountModel.email, key.seal("email", debtor.email)),
        (AccountModel.email_bidx, pii.blind_index("email", debtor.email) if debtor.email else None),
        (AccountModel.phone, key.seal("phone", debtor.phone)),
        (AccountModel.phone_bidx, pii.blind_index("phone", debtor.phone) if debtor.phone else None),
        (AccountModel.timezone, debtor.timezone),
        (AccountModel.timezones, list(debtor.contact_zones)),
        (AccountModel.language, debtor.language),
        (AccountModel.postal_code, key.seal("postal_code", debtor.postal_code)),
        (AccountModel.country, debtor.country),
        (AccountModel.phone_is_mobile, debtor.phone_is_mobile),
        (AccountModel.sms_consent, debtor.sms_consent),
        (AccountModel.currency, balance.currency),
        (AccountModel.principal_minor, balance.principal.minor),
        (AccountModel.interest_minor, balance.interest.minor),
        (AccountModel.fees_minor, balance.fees.minor),
        (AccountModel.due_date, account.due_date.isoformat()),
        (AccountModel.lender_attributes, account.lender_attributes or None),
        (AccountModel.lender_flags, {flag.value for flag in account.flags} or None),
        (AccountModel.original_creditor, placement.original_creditor),
        (AccountModel.itemization_date, _iso(placement.itemization_date)),
        (AccountModel.open_date, _iso(placement.open_date)),
        (AccountModel.last_payment_date, _iso(placement.last_payment_date)),
        (AccountModel.last_payment_minor, placement.last_payment.minor if placement.last_payment else None),
        (AccountModel.charge_off_date, _iso(placement.charge_off_date)),
        (AccountModel.statute_of_limitations, _iso(placement.statute_of_limitations)),
        (AccountModel.verification, account.verification or None),
    ]


def new_item(
    account: Account, first_contact: datetime | None, upload_id: str, now: datetime, shards: int
) -> AccountModel:
    """The whole item of an account placed for the first time (written in batches, unconditionally).

    Only for accounts the lender's manifest does not know: a known account is merged with
    `update_placement`, which never touches what happened through cleardue."""
    item = AccountModel(account.account_id)
    key = pii.new_debtor_key(account.account_id, account.lender_id)
    for attribute, value in _lender_owned(account, key):
        if value is not None:
            setattr(item, attribute.attr_name, value)
    item.status = AccountStatus.ACTIVE.value
    item.contacts_sent = 0
    item.recent_contacts = []
    item.engagement = {}  # so the first response is one UpdateItem (a nested SET needs the map)
    item.placed_by_upload = item.last_upload = upload_id
    item.created_at = item.updated_at = now
    item.link_ref = new_link_ref()
    if first_contact is not None:
        item.next_contact_at = first_contact
        item.due_shard = due_shard(account.account_id, shards)
    return item


def put_new(items: list[AccountModel]) -> int:
    """Write accounts known to be new, 25 a BatchWriteItem (unprocessed items retried with backoff).

    Unconditional: only for a lender's first upload on its first try, when nothing can be overwritten."""
    return batch.put_all(AccountModel, items)


TRANSACTION_LIMIT = 100  # DynamoDB's maximum of actions per TransactWriteItems
_CONFLICT_ATTEMPTS = 6


def create_absent(items: list[AccountModel], sleep: Callable[[float], None] = time.sleep) -> tuple[set[str], int]:
    """Create, up to 100 a call, the accounts that do not exist yet; never overwrite one that does.

    Returns the ids that already existed (for the caller to merge with `update_placement`) and the
    number of calls made. A transaction is all-or-nothing: when some items exist, it is cancelled with
    a reason per item, and the rest are sent again without them."""
    existing: set[str] = set()
    calls = 0
    connection = AccountModel._get_connection().connection
    for start in range(0, len(items), TRANSACTION_LIMIT):
        pending = items[start : start + TRANSACTION_LIMIT]
        attempt = 0
        while pending:
            calls += 1
            try:
                with TransactWrite(connection=connection) as transaction:
                    for item in pending:
                        transaction.save(item, condition=AccountModel.account_id.does_not_exist())
                break
            except TransactWriteError as exc:
                reasons = [reason.code if reason else None for reason in exc.cancellation_reasons]
                if len(reasons) != len(pending):
                    raise StoreError(f"creating accounts failed: {exc}") from exc
                if "ConditionalCheckFailed" in reasons:
                    existing |= {
                        i.account_id for i, r in zip(pending, reasons, strict=True) if r == "ConditionalCheckFailed"
                    }
                    pending = [i for i, r in zip(pending, reasons, strict=True) if r != "ConditionalCheckFailed"]
                    continue
                attempt += 1  # a conflict with a concurrent write, or throttling: back off and retry
                if attempt >= _CONFLICT_ATTEMPTS:
                    raise StoreError(f"creating accounts failed after {attempt} tries: {exc}") from exc
                sleep(random.uniform(0, 0.05 * 2**attempt))
            except PynamoDBException as exc:
                raise StoreError(f"creating accounts failed: {exc}") from exc
    return existing, calls


_BALANCE_ATTRIBUTES = frozenset({"principal_minor", "interest_minor", "fees_minor"})
_REBASE_ATTEMPTS = 5


def placement_keys(account_ids: list[str]) -> dict[str, str | None]:
    """The wrapped data keys of existing accounts (None: none yet; ERASED: erased), 100 a BatchGetItem: what
    a merge seals the lender's new facts under."""
    keys: dict[str, str | None] = {}
    try:
        for item in AccountModel.batch_get(
            list(dict.fromkeys(account_ids)),
            attributes_to_get=["account_id", "data_key", "erased_at"],
        ):
            keys[item.account_id] = ERASED if item.erased_at else item.data_key
    except PynamoDBException as exc:
        raise StoreError(f"reading accounts' data keys failed: {exc}") from exc
    return keys


ERASED = "erased"  # placement_keys: the account was erased, never to be filled in again


def _key_for(account: Account, wrapped: str | None) -> pii.DebtorKey:
    if wrapped:
        return pii.debtor_key(account.account_id, account.lender_id, wrapped)
    return pii.new_debtor_key(account.account_id, account.lender_id)


def _same_key(wrapped: str | None) -> Condition:
    return AccountModel.data_key == wrapped if wrapped else AccountModel.data_key.does_not_exist()


def update_placement(
    account: Account,
    first_contact: datetime | None,
    upload_id: str,
    now: datetime,
    shards: int,
    data_key: str | None = None,
) -> bool:
    """Merge a portfolio row into an account that may already have a history in cleardue.

    Reconciliation rule: the lender's facts (contact, balance components, due date, flags, placement
    facts) are overwritten; cleardue's (status, payments, plans, promises, its own flags, opt-outs,
    counters, the contact already scheduled) are kept. An account that is no longer collectible by the
    lender's facts leaves the due index; one that is collectible again re-enters it.

    Returns False, writing nothing, when the account has payments collected through cleardue: its new
    balance must be worked out against them (`rebase_placement`). `data_key` is the account's wrapped
    data key as stored (`placement_keys`): the debtor's fields are sealed under it; if it changed meanwhile
    (or the account was erased) nothing is written either, and `rebase_placement` reads it again."""
    if data_key == ERASED:
        raise AccountErased(f"{account.account_id} was erased")
    key = _key_for(account, data_key)
    actions = _placement_actions(account, key, first_contact, upload_id, now, shards, with_balance=True)
    condition = AccountModel.payments.does_not_exist() & AccountModel.erased_at.does_not_exist()
    return conditional_write(
        lambda: AccountModel(account.account_id).update(actions=actions, condition=condition & _same_key(data_key)),
        "updating account",
    )


def rebase_placement(
    account: Account, first_contact: datetime | None, upload_id: str, now: datetime, shards: int
) -> Account:
    """`update_placement` for an account with payments through cleardue: the lender's facts, and the
    balance the lender sent less the payments it has not heard of (`core.payments.rebase`), written
    under the version lock (read again and redone if something else changed the account meanwhile)."""
    for _ in range(_REBASE_ATTEMPTS):
        item = get_or_none(AccountModel, account.account_id, "account")
        if item is None:
            raise StoreError(f"rebasing {account.account_id}: the account is gone")
        if item.erased_at:
            raise AccountErased(f"{account.account_id} was erased")
        stored = to_domain(item)
        rebased = payments.rebase(stored, account.balance, account.placement.last_payment_date)
        collectible = first_contact is not None and rebased.status is AccountStatus.ACTIVE
        key = _key_for(account, item.data_key)
        actions = _placement_actions(
            account, key, first_contact if collectible else None, upload_id, now, shards, False
        )
        actions += [
            AccountModel.principal_minor.set(rebased.balance.principal.minor),
            AccountModel.interest_minor.set(rebased.balance.interest.minor),
            AccountModel.fees_minor.set(rebased.balance.fees.minor),
            AccountModel.status.set(rebased.status.value),
            AccountModel.payments.set([state.payment_out(payment) for payment in rebased.payments]),
            AccountModel.version.set(stored.version + 1),
        ]
        plan, promise = state.plan_out(rebased.plan), state.promise_out(rebased.promise)
        actions.append(AccountModel.plan.set(plan) if plan is not None else AccountModel.plan.remove())
        actions.append(AccountModel.promise.set(promise) if promise is not None else AccountModel.promise.remove())
        actions.append(
            AccountModel.credit_minor.set(rebased.credit.minor)
            if rebased.credit
            else AccountModel.credit_minor.remove()
        )
        unchanged = AccountModel.version == stored.version
        if stored.version == 0:
            unchanged = AccountModel.version.does_not_exist() | unchanged
        condition = AccountModel.account_id.exists() & unchanged & _same_key(item.data_key)
        condition &= AccountModel.erased_at.does_not_exist()
        target = AccountModel(account.account_id)
        if conditional_write(partial(target.update, actions=actions, condition=condition), "rebasing account"):
            return rebased
    raise StoreError(f"rebasing {account.account_id}: the account kept changing")


def _placement_actions(
    account: Account,
    key: pii.DebtorKey,
    first_contact: datetime | None,
    upload_id: str,
    now: datetime,
    shards: int,
    with_balance: bool,
) -> list[Action]:
    actions: list[Action] = [
        attribute.set(value) if value is not None else attribute.remove()
        for attribute, value in _lender_owned(account, key)
        if with_balance or attribute.attr_name not in _BALANCE_ATTRIBUTES
    ]
    actions += [
        AccountModel.contacts_sent.set(AccountModel.contacts_sent | 0),
        AccountModel.recent_contacts.set(AccountModel.recent_contacts | []),
        AccountModel.placed_by_upload.set(AccountModel.placed_by_upload | upload_id),
        AccountModel.link_ref.set(AccountModel.link_ref | new_link_ref()),
        AccountModel.last_upload.set(upload_id),
        AccountModel.created_at.set(AccountModel.created_at | now),
        AccountModel.updated_at.set(now),
    ]
    if with_balance:
        actions.append(AccountModel.status.set(AccountModel.status | AccountStatus.ACTIVE.value))
    if first_contact is None:
        actions += [AccountModel.next_contact_at.remove(), AccountModel.due_shard.remove()]
    else:
        actions += [
            AccountModel.next_contact_at.set(AccountModel.next_contact_at | first_contact),
            AccountModel.due_shard.set(due_shard(account.account_id, shards)),
        ]
    return actions


def reschedule_no_later_than(account_id: str, moment: datetime, shards: int) -> bool:
    """Bring the next contact forward to `moment` if it is later (or absent while the account is active)."""
    item = AccountModel(account_id)
    condition = AccountModel.account_id.exists() & (
        AccountModel.next_contact_at.does_not_exist() | (AccountModel.next_contact_at > moment)
    )
    return conditional_write(
        lambda: item.update(
            actions=[
                AccountModel.next_contact_at.set(moment),
                AccountModel.due_shard.set(due_shard(account_id, shards)),
            ],
            condition=condition & (AccountModel.status == AccountStatus.ACTIVE.value),
        ),
        "rescheduling account",
    )


def by_link_ref(link_ref: str) -> Account | None:
    """The account a pay link points at, or None (an unknown or retired reference)."""
    try:
        keys = list(AccountModel.by_link_index.query(link_ref, limit=2))
    except PynamoDBException as exc:
        raise StoreError(f"finding the link's account failed: {exc}") from exc
    if len(keys) != 1:
        return None  # none, or (128 random bits colliding) ambiguous: refuse rather than guess
    return get(keys[0].account_id)


def lender_has_accounts(lender_id: str) -> bool:
    try:
        return any(True for _ in AccountModel.by_lender_index.query(lender_id, limit=1))
    except PynamoDBException as exc:
        raise StoreError(f"querying lender's accounts failed: {exc}") from exc


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _due_keys(shard: str, until: datetime) -> list[str]:
    try:
        return [item.account_id for item in AccountModel.due_index.query(shard, AccountModel.next_contact_at <= until)]
    except PynamoDBException as exc:
        raise StoreError(f"querying due shard {shard} failed: {exc}") from exc


def _still_due(keys: list[str], until: datetime) -> dict[str, AccountModel]:
    """The items of `keys`, read strongly consistent (100 a BatchGetItem), that are still due at `until`: one
    claimed or changed since the index was read is left out."""
    try:
        found = AccountModel.batch_get(list(dict.fromkeys(keys)), consistent_read=True) if keys else []
        return {item.account_id: item for item in found if item.next_contact_at and item.next_contact_at <= until}
    except PynamoDBException as exc:
        raise StoreError(f"reading due accounts failed: {exc}") from exc


def due_accounts(shard: str, until: datetime) -> Iterator[Account]:
    """Accounts in one shard of the due index whose next contact is at or before `until`, in due order.

    The index holds keys only: the accounts are read from the table (`_still_due`)."""
    keys = _due_keys(shard, until)
    found = _still_due(keys, until)
    for account_id in keys:
        if account_id in found:
            yield to_domain(found[account_id])


def due_in_all_shards(shards: int, until: datetime, workers: int = 8) -> list[list[Account]]:
    """Every shard's due accounts (`next_contact_at <= until`), in due order per shard: the shards' index
    queries in parallel (each paged through), then the items of all of them together, 100 a BatchGetItem.

    botocore clients are thread-safe but creating one is not: the model's connection and its client
    are created here, in the calling thread, before the workers share them."""
    _ = AccountModel._get_connection().connection.client
    with ThreadPoolExecutor(max_workers=max(1, min(workers, shards))) as pool:
        keys = list(pool.map(lambda shard: _due_keys(f"{shard:02d}", until), range(shards)))
    found = _still_due([key for shard in keys for key in shard], until)
    return [[to_domain(found[key]) for key in shard if key in found] for shard in keys]


def reschedule(account_id: str, expected: datetime | None, next_contact_at: datetime | None, shards: int) -> bool:
    """Claim a due account by moving its next contact, only if nobody else moved it first.

    Returns False when the condition fails (another scheduler run claimed it, or it changed)."""
    item = AccountModel(account_id)
    condition: Condition
    if expected is None:
        condition = AccountModel.next_contact_at.does_not_exist()
    else:
        condition = AccountModel.next_contact_at == expected
    condition &= AccountModel.account_id.exists()
    actions: list[Action]
    if next_contact_at is None:
        actions = [AccountModel.next_contact_at.remove(), AccountModel.due_shard.remove()]
    else:
        actions = [
            AccountModel.next_contact_at.set(next_contact_at),
            AccountModel.due_shard.set(due_shard(account_id, shards)),
        ]
    return conditional_write(lambda: item.update(actions=actions, condition=condition), "rescheduling account")


def record_contact(account_id: str, at: datetime, job_id: str, channel: Channel) -> bool:
    """Count a contact that was made (feeds frequency caps and KPIs), once per job id.

    Returns False if this job was already counted (a retried message)."""
    contact = ContactAttribute(at=at, channel=channel.value, kind=ContactKind.ATTEMPT.value)
    return conditional_write(
        lambda: AccountModel(account_id).update(
            actions=[
                AccountModel.contacts_sent.add(1),
                AccountModel.last_contact_at.set(at),
                AccountModel.last_job_id.set(job_id),
                AccountModel.recent_contacts.set((AccountModel.recent_contacts | []).append([contact])),
                AccountModel.version.add(1),  # a claim that bounds the history sets it whole, under the version
            ],
            condition=AccountModel.account_id.exists()
            & (AccountModel.last_job_id.does_not_exist() | (AccountModel.last_job_id != job_id)),
        ),
        "recording contact",
    )


def _state_values(account: Account, shards: int) -> list[tuple[Any, Any]]:
    """The attributes `save_state` may write, with their stored values (None: remove)."""
    balance = account.balance
    return [
        (AccountModel.status, account.status.value),
        (AccountModel.principal_minor, balance.principal.minor),
        (AccountModel.interest_minor, balance.interest.minor),
        (AccountModel.fees_minor, balance.fees.minor),
        (AccountModel.blocked_channels, state.blocked_out(account.blocked_channels)),
        (AccountModel.preferred_channel, account.preferred_channel.value if account.preferred_channel else None),
        (AccountModel.promise, state.promise_out(account.promise)),
        (AccountModel.plan, state.plan_out(account.plan)),
        (AccountModel.payments, [state.payment_out(payment) for payment in account.payments] or None),
        (AccountModel.credit_minor, account.credit.minor if account.credit else None),
        (AccountModel.dispute, state.dispute_out(account.dispute)),
        (AccountModel.hardship_requested_at, account.hardship_requested_at),
        (AccountModel.validation_notice_at, account.validation_notice_at),
        (AccountModel.tier, account.tier),
        (AccountModel.next_contact_at, account.next_contact_at),
        (AccountModel.due_shard, due_shard(account.account_id, shards) if account.next_contact_at else None),
    ]


def claim_state(before: Account, after: Account, now: datetime, shards: int) -> bool:
    """`save_state` that is also a scheduler's claim: succeeds only if the account is still due at the
    instant it was read for (`before.next_contact_at`) and nobody changed its state since."""
    expected: Condition
    if before.next_contact_at is None:
        expected = AccountModel.next_contact_at.does_not_exist()
    else:
        expected = AccountModel.next_contact_at == before.next_contact_at
    return _save_state(before, after, now, shards, expected, always_write=True)


def save_state(before: Account, after: Account, now: datetime, shards: int) -> bool:
    """Write what changed from `before` to `after` in cleardue's part of the account, atomically.

    Optimistic lock: succeeds only if nobody changed the account since `before` was read (its
    `version`), and moves the version on. Returns False on a conflict: re-read, re-apply, retry.
    Lender-owned facts (contact data, placement facts) are never written here; the balance
    components are, since payments and adjustments move them."""
    return _save_state(before, after, now, shards, None)


def _save_state(
    before: Account, after: Account, now: datetime, shards: int, extra: Condition | None, always_write: bool = False
) -> bool:
    if before.account_id != after.account_id:
        raise ValueError("save_state compares two versions of the same account")
    old = {attribute.attr_name: value for attribute, value in _state_values(before, shards)}
    actions: list[Action] = []
    for attribute, value in _state_values(after, shards):
        if old[attribute.attr_name] == value:
            continue
        actions.append(attribute.remove() if value is None else attribute.set(value))
    if not actions and not always_write:
        return True
    actions += [AccountModel.version.set(before.version + 1), AccountModel.updated_at.set(now)]
    unchanged = AccountModel.version == before.version
    if before.version == 0:
        unchanged = AccountModel.version.does_not_exist() | unchanged
    condition = AccountModel.account_id.exists() & unchanged
    if extra is not None:
        condition &= extra
    return conditional_write(
        lambda: AccountModel(after.account_id).update(actions=actions, condition=condition), "saving account state"
    )


STATE_ATTEMPTS = 5


class KeptChanging(StoreError):
    """Every attempt of a state change lost the account's version lock to another writer."""


def update_state(
    account_id: str,
    now: datetime,
    shards: int,
    change: Callable[[Account], Account | None],
    attempts: int = STATE_ATTEMPTS,
    read: Callable[[str], Account | None] | None = None,
) -> tuple[Account, Account] | None:
    """Apply `change` to the account with `save_state`, reading it again (`read`, default `get`) and re-applying
    `change` after each conflict.

    Returns the account before and after (the same object when `change` returns the account it was given:
    nothing is written); None when there is no such account or `change` returns None (nothing to do). Raises
    KeptChanging when all `attempts` conflicted."""
    for _ in range(attempts):
        before = (read or get)(account_id)
        if before is None:
            return None
        after = change(before)
        if after is None:
            return None
        if after is before or save_state(before, after, now, shards):
            return before, after
    raise KeptChanging(f"account {account_id} kept changing")


def set_flag(account_id: str, flag: Flag, on: bool, now: datetime) -> bool:
    """Set or clear a flag that arises through cleardue (a dispute, an operator's notice, a portal action).

    Never touches the lender's own flags (`lender_flags`), which each upload sets."""
    action = AccountModel.flags.add({flag.value}) if on else AccountModel.flags.delete({flag.value})
    return conditional_write(
        lambda: AccountModel(account_id).update(
            actions=[action, AccountModel.updated_at.set(now)], condition=AccountModel.account_id.exists()
        ),
        "flagging account",
    )


# --- Batch sending (the senders' protocol, see docs/sending.md) -----------------------------------------


def get_many(account_ids: list[str]) -> dict[str, Account]:
    """The accounts that exist among `account_ids`, 100 a BatchGetItem (unprocessed keys retried), read
    strongly consistent: a send is decided on them (and a stale read would only fail its claim)."""
    keys = list(dict.fromkeys(account_ids))
    try:
        return {item.account_id: to_domain(item) for item in AccountModel.batch_get(keys, consistent_read=True)}
    except PynamoDBException as exc:
        raise StoreError(f"reading accounts failed: {exc}") from exc


def unchanged_check(account: Account) -> tuple[type[AccountModel], str, Condition]:
    """A transaction's condition check: the account's state is still the version that was read."""
    unchanged = AccountModel.version == account.version
    if account.version == 0:
        unchanged = AccountModel.version.does_not_exist() | unchanged
    return AccountModel, account.account_id, AccountModel.account_id.exists() & unchanged


def contact_claim(
    account: Account, at: datetime, job_id: str, channel: Channel
) -> tuple[AccountModel, list[Action], Condition]:
    """The claim transaction's write to the account of a job about to be sent: the contact is counted as the
    job is claimed, before the send (as `contact_update` counts it), and the version moves on, only if the
    account is still the version the job was decided on. A job for the same account decided on that version
    can no longer claim (its caps would not see this contact); a claimed job is counted even if its sender
    dies before recording it (recorded as sent, as the claim says). `contact_uncount` takes it back when
    the job turns out not to be sent. The history is bounded on the way (`core.account.bounded_history`): when
    anything is dropped the list is written whole, which the version condition makes safe because every
    writer that appends to it moves the version too. `last_job_id` is not written: the job's claim and audit
    marker are its once-only guard (and the item stays that much smaller: every write of an account costs 1 unit
    per KB)."""
    contact = ContactAttribute(at=at, channel=channel.value, kind=ContactKind.ATTEMPT.value)
    kept = bounded_history(account.recent_contacts, at)
    if kept is account.recent_contacts:
        history = AccountModel.recent_contacts.set((AccountModel.recent_contacts | []).append([contact]))
    else:  # the history as read, less what no rule reads any more: safe under the version (every appender moves it)
        history = AccountModel.recent_contacts.set([_contact_attribute(c) for c in kept] + [contact])
    actions: list[Action] = [
        AccountModel.contacts_sent.add(1),
        AccountModel.last_contact_at.set(at),
        history,
        _delivered(channel).add(1),
        AccountModel.version.set(account.version + 1),
    ]
    _, _, unchanged = unchanged_check(account)
    return AccountModel(account.account_id), actions, unchanged


def _delivered(channel: Channel) -> NumberAttribute:
    """The channel's count of messages handed to the provider (read as engagement's "<channel>:delivered")."""
    attribute: NumberAttribute = getattr(AccountModel, state.DELIVERED_ATTRIBUTES[f"{channel.value}:delivered"])
    return attribute


def _contact_attribute(contact: Contact) -> ContactAttribute:
    return ContactAttribute(at=contact.at, channel=contact.channel.value, kind=contact.kind.value)


def contact_uncount(account: Account, at: datetime, channel: Channel) -> tuple[AccountModel, list[Action], Condition]:
    """Undo `contact_claim(account, at, ...)` for a job that was not sent after all (the provider refused it
    for good, or it is to be tried again): the count, the contact it appended and the last contact as it was
    when `account` was read (the contacts the claim dropped from the history stay dropped: no rule reads
    them). Only while that count is still the last one (so never twice)."""
    actions: list[Action] = [
        AccountModel.contacts_sent.add(-1),
        AccountModel.recent_contacts[len(bounded_history(account.recent_contacts, at))].remove(),
        _delivered(channel).add(-1),
        AccountModel.last_contact_at.set(account.last_contact_at)
        if account.last_contact_at
        else AccountModel.last_contact_at.remove(),
    ]
    condition = (AccountModel.contacts_sent == account.contacts_sent + 1) & (AccountModel.last_contact_at == at)
    return AccountModel(account.account_id), actions, condition


def uncount_contact(account: Account, at: datetime, channel: Channel) -> bool:
    """`contact_uncount` on its own (a job whose claim was given back). False if it no longer applies."""
    model, actions, condition = contact_uncount(account, at, channel)
    return conditional_write(lambda: model.update(actions=actions, condition=condition), "uncounting contact")


def contact_update(
    account_id: str, at: datetime, job_id: str, channel: Channel
) -> tuple[AccountModel, list[Action], Condition]:
    """`record_contact`'s write as a transaction item (its once-per-job guard is the event's `id#` marker
    written in the same transaction)."""
    contact = ContactAttribute(at=at, channel=channel.value, kind=ContactKind.ATTEMPT.value)
    actions: list[Action] = [
        AccountModel.contacts_sent.add(1),
        AccountModel.last_contact_at.set(at),
        AccountModel.last_job_id.set(job_id),
        AccountModel.recent_contacts.set((AccountModel.recent_contacts | []).append([contact])),
        AccountModel.version.add(1),  # as `record_contact`
    ]
    return AccountModel(account_id), actions, AccountModel.account_id.exists()


# --- The debtor's free text and erasure (docs/security.md) ------------------------------------------------


@dataclass(frozen=True, slots=True)
class DebtorText:
    """A debtor's own words (a dispute statement, a hardship note), as ops reads them."""

    ref: str
    kind: str
    at: datetime
    text: str | None  # None: unreadable (the data key was shredded)


def add_debtor_text(account_id: str, kind: str, ref: str, text: str, at: datetime) -> dict[str, Any]:
    """Keep a debtor's free text on the account, sealed under the debtor's data key, and return what the audit
    trail may say about it instead: a reference, its length and a digest keyed by the same data key (it means
    nothing once the key is shredded). The text itself never enters the trail."""
    for _ in range(_REBASE_ATTEMPTS):
        item = get_or_none(AccountModel, account_id, "account")
        if item is None:
            raise StoreError(f"keeping a text of {account_id}: no such account")
        if item.erased_at:
            raise AccountErased(f"{account_id} was erased")
        key = _debtor_key(item)
        actions: list[Action] = []
        if key is None:
            key = pii.new_debtor_key(account_id, item.lender_id)
            actions.append(AccountModel.data_key.set(key.wrapped))
        sealed = key.seal(f"text:{ref}", text)
        entry = {"ref": ref, "kind": kind, "at": at.isoformat(), "text": sealed}
        actions.append(AccountModel.debtor_texts.set((AccountModel.debtor_texts | []).append([entry])))
        condition = _same_key(item.data_key) & AccountModel.erased_at.does_not_exist()
        write = partial(AccountModel(account_id).update, actions=actions, condition=condition)
        if conditional_write(write, "keeping a debtor's text"):
            return {"text_ref": ref, "text_chars": len(text), "text_digest": key.digest(text)}
    raise StoreError(f"keeping a text of {account_id}: the account kept changing")


def debtor_texts(account_id: str) -> list[DebtorText]:
    """The debtor's texts kept on the account, oldest first (a retried request's copy appears once)."""
    item = get_or_none(AccountModel, account_id, "account")
    if item is None:
        return []
    key = _debtor_key(item)
    texts: dict[str, DebtorText] = {}
    for raw in state.plain(item.debtor_texts) or []:
        ref = str(raw["ref"])
        if ref in texts:
            continue
        opened = _opened(key, f"text:{ref}", raw.get("text"))
        texts[ref] = DebtorText(ref, str(raw.get("kind", "")), datetime.fromisoformat(raw["at"]), opened)
    return list(texts.values())


def request_erasure(account_id: str, now: datetime, due_at: datetime) -> bool:
    """Stop all contact at once (cease flag, out of the due index) and record the erasure as due at `due_at`.
    False if there is no such account or it is already erased."""
    actions: list[Action] = [
        AccountModel.erasure_queue.set(ERASURE_QUEUE),
        AccountModel.erasure_due_at.set(due_at),
        AccountModel.updated_at.set(now),
    ]
    return _stop_for_erasure(account_id, now, actions, "requesting erasure")


ERASED_ATTRIBUTES = (
    *PII_ATTRIBUTES,
    "verification",  # keyed hashes of identity facts
    "lender_attributes",  # the lender's extra columns may hold anything personal
    "debtor_texts",
    "link_ref",  # the pay link stops resolving
    "erasure_queue",
    "erasure_due_at",
)


def erase(account_id: str, now: datetime) -> bool:
    """Crypto-shred the debtor: destroy the wrapped data key (every sealed value becomes unreadable, copies in
    backups included), remove the contact data, the blind indexes, identity hashes and free text, and stop all
    contact. What Reg F 1006.100 keeps (balance, payments, contact history, the trail) stays. False if there is
    no such account or it was already erased."""
    actions: list[Action] = [getattr(AccountModel, name).remove() for name in ERASED_ATTRIBUTES]
    actions += [AccountModel.erased_at.set(now), AccountModel.updated_at.set(now), AccountModel.version.add(1)]
    return _stop_for_erasure(account_id, now, actions, "erasing")


def _stop_for_erasure(account_id: str, now: datetime, actions: list[Action], what: str) -> bool:
    """Write `actions` with what every erasure step does (cease flag, out of the due index, the first request's
    time kept), unless the account is missing or already erased (False)."""
    stop: list[Action] = [
        AccountModel.flags.add({Flag.CEASE_COMMUNICATION.value}),
        AccountModel.next_contact_at.remove(),
        AccountModel.due_shard.remove(),
        AccountModel.erasure_requested_at.set(AccountModel.erasure_requested_at | now),
    ]
    condition = AccountModel.account_id.exists() & AccountModel.erased_at.does_not_exist()
    return conditional_write(
        lambda: AccountModel(account_id).update(actions=[*stop, *actions], condition=condition), what
    )


@dataclass(frozen=True, slots=True)
class ErasureState:
    requested_at: datetime | None
    due_at: datetime | None
    erased_at: datetime | None
    placed_at: datetime | None


def erasure_state(account_id: str) -> ErasureState | None:
    item = get_or_none(AccountModel, account_id, "account")
    if item is None:
        return None
    return ErasureState(item.erasure_requested_at, item.erasure_due_at, item.erased_at, item.created_at)


def due_erasures(until: datetime) -> list[str]:
    """Accounts whose deferred erasure is due at or before `until`."""
    try:
        return [
            item.account_id
            for item in AccountModel.erasure_due_index.query(ERASURE_QUEUE, AccountModel.erasure_due_at <= until)
        ]
    except PynamoDBException as exc:
        raise StoreError(f"querying due erasures failed: {exc}") from exc
