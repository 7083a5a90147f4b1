"""Signed pay links: `v1.<link_ref>.<expires>.<signature>`.

The token carries only the account's opaque `link_ref` (random, set when the account is placed,
found through the sparse `by_link` index) and an expiry; never the account id, a name or an amount.
The signature is HMAC-SHA256 under the link-signing key (Secrets Manager), so a link cannot be forged
or extended. Who opens the link still has to prove who they are before the portal shows anything.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

VERSION = "v1"
DEFAULT_TTL = timedelta(days=30)
_REF = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class LinkError(ValueError):
    """A link that cannot be used; `reason` is one of malformed, bad_signature, expired."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class LinkClaims:
    link_ref: str
    expires_at: datetime


def new_link_ref() -> str:
    """A fresh opaque reference for an account (128 random bits)."""
    return secrets.token_urlsafe(16)


def _signature(key: bytes, body: str) -> str:
    digest = hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def sign(link_ref: str, now: datetime, key: bytes, ttl: timedelta = DEFAULT_TTL) -> str:
    """The token for `link_ref`, valid until `now + ttl` (whole seconds)."""
    if not _REF.match(link_ref):
        raise ValueError("link_ref must be 16-64 URL-safe characters")
    expires = int((now + ttl).timestamp())
    body = f"{VERSION}.{link_ref}.{expires}"
    return f"{body}.{_signature(key, body)}"


def read(token: str, now: datetime, key: bytes) -> LinkClaims:
    """The claims of a genuine, unexpired token; raises LinkError otherwise (signature checked first)."""
    parts = token.split(".") if isinstance(token, str) and len(token) <= 256 else []
    if len(parts) != 4 or parts[0] != VERSION or not _REF.match(parts[1]) or not parts[2].isdigit():
        raise LinkError("malformed")
    body = ".".join(parts[:3])
    if not hmac.compare_digest(_signature(key, body), parts[3]):
        raise LinkError("bad_signature")
    expires_at = datetime.fromtimestamp(int(parts[2]), tz=UTC)
    if now >= expires_at:
        raise LinkError("expired")
    return LinkClaims(link_ref=parts[1], expires_at=expires_at)


def pay_url(portal_base_url: str, token: str) -> str:
    """The link a message carries: the static pay page with the token in the fragment.

    A fragment is never sent to a server (CloudFront logs, Referer headers): only the page's script
    reads it and hands it to the portal API."""
    return f"{portal_base_url.rstrip('/')}/#t={token}"
