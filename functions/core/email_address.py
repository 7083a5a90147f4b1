"""The lender's own addresses (the sender and help addresses): ASCII `dot-atom@host.name`, checked by hand.

Why not email_validator (pydantic's `EmailStr`): its import compiles regular expressions over the whole of
Unicode, about 30 ms of the cold start of every function that reads a lender profile, and these addresses need
none of it. SES takes a From address only with a 7-bit ASCII local part and an ASCII (Punycode) domain, and the
help address goes into a `List-Unsubscribe: <mailto:...>` header. Debtors' addresses in a portfolio are still
checked by email_validator (functions.core.contact, in ingest only).

The rules are email_validator's (2.x, the defaults that `EmailStr` uses: no deliverability check, globally
deliverable, no quoted local part, no display name, no domain literal) for ASCII addresses:
- local part: RFC 5322 dot-atom (atext, single dots, not at either end); RFC 2142 role mailboxes such as
  `Support` are lowercased, as the library normalises them;
- domain: RFC 952/1123 host name labels (letters, digits, hyphens inside, at most 63 characters each), at
  least two labels, a top-level domain ending with a letter, no `ab--` label unless Punycode (`xn--`), not a
  special-use name (`localhost`, `*.test`, `*.local`, `*.invalid`, `*.onion`, `*.arpa`); lowercased;
- at most 253 characters after the @-sign and 254 in all.
Differences, on purpose: surrounding whitespace is stripped (as `EmailStr` strips it) but the pretty form
`Name <address>` that `EmailStr` accepted (dropping the name) is refused, and a Punycode label is kept as written
(the library decodes it to Unicode, which SES would not take). tests/unit/core/test_email_address.py checks the
answers against email_validator's on generated ASCII addresses.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema

_ATEXT = r"a-zA-Z0-9_!#$%&'*+\-/=?^`{|}~"
_DOT_ATOM = re.compile(rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*")
_LABEL = r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)"
_HOST_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")
_RESERVED_HYPHENS = re.compile(r"(?!xn)..--")  # RFC 5891 4.2.3.1
_ROLE_MAILBOXES = frozenset(
    "info marketing sales support abuse noc security postmaster hostmaster usenet news webmaster www uucp ftp".split()
)  # RFC 2142
_SPECIAL_USE = ("arpa", "invalid", "local", "localhost", "onion", "test")  # RFC 6761, 6762, 7686
_MAX_DOMAIN = 253
_MAX_ADDRESS = 254


def normalize_address(raw: str) -> str:
    """The address normalised (role mailbox and domain lowercased), or ValueError saying what is wrong."""
    address = raw.strip()
    if not address.isascii():
        raise ValueError(f"{address!r}: a sender or help address must be ASCII (write the domain in Punycode)")
    local, at, domain = address.rpartition("@")
    if not at or not _DOT_ATOM.fullmatch(local):
        raise ValueError(f"{address!r} is not an email address (expected name@example.com)")
    domain = domain.lower()
    if len(domain) > _MAX_DOMAIN or not _HOST_NAME.fullmatch(domain):
        raise ValueError(f"{address!r}: the part after the @-sign is not a host name")
    labels = domain.split(".")
    if not labels[-1][-1].isalpha():
        raise ValueError(f"{address!r}: the part after the @-sign is not within a valid top-level domain")
    if any(_RESERVED_HYPHENS.match(label) for label in labels):
        raise ValueError(f"{address!r}: a label after the @-sign has '--' in its third and fourth places")
    if labels[-1] in _SPECIAL_USE:
        raise ValueError(f"{address!r}: the part after the @-sign is a special-use name that cannot receive email")
    if local.lower() in _ROLE_MAILBOXES:
        local = local.lower()
    normalized = f"{local}@{domain}"
    if len(normalized) > _MAX_ADDRESS:
        raise ValueError(f"{address!r} is longer than {_MAX_ADDRESS} characters")
    return normalized


# A pydantic field type: what `EmailStr` was for these addresses (the same JSON schema), without email_validator.
EmailAddress = Annotated[str, AfterValidator(normalize_address), WithJsonSchema({"type": "string", "format": "email"})]
