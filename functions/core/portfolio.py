"""Reading a lender's portfolio CSV into accounts, row by row, rejecting with a reason.

The minimal format of the walking skeleton (see docs/portfolio-format.md as it grows):
external_ref, name, email, phone, timezone, language, currency, principal, interest, fees, due_date.
Header names match case-insensitively; unknown columns are kept as lender attributes.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from pydantic import TypeAdapter, ValidationError
from pydantic.networks import EmailStr

from functions.core.account import Account, Balance, Debtor
from functions.core.clock import ClockError, zone
from functions.core.lender import LenderProfile
from functions.core.money import Money, MoneyError

E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")
LANGUAGE_RE = re.compile(r"^[a-z]{2}(-[A-Z]{2})?$")
_EMAIL = TypeAdapter(EmailStr)

COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "external_ref": ("external_ref", "reference", "account_reference", "account_ref", "account_number"),
    "name": ("name", "debtor_name", "full_name"),
    "email": ("email", "email_address"),
    "phone": ("phone", "mobile", "mobile_phone", "phone_number"),
    "timezone": ("timezone", "time_zone", "tz"),
    "language": ("language", "lang", "locale"),
    "currency": ("currency", "currency_code"),
    "principal": ("principal", "principal_amount"),
    "interest": ("interest", "interest_amount"),
    "fees": ("fees", "fee", "fees_amount"),
    "due_date": ("due_date", "due", "payment_due_date"),
}
REQUIRED_COLUMNS = ("external_ref", "name", "principal", "due_date")
_ALIAS_TO_FIELD = {alias: name for name, aliases in COLUMN_ALIASES.items() for alias in aliases}


class PortfolioError(ValueError):
    """The file as a whole cannot be read (e.g. a required column is missing)."""


@dataclass(frozen=True, slots=True)
class RowRejected:
    line: int
    reason: str
    raw: dict[str, str]


@dataclass(frozen=True, slots=True)
class RowAccepted:
    line: int
    account: Account


def _normalise_header(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", header.strip().lower()).strip("_")


def map_header(headers: list[str]) -> dict[str, str]:
    """Map each CSV header to its field name (or keep it as a lender attribute)."""
    mapping = {header: _ALIAS_TO_FIELD.get(_normalise_header(header), f"attr:{header.strip()}") for header in headers}
    present = set(mapping.values())
    missing = [column for column in REQUIRED_COLUMNS if column not in present]
    if missing:
        raise PortfolioError(f"missing required column(s): {', '.join(missing)}")
    if not {"email", "phone"} & present:
        raise PortfolioError("missing contact columns: need email and/or phone")
    return mapping


def parse_account(fields: dict[str, str], lender: LenderProfile) -> Account:
    """Validate one row's fields into an account; raises ValueError with a reason a lender can act on."""
    ref = fields.get("external_ref", "").strip()
    if not ref or "#" in ref or len(ref) > 64:
        raise ValueError("external_ref is required (1-64 characters, no '#')")
    name = fields.get("name", "").strip()
    if not name:
        raise ValueError("name is required")
    email = fields.get("email", "").strip() or None
    if email:
        try:
            email = _EMAIL.validate_python(email)
        except ValidationError as exc:
            raise ValueError(f"email {email!r} is not a valid address") from exc
    phone = re.sub(r"[\s().-]", "", fields.get("phone", "")) or None
    if phone and not E164_RE.match(phone):
        raise ValueError(f"phone {fields['phone']!r} is not in E.164 form (+15551234567)")
    if not email and not phone:
        raise ValueError("no way to reach the debtor: email or phone is required")
    tz_name = fields.get("timezone", "").strip() or lender.timezone
    try:
        zone(tz_name)
    except ClockError as exc:
        raise ValueError(str(exc)) from exc
    language = fields.get("language", "").strip() or "en"
    if not LANGUAGE_RE.match(language):
        raise ValueError(f"language {language!r} is not a code like en or es-MX")
    currency = fields.get("currency", "").strip() or lender.currency
    try:
        principal = Money.parse(fields["principal"], currency)
        interest = Money.parse(fields.get("interest") or "0", currency)
        fees = Money.parse(fields.get("fees") or "0", currency)
    except MoneyError as exc:
        raise ValueError(str(exc)) from exc
    if any(part.minor < 0 for part in (principal, interest, fees)):
        raise ValueError("balance components cannot be negative")
    try:
        due = date.fromisoformat(fields.get("due_date", "").strip())
    except ValueError as exc:
        raise ValueError(f"due_date {fields.get('due_date')!r} is not a date (YYYY-MM-DD)") from exc
    attributes = {key[5:]: value for key, value in fields.items() if key.startswith("attr:") and value}
    return Account(
        lender_id=lender.lender_id,
        external_ref=ref,
        debtor=Debtor(name=name, email=email, phone=phone, timezone=tz_name, language=language),
        balance=Balance(principal=principal, interest=interest, fees=fees),
        due_date=due,
        lender_attributes=attributes,
    )


def read_portfolio(lines: Iterable[str], lender: LenderProfile) -> Iterator[RowAccepted | RowRejected]:
    """Stream a portfolio: one result per data row, in file order, with its line number."""
    reader = csv.reader(lines)
    try:
        headers = next(reader)
    except StopIteration as exc:
        raise PortfolioError("the file is empty (no header row)") from exc
    mapping = map_header(headers)
    seen: set[str] = set()
    previous_line = reader.line_num
    for values in reader:
        line = previous_line + 1
        previous_line = reader.line_num
        if not any(value.strip() for value in values):
            continue
        raw = dict(zip(headers, values, strict=False))
        if len(values) != len(headers):
            yield RowRejected(line, f"expected {len(headers)} fields, found {len(values)}", raw)
            continue
        fields = {mapping[header]: value for header, value in raw.items()}
        try:
            account = parse_account(fields, lender)
        except ValueError as exc:
            yield RowRejected(line, str(exc), raw)
            continue
        if account.external_ref in seen:
            yield RowRejected(line, f"duplicate external_ref {account.external_ref!r} in this file", raw)
            continue
        seen.add(account.external_ref)
        yield RowAccepted(line, account)
