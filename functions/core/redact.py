"""Masking personal data out of text that is written where it must not be (logs, an operator's note).

Patterns catch what has a shape: email addresses, phone numbers (E.164, and national formats),
dates that look like birth dates. Keys that name PII (`name`, `email`, `phone`, `postal_code`, ...) have
their values masked whatever they hold. Names in running text have no shape: the code never writes them
(tests/integration/test_pii_in_logs.py greps the logs of a pipeline run for the sample debtors' names).
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"
_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# E.164 (what cleardue stores) with or without separators, and the usual national formats (212) 555-0100.
_PHONE = re.compile(r"\+\d(?:[ ().-]{0,2}\d){6,14}(?!\d)|\(?\b\d{3}\)?[ .-]\d{3}[ .-]\d{4}\b")
_ISO_DATE = re.compile(r"\b(?:19|20)\d\d-[01]\d-[0-3]\d\b")
PII_KEYS = frozenset(
    {
        "name",
        "debtor_name",
        "full_name",
        "first_name",
        "last_name",
        "email",
        "email_address",
        "recipient",
        "recipients",
        "destination",
        "phone",
        "phone_number",
        "originationnumber",
        "destinationphonenumber",
        "postal_code",
        "postcode",
        "address",
        "date_of_birth",
        "dob",
        "statement",
        "note",
        "details",
        "fact",
        "verification_fact",
        "customer_email",
    }
)


def redact_text(text: str, dates: bool = False) -> str:
    """`text` with email addresses and phone numbers (and, if `dates`, ISO dates) masked."""
    text = _EMAIL.sub(MASK, text)
    text = _PHONE.sub(MASK, text)
    return _ISO_DATE.sub(MASK, text) if dates else text


def redact(value: Any) -> Any:
    """A JSON-like value with PII-named keys masked and PII-shaped text masked, recursively."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {
            key: (MASK if isinstance(key, str) and key.casefold() in PII_KEYS and inner else redact(inner))
            for key, inner in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(inner) for inner in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact_text(str(value))  # an exception, a date, anything a serializer would turn into text
