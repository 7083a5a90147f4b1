"""Field-level protection of debtor PII: AES-256-GCM under a per-debtor data key, and keyed blind indexes.

The key hierarchy (docs/security.md): a KMS key wraps one key-encryption key (KEK) per tenant; a tenant's
KEK wraps each debtor's data key; the data key encrypts that debtor's fields. Everything here is pure:
the keys come in as bytes (functions.store.pii fetches and caches them).

Every ciphertext is bound to its account and field through AES-GCM's associated data, so a value copied
from one account or field to another does not decrypt. Destroying a debtor's wrapped data key makes every
field sealed under it unreadable (crypto-shredding).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SEALED_PREFIX = "pii1:"  # a sealed value as stored: prefix + base64(nonce ‖ ciphertext ‖ tag)
KEY_BYTES = 32  # AES-256
_NONCE_BYTES = 12
_CONTEXT = "cleardue/pii/v1"


class PiiError(ValueError):
    """A sealed value that does not open: wrong key, another account or field, or altered."""


def new_data_key() -> bytes:
    """A fresh random data key (one per debtor)."""
    return os.urandom(KEY_BYTES)


def _associated_data(account_id: str, field: str) -> bytes:
    return f"{_CONTEXT}\x1f{account_id}\x1f{field}".encode()


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(SEALED_PREFIX)


def seal_bytes(key: bytes, account_id: str, field: str, plaintext: bytes) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, plaintext, _associated_data(account_id, field))
    return SEALED_PREFIX + base64.b64encode(nonce + sealed).decode("ascii")


def open_bytes(key: bytes, account_id: str, field: str, token: str) -> bytes:
    if not is_sealed(token):
        raise PiiError(f"{field}: not a sealed value")
    try:
        raw = base64.b64decode(token[len(SEALED_PREFIX) :], validate=True)
        return AESGCM(key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _associated_data(account_id, field))
    except (InvalidTag, ValueError) as exc:
        raise PiiError(f"{field}: the sealed value does not open for this account and key") from exc


def seal(key: bytes, account_id: str, field: str, plaintext: str) -> str:
    """Encrypt one field's text for one account (a fresh nonce each time: equal texts differ when sealed)."""
    return seal_bytes(key, account_id, field, plaintext.encode("utf-8"))


def open_sealed(key: bytes, account_id: str, field: str, token: str) -> str:
    """The text `seal` encrypted for this account and field; PiiError otherwise."""
    return open_bytes(key, account_id, field, token).decode("utf-8")


def wrap_data_key(kek: bytes, account_id: str, data_key: bytes) -> str:
    """The debtor's data key encrypted under the tenant's KEK (stored on the account item)."""
    return seal_bytes(kek, account_id, "data_key", data_key)


def unwrap_data_key(kek: bytes, account_id: str, wrapped: str) -> bytes:
    return open_bytes(kek, account_id, "data_key", wrapped)


def derive_key(root: bytes, purpose: str) -> bytes:
    """A separate key for one purpose from a root key (HMAC-SHA256 as a PRF, HKDF-Expand with one block)."""
    return hmac.new(root, f"{_CONTEXT}\x1f{purpose}\x01".encode(), hashlib.sha256).digest()


def normalize_email(value: str) -> str:
    return value.strip().casefold()


def normalize_phone(value: str) -> str:
    """E.164 as stored (the portfolio reader normalises numbers); spaces and dashes a sender adds are ignored."""
    return "".join(ch for ch in value if ch.isdigit() or ch == "+")


_NORMALIZERS = {"email": normalize_email, "phone": normalize_phone}


def blind_index(key: bytes, kind: str, value: str) -> str:
    """A keyed hash of a normalised email address or phone number: equal values have equal indexes, and
    without the key the index reveals nothing (a phone number has too little entropy for a plain hash)."""
    normalized = _NORMALIZERS[kind](value)
    return hmac.new(key, f"{kind}\x1f{normalized}".encode(), hashlib.sha256).hexdigest()


def text_digest(data_key: bytes, text: str) -> str:
    """A short keyed digest of a debtor's free text, for the audit trail: proves which text was stored while
    the key lives, and means nothing once the key is shredded."""
    return hmac.new(data_key, text.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
