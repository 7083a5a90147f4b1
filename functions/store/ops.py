"""What ops reads and writes beyond the other store modules: a lender's accounts (with the portal's lockout
mark, for the work queue) and an operator's conversation in the account's contact history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from itertools import islice

from pynamodb.exceptions import PynamoDBException

from functions.core.account import Account, Contact
from functions.store import StoreError, conditional_write
from functions.store.accounts import AccountModel, ContactAttribute, to_domain
from functions.store.attributes import UTCTimestampAttribute

BATCH_GET_LIMIT = 100  # DynamoDB's maximum of keys per BatchGetItem


class OpsAccountModel(AccountModel):
    """The account item with the portal's lockout mark (store.portal writes it; set from a link's first lockout
    until the next successful verification): one read gives both. Same table (AccountModel's Meta)."""

    portal_locked_until = UTCTimestampAttribute(null=True)


def reset_connection() -> None:
    """Drop the cached connection (tables.configure does this for the models it knows)."""
    OpsAccountModel._connection = None


def lender_accounts(lender_id: str) -> Iterator[tuple[Account, bool]]:
    """Every account of one lender, each with whether its pay link was locked since the last verification.

    The `by_lender` index (keys only), then BatchGetItem 100 keys at a time: only this lender's items are read."""
    try:
        keys = (item.account_id for item in AccountModel.by_lender_index.query(lender_id))
        while chunk := list(islice(keys, BATCH_GET_LIMIT)):
            for item in OpsAccountModel.batch_get(chunk):
                if item.lender_id == lender_id:
                    yield to_domain(item), item.portal_locked_until is not None
    except PynamoDBException as exc:
        raise StoreError(f"reading the lender's accounts failed: {exc}") from exc


def add_conversation(account_id: str, contact: Contact, now: datetime) -> bool:
    """Append a conversation to the account's contact history (the gate's pause after a conversation reads it)."""
    entry = ContactAttribute(at=contact.at, channel=contact.channel.value, kind=contact.kind.value)
    return conditional_write(
        lambda: AccountModel(account_id).update(
            actions=[
                AccountModel.recent_contacts.set((AccountModel.recent_contacts | []).append([entry])),
                AccountModel.updated_at.set(now),
            ],
            condition=AccountModel.account_id.exists(),
        ),
        "recording a conversation",
    )
