"""The key hierarchy behind debtor PII (functions.core.pii does the cryptography).

KMS key (the stack's customer-managed key; locally moto's, alias `alias/cleardue-pii`)
  └─ key-encryption keys (KEKs), one per tenant (`tenant#<lender_id>`) plus one for blind indexes
     (`index`): each a KMS data key (GenerateDataKey once, ever), stored wrapped by KMS in the keys
     table (written once with PutItem, never changed), decrypted once per Lambda container and cached
       └─ each debtor's data key: random, wrapped by the tenant's KEK, stored on the account item
          (`data_key`); destroying it is crypto-shredding
            └─ the debtor's fields (name, email, phone, postal code, free text), AES-256-GCM

So ingest makes no KMS call per row: a container's first use of a tenant costs one GetItem and one
KMS Decrypt (the first use of a tenant ever: GenerateDataKey and a conditional write instead).
"""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from functions.core import pii
from functions.store import StoreError, conditional_write, get_or_none
from functions.store.attributes import OnDemandTable, UTCTimestampAttribute

DEFAULT_KEY_ID = "alias/cleardue-pii"  # the local stack's and the tests' KMS key (infra sets PII_KEY_ID)
INDEX_KEK = "index"
KEK_TTL_SECONDS = 900.0  # a KEK's plaintext lives this long in a container's memory


class KeyModel(Model):
    """A KMS-wrapped key-encryption key, by name (`tenant#<lender_id>`, `index`)."""

    class Meta(OnDemandTable):
        table_name = "cleardue-keys"

    key_name = UnicodeAttribute(hash_key=True)
    wrapped_kek = UnicodeAttribute()  # KMS CiphertextBlob, base64
    kms_key_id = UnicodeAttribute()
    created_at = UTCTimestampAttribute(null=True)


@dataclass
class _Cached:
    plaintext: bytes
    expires: float


class Keyring:
    """KEKs by name, fetched through KMS once and cached with a TTL (thread-safe: the scheduler reads shards
    in threads)."""

    def __init__(self, key_id: str = DEFAULT_KEY_ID, region: str | None = None, kms: Any = None) -> None:
        self.key_id = key_id
        self._region = region
        self._kms = kms
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()
        self.kms_calls = 0

    def _client(self) -> Any:
        if self._kms is None:
            self._kms = boto3.client("kms", region_name=self._region) if self._region else boto3.client("kms")
        return self._kms

    def kek(self, name: str) -> bytes:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(name)
            if cached is not None and cached.expires > now:
                return cached.plaintext
            plaintext = self._load_or_create(name)
            self._cache[name] = _Cached(plaintext, now + KEK_TTL_SECONDS)
            return plaintext

    def _context(self, name: str) -> dict[str, str]:
        return {"cleardue:purpose": "pii-kek", "cleardue:kek": name}

    def _load_or_create(self, name: str) -> bytes:
        item = get_or_none(KeyModel, name, "key-encryption key")
        if item is not None:
            return self._decrypt(name, item.wrapped_kek)
        try:
            self.kms_calls += 1
            made = self._client().generate_data_key(
                KeyId=self.key_id, KeySpec="AES_256", EncryptionContext=self._context(name)
            )
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"generating the key-encryption key {name!r} failed: {exc}") from exc
        new = KeyModel(
            name,
            wrapped_kek=base64.b64encode(made["CiphertextBlob"]).decode("ascii"),
            kms_key_id=str(made.get("KeyId") or self.key_id),
        )
        if conditional_write(lambda: new.save(condition=KeyModel.key_name.does_not_exist()), "storing a KEK"):
            return bytes(made["Plaintext"])
        winner = get_or_none(KeyModel, name, "key-encryption key")  # another container won
        if winner is None:
            raise StoreError(f"the key-encryption key {name!r} vanished while being created")
        return self._decrypt(name, winner.wrapped_kek)

    def _decrypt(self, name: str, wrapped: str) -> bytes:
        try:
            self.kms_calls += 1
            answer = self._client().decrypt(
                CiphertextBlob=base64.b64decode(wrapped), EncryptionContext=self._context(name)
            )
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"decrypting the key-encryption key {name!r} failed: {exc}") from exc
        return bytes(answer["Plaintext"])


_keyring = Keyring()


def configure(key_id: str | None, region: str | None) -> None:
    """Point at the deployment's KMS key and forget cached keys (the endpoint or tables may have changed)."""
    global _keyring
    _keyring = Keyring(key_id or DEFAULT_KEY_ID, region)


def keyring() -> Keyring:
    return _keyring


def tenant_kek_name(lender_id: str) -> str:
    return f"tenant#{lender_id}"


def index_key() -> bytes:
    return pii.derive_key(_keyring.kek(INDEX_KEK), "blind-index")


def blind_index(kind: str, value: str) -> str:
    """The keyed index of an email address or a phone number (what the by_email / by_phone indexes hold)."""
    return pii.blind_index(index_key(), kind, value)


class DebtorKey:
    """One debtor's data key, opened: seals and opens that account's fields."""

    def __init__(self, account_id: str, data_key: bytes, wrapped: str) -> None:
        self.account_id = account_id
        self._key = data_key
        self.wrapped = wrapped

    def seal(self, field: str, value: str | None) -> str | None:
        return None if value is None else pii.seal(self._key, self.account_id, field, value)

    def open(self, field: str, value: str | None) -> str | None:
        """The field's text. A value stored before encryption (no `pii1:` prefix) is returned as it is."""
        if value is None or not pii.is_sealed(value):
            return value
        return pii.open_sealed(self._key, self.account_id, field, value)

    def digest(self, text: str) -> str:
        return pii.text_digest(self._key, text)


def new_debtor_key(account_id: str, lender_id: str) -> DebtorKey:
    data_key = pii.new_data_key()
    kek = _keyring.kek(tenant_kek_name(lender_id))
    return DebtorKey(account_id, data_key, pii.wrap_data_key(kek, account_id, data_key))


def debtor_key(account_id: str, lender_id: str, wrapped: str) -> DebtorKey:
    kek = _keyring.kek(tenant_kek_name(lender_id))
    try:
        return DebtorKey(account_id, pii.unwrap_data_key(kek, account_id, wrapped), wrapped)
    except pii.PiiError as exc:
        raise StoreError(f"the data key of {account_id} does not open: {exc}") from exc


def ensure_local_key(region: str | None = None) -> str:
    """Create the local stack's KMS key and its alias if missing (moto); returns the key id used."""
    kms = boto3.client("kms", region_name=region) if region else boto3.client("kms")
    try:
        aliases = {alias["AliasName"] for alias in kms.list_aliases()["Aliases"]}
        if DEFAULT_KEY_ID not in aliases:
            key_id = kms.create_key(Description="cleardue local PII key")["KeyMetadata"]["KeyId"]
            kms.create_alias(AliasName=DEFAULT_KEY_ID, TargetKeyId=key_id)
    except (BotoCoreError, ClientError) as exc:
        raise StoreError(f"creating the local PII key failed: {exc}") from exc
    return DEFAULT_KEY_ID
