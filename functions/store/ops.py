"""What ops reads and writes beyond the other store modules: a lender's accounts (with the portal's lockout
mark, for the work queue), an operator's conversation in the account's contact history, and a lender's reports
in the portfolio bucket (read, pre-signed for download)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from itertools import islice
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException

from functions.core.account import Account, Contact, Flag
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


def lender_flags(account_id: str) -> frozenset[Flag]:
    """The flags the lender's own file sets on the account (cleardue may not clear them: each upload does)."""
    try:
        item = AccountModel.get(account_id, attributes_to_get=["lender_flags"], consistent_read=True)
    except AccountModel.DoesNotExist:
        return frozenset()
    except (PynamoDBException, BotoCoreError, ClientError) as exc:
        raise StoreError(f"reading the lender's flags of {account_id}: {exc}") from exc
    return frozenset(Flag(flag) for flag in item.lender_flags or ())


def add_conversation(account_id: str, contact: Contact, now: datetime) -> bool:
    """Append a conversation to the account's contact history (the gate's pause after a conversation reads it)."""
    entry = ContactAttribute(at=contact.at, channel=contact.channel.value, kind=contact.kind.value)
    return conditional_write(
        lambda: AccountModel(account_id).update(
            actions=[
                AccountModel.recent_contacts.set((AccountModel.recent_contacts | []).append([entry])),
                AccountModel.updated_at.set(now),
                # A sender's claim decided before this conversation fails on the version (the pause applies),
                # and one that bounds the history (writes it whole) cannot drop this entry.
                AccountModel.version.add(1),
            ],
            condition=AccountModel.account_id.exists(),
        ),
        "recording a conversation",
    )


# --- a lender's reports in the portfolio bucket ---------------------------------------------------


def read_report(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """A report's summary.json, or None when it is not there (yet)."""
    try:
        document = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return None
        raise StoreError(f"reading {key} failed: {exc}") from exc
    except (BotoCoreError, ValueError) as exc:
        raise StoreError(f"reading {key} failed: {exc}") from exc
    return document if isinstance(document, dict) else None


def report_exists(s3: Any, bucket: str, key: str) -> bool:
    """Whether the object is there (HeadObject; a missing key answers 404 with ListBucket, 403 without)."""
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound", "403", "Forbidden"):
            return False
        raise StoreError(f"looking for {key} failed: {exc}") from exc
    except BotoCoreError as exc:
        raise StoreError(f"looking for {key} failed: {exc}") from exc
    return True


def presign_download(s3: Any, bucket: str, key: str, expires_in: int) -> str:
    """A pre-signed GET URL for one object (SigV4, valid `expires_in` seconds); signing makes no AWS call."""
    try:
        return str(s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in))
    except (ClientError, BotoCoreError) as exc:
        raise StoreError(f"signing a download of {key} failed: {exc}") from exc
