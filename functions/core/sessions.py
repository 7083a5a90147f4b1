"""Portal sessions: a short-lived bearer token issued once the debtor has proved who they are.

`s1.<link_ref>.<expires>.<language>.<signature>`. The HMAC covers a purpose prefix that pay links
(core.links) never use, so a link token can never pass as a session nor a session as a link, even
though both are signed with the same key. Bound to the link's opaque reference, never the account id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from functions.core.errors import TokenError

VERSION = "s1"
TTL = timedelta(minutes=15)
_PURPOSE = b"cleardue-portal-session\x1f"
_REF = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")


class SessionError(TokenError):
    """A portal session that cannot be used."""


@dataclass(frozen=True, slots=True)
class SessionClaims:
    link_ref: str
    expires_at: datetime
    language: str


def _signature(key: bytes, body: str) -> str:
    digest = hmac.new(key, _PURPOSE + body.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def issue(link_ref: str, language: str, now: datetime, key: bytes, ttl: timedelta = TTL) -> tuple[str, datetime]:
    """A session token for `link_ref` and when it expires (whole seconds after `now`)."""
    if not _REF.match(link_ref) or not _LANGUAGE.match(language):
        raise ValueError("a session needs a link reference and a language code")
    expires = int((now + ttl).timestamp())
    body = f"{VERSION}.{link_ref}.{expires}.{language}"
    return f"{body}.{_signature(key, body)}", datetime.fromtimestamp(expires, tz=UTC)


def read(token: str, now: datetime, key: bytes) -> SessionClaims:
    """The claims of a genuine, unexpired session token; raises SessionError otherwise."""
    # ASCII only: "²".isdigit() is True, and hmac.compare_digest refuses non-ASCII text (a 500, not a 401)
    parts = token.split(".") if isinstance(token, str) and len(token) <= 256 and token.isascii() else []
    if (
        len(parts) != 5
        or parts[0] != VERSION
        or not _REF.match(parts[1])
        or not parts[2].isdigit()
        or not _LANGUAGE.match(parts[3])
    ):
        raise SessionError("malformed")
    body = ".".join(parts[:4])
    if not hmac.compare_digest(_signature(key, body), parts[4]):
        raise SessionError("bad_signature")
    expires_at = datetime.fromtimestamp(int(parts[2]), tz=UTC)
    if now >= expires_at:
        raise SessionError("expired")
    return SessionClaims(link_ref=parts[1], expires_at=expires_at, language=parts[3])
