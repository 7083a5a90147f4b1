"""What the lender report reads: a lender's accounts without their PII, their audit trails, the experiments'
standings for the segments the trails name, and the lenders there are.

Accounts are read through the `by_lender` index (keys only), then BatchGetItem 100 keys at a time with a
projection that leaves out the debtor's name, email, phone, postal code, identity facts and the lender's
free-form attributes: the report never holds them, encrypted or not. The accounts here carry an empty name
and no email; `phone` is a placeholder when the item says the number is a mobile (the compliance check only
asks whether a text went to a known mobile with consent)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from itertools import islice
from typing import Any

from pynamodb.exceptions import PynamoDBException

from functions.core.account import Account, AccountStatus, Balance, Debtor, Flag
from functions.core.audit import AuditEvent
from functions.core.experiments import Standing
from functions.core.kpis import AccountRecord
from functions.core.money import Money
from functions.store import StoreError, events
from functions.store import account_state as state
from functions.store import experiments as experiment_store
from functions.store.accounts import AccountModel
from functions.store.lenders import LenderModel

BATCH_GET_LIMIT = 100  # DynamoDB's maximum of keys per BatchGetItem
TRAIL_READERS = 8  # concurrent trail Queries
MOBILE_PLACEHOLDER = "+mobile"  # stands for "the item holds a mobile number" (never the number)

# Every attribute the report reads; nothing else is fetched.
REPORT_ATTRIBUTES = (
    "account_id",
    "lender_id",
    "external_ref",
    "timezone",
    "timezones",
    "language",
    "portal_language",
    "phone_is_mobile",
    "sms_consent",
    "currency",
    "principal_minor",
    "interest_minor",
    "fees_minor",
    "due_date",
    "status",
    "lender_flags",
    "flags",
    "contacts_sent",
    "last_contact_at",
    "blocked_channels",
    "preferred_channel",
    "promise",
    "plan",
    "payments",
    "credit_minor",
    "dispute",
    "tier",
    "engagement",
    *state.DELIVERED_ATTRIBUTES.values(),
    "created_at",
)


def _account(item: AccountModel) -> Account:
    """The account as the report needs it, from the projected item (no PII on it)."""
    currency = item.currency
    return Account(
        lender_id=item.lender_id,
        external_ref=item.external_ref,
        debtor=Debtor(
            name="",
            email=None,
            phone=MOBILE_PLACEHOLDER if item.phone_is_mobile else None,
            timezone=item.timezone,
            language=item.portal_language or item.language or "en",
            timezones=tuple(str(zone) for zone in item.timezones or ()),
            phone_is_mobile=bool(item.phone_is_mobile),
            sms_consent=bool(item.sms_consent),
        ),
        balance=Balance(
            principal=Money(int(item.principal_minor), currency),
            interest=Money(int(item.interest_minor or 0), currency),
            fees=Money(int(item.fees_minor or 0), currency),
        ),
        due_date=date.fromisoformat(item.due_date),
        status=AccountStatus(item.status or AccountStatus.ACTIVE.value),
        contacts_sent=int(item.contacts_sent or 0),
        last_contact_at=item.last_contact_at,
        flags=frozenset(Flag(flag) for flag in (item.lender_flags or set()) | (item.flags or set())),
        **state.outcomes_in(item, currency),
    )


def lender_accounts(lender_id: str) -> Iterator[tuple[Account, Any]]:
    """Every account of one lender (without PII) with its placement time (`created_at`)."""
    try:
        keys = (item.account_id for item in AccountModel.by_lender_index.query(lender_id))
        while chunk := list(islice(keys, BATCH_GET_LIMIT)):
            for item in AccountModel.batch_get(chunk, attributes_to_get=list(REPORT_ATTRIBUTES)):
                if item.lender_id == lender_id:
                    yield _account(item), item.created_at
    except PynamoDBException as exc:
        raise StoreError(f"reading the lender's accounts failed: {exc}") from exc


def lender_records(lender_id: str, workers: int = TRAIL_READERS, *, scan: bool = False) -> list[AccountRecord]:
    """The lender's accounts with their trails, by account id: one Query per account (`workers` at a time), or
    with `scan` one Scan of the whole events table (for a simulation on moto, whose Queries scan the table
    anyway: one pass instead of one per account)."""
    held = sorted(lender_accounts(lender_id), key=lambda pair: pair[0].account_id)
    if scan:
        from functions.store import audit_reader

        wanted = {account.account_id for account, _ in held}
        found: dict[str, list[AuditEvent]] = {}
        for trail in audit_reader.trails():
            if trail.account_id in wanted:
                found[trail.account_id] = trail.events  # an account read again whole supersedes its partial run
        trails = [found.get(account.account_id, []) for account, _ in held]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            trails = list(pool.map(lambda pair: events.history(pair[0].account_id), held))
    return [AccountRecord(account, trail, placed_at) for (account, placed_at), trail in zip(held, trails, strict=True)]


def standings(lender_id: str, segments: Iterable[str]) -> dict[str, dict[str, Standing]]:
    """The experiments table's standings of the lender's `segments` (one Query each); empty ones left out."""
    found = {segment: experiment_store.standings(lender_id, segment) for segment in segments}
    return {segment: variants for segment, variants in found.items() if variants}


def lender_ids() -> list[str]:
    """Every lender with a profile in the lenders table (a Scan of its keys)."""
    try:
        return sorted(item.lender_id for item in LenderModel.scan(attributes_to_get=["lender_id"]))
    except PynamoDBException as exc:
        raise StoreError(f"listing the lenders failed: {exc}") from exc
