"""Identity facts (date of birth, or another fact the lender names) are kept only as keyed hashes.

HMAC-SHA256 under a secret key, bound to the account: a date of birth has too little entropy for a
plain salted hash to protect it, and binding to the account stops a hash from being replayed."""

from __future__ import annotations

import hashlib
import hmac
import re

_SPACES = re.compile(r"\s+")


def normalize_fact(value: str) -> str:
    """Case, spacing and punctuation a debtor might type differently do not matter."""
    return _SPACES.sub("", value).casefold()


def fact_hash(key: bytes, account_id: str, kind: str, value: str) -> str:
    message = f"{account_id}\x1f{kind}\x1f{normalize_fact(value)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def fact_matches(key: bytes, account_id: str, kind: str, value: str, expected: str) -> bool:
    return hmac.compare_digest(fact_hash(key, account_id, kind, value), expected)
