"""Signed pay links: the compact `2<link_ref><expiry><signature>` (sent today) or `v1.<link_ref>.<expires>.<signature>`.

The token carries only the account's opaque `link_ref` (random, set when the account is placed,
found through the sparse `by_link` index) and an expiry; never the account id, a name or an amount.
The signature is HMAC-SHA256 under the link-signing key (Secrets Manager), so a link cannot be forged
or extended. Who opens the link still has to prove who they are before the portal shows anything.

Version 2 exists so a text fits one SMS segment (the v1 link alone took ~112 of its 160 characters):
- `2`: the version; `3` is the same token sent in a text (`sign(..., channel="sms")`), so the portal can credit
  a visit to the text that brought it (an email's clicks are SES's click events; a text has no click tracking,
  and the text has no character to spare for a marker). Signed with the rest: it cannot be changed either;
- the link_ref as stored (22 base64url characters for the 128 random bits of `new_link_ref`);
- the expiry: whole hours since the Unix epoch, 4 base-36 digits (`[0-9a-z]`, fixed width until 2161),
  rounded up so a link is never shorter-lived than its TTL;
- the HMAC-SHA256 of everything before it, truncated to its first 128 bits: 22 base64url characters
  (RFC 2104 §5: keep at least half the hash and no fewer than 80 bits).
No separators: the version, expiry and signature have fixed widths, so the link_ref is what remains.
Every character is unreserved in a URL (RFC 3986), so nothing is escaped in the fragment or a query.
`read` accepts both versions: links already sent stay valid until they expire.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from functions.core.errors import TokenError

VERSION = "2"
SMS_VERSION = "3"  # a compact token sent in a text: its claims say `channel="sms"`
_CHANNEL_OF_VERSION = {VERSION: None, SMS_VERSION: "sms"}
_VERSION_OF_CHANNEL = {None: VERSION, "sms": SMS_VERSION}
LEGACY_VERSION = "v1"
DEFAULT_TTL = timedelta(days=30)
MAX_TOKEN_LENGTH = 256
_REF = re.compile(r"[A-Za-z0-9_-]{16,64}")  # fullmatch
_HOUR = 3600
_EXPIRY_DIGITS = 4  # base-36 hours since 1970: 4 digits cover 1975-2161
_SIGNATURE_BYTES = 16  # 128 bits
_SIGNATURE_CHARS = 22  # base64url of 16 bytes, unpadded
_COMPACT = re.compile(r"([23])([A-Za-z0-9_-]{16,64})([0-9a-z]{4})([A-Za-z0-9_-]{22})")  # fullmatch
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


class LinkError(TokenError):
    """A pay link that cannot be used."""


@dataclass(frozen=True, slots=True)
class LinkClaims:
    link_ref: str
    expires_at: datetime
    channel: str | None = None  # "sms": the link was sent in a text (a version 3 token)


def new_link_ref() -> str:
    """A fresh opaque reference for an account (128 random bits)."""
    return secrets.token_urlsafe(16)


def _mac(key: bytes, body: str, size: int | None = None) -> str:
    digest = hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()[:size]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _base36(value: int, width: int) -> str:
    digits = ""
    while value:
        value, digit = divmod(value, 36)
        digits = _BASE36[digit] + digits
    return digits.rjust(width, "0")


def sign(link_ref: str, now: datetime, key: bytes, ttl: timedelta = DEFAULT_TTL, channel: str | None = None) -> str:
    """The compact token for `link_ref`, valid until `now + ttl` rounded up to the next whole hour: version 2, or
    3 for a link sent in a text (`channel="sms"`, the only channel a token names)."""
    version = _VERSION_OF_CHANNEL.get(channel)
    if version is None:
        raise ValueError(f"a link token names no channel but sms, not {channel!r}")
    if not _REF.fullmatch(link_ref):
        raise ValueError("link_ref must be 16-64 URL-safe characters")
    hours = math.ceil((now + ttl).timestamp() / _HOUR)
    expiry = _base36(hours, _EXPIRY_DIGITS)
    if len(expiry) != _EXPIRY_DIGITS:
        raise ValueError("expiry out of the compact token's range (1975-2161)")
    body = f"{version}{link_ref}{expiry}"
    return body + _mac(key, body, _SIGNATURE_BYTES)


def sign_v1(link_ref: str, now: datetime, key: bytes, ttl: timedelta = DEFAULT_TTL) -> str:
    """The legacy `v1.<link_ref>.<expires>.<signature>` token (whole seconds, full 256-bit signature).

    No longer sent; kept so tests can show that links already in debtors' hands keep working."""
    if not _REF.fullmatch(link_ref):
        raise ValueError("link_ref must be 16-64 URL-safe characters")
    body = f"{LEGACY_VERSION}.{link_ref}.{int((now + ttl).timestamp())}"
    return f"{body}.{_mac(key, body)}"


def _verify(token: str, key: bytes) -> LinkClaims:
    """The claims of a genuine token of either version, expired or not; raises LinkError otherwise."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise LinkError("malformed")
    channel = None
    if compact := _COMPACT.fullmatch(token):
        version, link_ref, expiry, signature = compact.groups()
        expected = _mac(key, token[:-_SIGNATURE_CHARS], _SIGNATURE_BYTES)
        expires = int(expiry, 36) * _HOUR
        channel = _CHANNEL_OF_VERSION[version]
    else:
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != LEGACY_VERSION or not _REF.fullmatch(parts[1]):
            raise LinkError("malformed")
        if not (parts[2].isascii() and parts[2].isdigit()):  # "²".isdigit() is True
            raise LinkError("malformed")
        link_ref, signature = parts[1], parts[3]
        expected = _mac(key, ".".join(parts[:3]))
        expires = int(parts[2])
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii", "replace")):
        raise LinkError("bad_signature")
    return LinkClaims(link_ref=link_ref, expires_at=datetime.fromtimestamp(expires, tz=UTC), channel=channel)


def read(token: str, now: datetime, key: bytes) -> LinkClaims:
    """The claims of a genuine, unexpired token (v1 or 2); raises LinkError otherwise (signature checked first)."""
    claims = _verify(token, key)
    if now >= claims.expires_at:
        raise LinkError("expired")
    return claims


def read_even_if_expired(token: str, key: bytes) -> LinkClaims:
    """The claims of a genuine token whatever its expiry: an opt-out is honoured after the link expired (1006.6(e))."""
    return _verify(token, key)


def pay_url(portal_base_url: str, token: str) -> str:
    """The link a message carries: the static pay page with the token in the fragment.

    A fragment is never sent to a server (CloudFront logs, Referer headers): only the page's script
    reads it and hands it to the portal API."""
    return f"{portal_base_url.rstrip('/')}/#t={token}"
