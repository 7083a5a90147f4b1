"""Reading a lender's portfolio CSV into accounts, row by row; every row is accepted or rejected.

The format is documented in docs/portfolio-format.md. Header names match case-insensitively with
common aliases; unknown columns are kept as lender attributes. The delimiter (`,` `;` or tab) is
detected from the header line. A rejected row carries every reason, not just the first.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any, TypeVar

from functions.core.account import Account, Balance, Debtor, Flag, Placement, account_id_for
from functions.core.contact import candidate_timezones, is_country, normalize_email, normalize_phone
from functions.core.lender import LenderProfile
from functions.core.money import Money, MoneyError, currency_exponent, normalize_currency
from functions.core.verification import fact_hash

T = TypeVar("T")

COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "external_ref": (
        "external_ref",
        "external_reference",
        "reference",
        "ref",
        "account_reference",
        "account_ref",
        "account_number",
        "account_no",
        "account_id",
        "loan_id",
        "loan_number",
    ),
    "name": ("name", "debtor_name", "full_name", "customer_name", "borrower_name", "consumer_name"),
    "first_name": ("first_name", "given_name", "forename"),
    "last_name": ("last_name", "family_name", "surname"),
    "email": ("email", "email_address", "e_mail"),
    "phone": ("phone", "mobile", "mobile_phone", "mobile_number", "phone_number", "cell", "cell_phone", "msisdn"),
    "postal_code": ("postal_code", "postcode", "post_code", "zip", "zip_code", "zipcode"),
    "country": ("country", "country_code"),
    "language": ("language", "lang", "locale", "preferred_language"),
    "timezone": ("timezone", "time_zone", "tz"),
    "date_of_birth": ("date_of_birth", "dob", "birth_date", "birthdate"),
    "verification_fact": ("verification_fact", "verification", "security_answer"),
    "currency": ("currency", "currency_code", "ccy"),
    "principal": ("principal", "principal_amount", "principal_balance"),
    "interest": ("interest", "interest_amount", "interest_balance"),
    "fees": ("fees", "fee", "fees_amount", "fee_balance", "charges"),
    "due_date": ("due_date", "due", "payment_due_date", "date_due"),
    "original_creditor": ("original_creditor", "creditor_on_itemization", "original_lender"),
    "itemization_date": ("itemization_date", "itemisation_date"),
    "open_date": ("open_date", "account_open_date", "opened", "opened_on", "origination_date"),
    "last_payment_date": ("last_payment_date", "last_paid_date", "date_of_last_payment"),
    "last_payment_amount": ("last_payment_amount", "last_payment", "last_paid_amount"),
    "charge_off_date": ("charge_off_date", "chargeoff_date", "charged_off"),
    "statute_of_limitations_date": ("statute_of_limitations_date", "sol_date", "statute_date", "sol"),
    "sms_consent": ("sms_consent", "text_consent", "consent_sms", "tcpa_consent"),
    "bankruptcy": ("bankruptcy", "bankrupt", "in_bankruptcy"),
    "deceased": ("deceased", "is_deceased"),
    "dispute": ("dispute", "disputed", "in_dispute"),
    "cease_communication": ("cease_communication", "cease", "cease_and_desist", "do_not_contact"),
    "fraud": ("fraud", "fraud_claim", "identity_theft"),
    "recalled": ("recalled", "recall"),
}
_ALIAS_TO_FIELD = {alias: name for name, aliases in COLUMN_ALIASES.items() for alias in aliases}
FLAG_COLUMNS: dict[str, Flag] = {flag.value: flag for flag in Flag}
_BOOLEANS = {
    **dict.fromkeys(("y", "yes", "true", "t", "1", "x"), True),
    **dict.fromkeys(("", "n", "no", "false", "f", "0"), False),
}
# sign, grouped or plain whole part, fraction after it; or a bare fraction (".5"), as Money.parse accepts.
_AMOUNT_RE = re.compile(r"([+-]?)(?:(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d*))?|\.(\d+))\Z")
_DATE_FIELDS = (
    "due_date",
    "itemization_date",
    "open_date",
    "last_payment_date",
    "charge_off_date",
    "statute_of_limitations_date",
    "date_of_birth",
)
_exponent = lru_cache(maxsize=None)(currency_exponent)
_LANGUAGE_RE = re.compile(r"^([a-zA-Z]{2,3})(?:[-_]([a-zA-Z]{2}))?$")
_DELIMITERS = (",", ";", "\t")
_QUOTED_RE = re.compile(r'"[^"]*"')
_EARLIEST, _LATEST = date(1900, 1, 1), date(2100, 12, 31)


class PortfolioError(ValueError):
    """The file as a whole cannot be read (empty, not text, a required column missing)."""


class RowError(ValueError):
    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


@dataclass(frozen=True, slots=True)
class RowRejected:
    line: int
    reasons: tuple[str, ...]
    raw: dict[str, str]

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


@dataclass(frozen=True, slots=True)
class RowAccepted:
    line: int
    account: Account
    values: Sequence[str] = ()  # the CSV record as read: a later check may still reject the row, raw

    def raw(self, header: Header) -> dict[str, str]:
        return dict(zip(header.columns, self.values, strict=False))


@dataclass(frozen=True, slots=True)
class Header:
    columns: tuple[str, ...]  # as the lender wrote them
    fields: tuple[str, ...]  # the field each maps to, or "attr:<column>"
    delimiter: str


def _normalise_header(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", header.lower()).strip("_")


def detect_delimiter(header_line: str) -> str:
    """`,` `;` or tab: whichever splits the header line into the most columns (ties go to `,`).

    Quoted column names do not count: `"Name; full",Email` is comma-separated."""
    unquoted = _QUOTED_RE.sub("", header_line)
    counts = {delimiter: unquoted.count(delimiter) for delimiter in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def parse_header(header_line: str) -> Header:
    """Map each column to its field; refuse a header without the required columns."""
    header_line = header_line.removeprefix("\ufeff")
    if not header_line.strip():
        raise PortfolioError("the file is empty (no header row)")
    delimiter = detect_delimiter(header_line)
    try:
        columns = next(csv.reader([header_line], delimiter=delimiter))
    except csv.Error as exc:  # e.g. a bare CR inside it: a file saved with old Mac (CR-only) line endings
        hint = " (save the file with Windows or Unix line endings)" if "\r" in header_line.rstrip("\r\n") else ""
        raise PortfolioError(f"the header row is not valid CSV: {exc}{hint}") from exc
    fields = tuple(
        _ALIAS_TO_FIELD.get(_normalise_header(column), f"attr:{column.strip() or f'column_{position}'}")
        for position, column in enumerate(columns, start=1)
    )
    present = set(fields)
    missing = [f for f in ("external_ref", "principal", "due_date") if f not in present]
    if "name" not in present and not {"first_name", "last_name"} <= present:
        missing.insert(1, "name")
    if missing:
        raise PortfolioError(f"missing required column(s): {', '.join(missing)}")
    if not {"email", "phone"} & present:
        raise PortfolioError("missing contact columns: need email and/or phone")
    duplicated = sorted({f.removeprefix("attr:") for f in fields if fields.count(f) > 1})
    if duplicated:
        raise PortfolioError(f"column(s) given twice: {', '.join(duplicated)}")
    return Header(columns=tuple(columns), fields=fields, delimiter=delimiter)


def _attempt(reasons: list[str], parse: Callable[..., T], *args: Any) -> T | None:
    """`parse(*args)`, or None with the problem added to the row's reasons (every one is reported)."""
    try:
        return parse(*args)
    except ValueError as exc:  # ContactError and MoneyError are ValueErrors
        reasons.append(str(exc))
        return None


def parse_date(text: str, formats: tuple[str, ...], field: str) -> date | None:
    """ISO 8601, or one of the lender's named formats; empty is None."""
    value = text.strip()
    if not value:
        return None
    parsed = _calendar_date(value, formats)
    if parsed is None:
        accepted = " or ".join(("YYYY-MM-DD", *formats))
        raise ValueError(f"{field} {value!r} is not a date ({accepted})")
    if not _EARLIEST <= parsed <= _LATEST:
        raise ValueError(f"{field} {value!r} is out of range")
    return parsed


@lru_cache(maxsize=8192)
def _calendar_date(value: str, formats: tuple[str, ...]) -> date | None:
    # Cached: a portfolio's dates repeat (due dates cluster), and strptime costs ~15 µs a call.
    try:
        return date.fromisoformat(value[:10] if len(value) > 10 and value[10] in "T " else value)
    except ValueError:
        pass
    for fmt in formats:
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None


def parse_bool(text: str, field: str) -> bool:
    answer = _BOOLEANS.get(text.strip().lower())
    if answer is None:
        raise ValueError(f"{field} {text!r} is not yes/no")
    return answer


@lru_cache(maxsize=256)
def _language(text: str) -> str:
    match = _LANGUAGE_RE.match(text)
    if not match:
        raise ValueError(f"language {text!r} is not a code like en or es-MX")
    region = f"-{match[2].upper()}" if match[2] else ""
    return f"{match[1].lower()}{region}"


def _reference(value: str) -> str:
    if not value:
        raise ValueError("external_ref is required")
    if "#" in value or len(value) > 64:
        raise ValueError("external_ref must be 1-64 characters without '#'")
    return value


def minor_units(text: str, currency: str) -> int:
    """The exact amount in the currency's minor units: the rule of `Money.parse`, with integers instead of Decimal.

    A decimal point, `,` only as thousands grouping, and no more decimals than the currency has
    ("1.230" USD is 123; "1.235" USD and "5.5" JPY are errors, never rounded)."""
    match = _AMOUNT_RE.match(text)
    if not match:
        raise MoneyError(f"{text!r} is not an amount (expected digits like 1234.56 or 1,234.56)")
    sign, whole, fraction, bare_fraction = match.groups()
    fraction = fraction or bare_fraction or ""
    exponent = _exponent(currency)
    if len(fraction) > exponent:
        if int(fraction[exponent:]):
            raise MoneyError(f"{text!r} has more than {exponent} decimal places for {currency.upper()}")
        fraction = fraction[:exponent]
    minor = int(whole.replace(",", "")) * 10**exponent if whole else 0
    if fraction:
        minor += int(fraction) * 10 ** (exponent - len(fraction))
    return -minor if sign == "-" else minor


@lru_cache(maxsize=4096)
def _money(text: str, currency: str) -> Money:
    # Cached: interest, fees and zero amounts repeat from row to row.
    return Money(minor_units(text, currency), currency)


def _amount(text: str, currency: str, field: str) -> Money | None:
    if not text:
        return None
    try:
        amount = _money(text, currency)
    except MoneyError as exc:
        raise ValueError(f"{field}: {exc}") from exc
    if amount.minor < 0:
        raise ValueError(f"{field} cannot be negative")
    return amount


def parse_account(fields: dict[str, str], lender: LenderProfile, key: bytes) -> Account:
    """Validate one row (field name -> text) into an account, or raise RowError with every reason."""
    stripped = {name: text.strip() for name, text in fields.items()}
    return _account(stripped, tuple(name for name in fields if name.startswith("attr:")), lender, key)


def _account(text: dict[str, str], attributes: tuple[str, ...], lender: LenderProfile, key: bytes) -> Account:
    # `text` holds stripped values; this runs once per row of a million-row file, so it stays flat.
    get = text.get
    reasons: list[str] = []
    ref = _attempt(reasons, _reference, get("external_ref", ""))
    name = get("name") or " ".join(part for part in (get("first_name"), get("last_name")) if part)
    if not name:
        reasons.append("name is required")
    email_text, phone_text = get("email"), get("phone")
    email = _attempt(reasons, normalize_email, email_text) if email_text else None
    country = get("country", "").upper() or None
    if country and not is_country(country):
        reasons.append(f"country {get('country')!r} is not an ISO 3166 code like US")
        country = None
    phone = _attempt(reasons, normalize_phone, phone_text, country or lender.country) if phone_text else None
    if not email_text and not phone_text:
        reasons.append("no way to reach the debtor: email or phone is required")
    zones = _attempt(reasons, candidate_timezones, get("timezone") or None, phone, country, lender.timezone)
    language = _attempt(reasons, _language, get("language") or lender.language)
    currency = _attempt(reasons, normalize_currency, get("currency") or lender.currency) or lender.currency
    principal = _attempt(reasons, _amount, get("principal", ""), currency, "principal")
    if not get("principal"):
        reasons.append("principal is required")
    interest = _attempt(reasons, _amount, get("interest", ""), currency, "interest")
    fees = _attempt(reasons, _amount, get("fees", ""), currency, "fees")
    last_paid = _attempt(reasons, _amount, get("last_payment_amount", ""), currency, "last_payment_amount")
    formats = lender.date_formats
    dates: dict[str, date | None] = {
        field: _attempt(reasons, parse_date, value, formats, field) if (value := get(field)) else None
        for field in _DATE_FIELDS
    }
    if not get("due_date"):
        reasons.append("due_date is required")
    sms_consent = _attempt(reasons, parse_bool, get("sms_consent", ""), "sms_consent")
    flags = frozenset(
        flag
        for column, flag in FLAG_COLUMNS.items()
        if (value := get(column)) and _attempt(reasons, parse_bool, value, column)
    )
    if reasons:
        raise RowError(reasons)
    assert ref is not None and principal is not None and zones and language is not None
    account_id = account_id_for(lender.lender_id, ref)
    verification = {}
    if birth := dates["date_of_birth"]:
        verification["date_of_birth"] = fact_hash(key, account_id, "date_of_birth", birth.isoformat())
    if fact := get("verification_fact"):
        verification["fact"] = fact_hash(key, account_id, "fact", fact)
    zero = _money("0", currency)
    return Account(
        lender_id=lender.lender_id,
        external_ref=ref,
        debtor=Debtor(
            name=name,
            email=email,
            phone=phone.e164 if phone else None,
            timezone=zones[0],
            language=language,
            timezones=zones,
            postal_code=get("postal_code") or None,
            country=country,
            phone_is_mobile=bool(phone and phone.is_mobile),
            sms_consent=bool(sms_consent),
        ),
        balance=Balance(principal=principal, interest=interest or zero, fees=fees or zero),
        due_date=dates["due_date"],  # type: ignore[arg-type]
        lender_attributes={name[5:]: value for name in attributes if (value := text[name])},
        flags=flags,
        placement=Placement(
            original_creditor=get("original_creditor") or None,
            itemization_date=dates["itemization_date"],
            open_date=dates["open_date"],
            last_payment_date=dates["last_payment_date"],
            last_payment=last_paid,
            charge_off_date=dates["charge_off_date"],
            statute_of_limitations=dates["statute_of_limitations_date"],
        ),
        verification=verification,
    )


def read_rows(
    lines: Iterable[str], header: Header, lender: LenderProfile, key: bytes, first_line: int = 2
) -> Iterator[RowAccepted | RowRejected]:
    """Validate the data rows that follow the header; `first_line` is the file line the first one starts on.

    Lines are pulled from `lines` one CSV record at a time, never ahead: when a result is yielded, the
    lines consumed are exactly those of the records up to and including it. A record CSV cannot read
    raises PortfolioError with its line: the file fails with the reason."""
    reader = csv.reader(lines, delimiter=header.delimiter)
    fields, width = header.fields, len(header.columns)
    attributes = tuple(field for field in fields if field.startswith("attr:"))
    seen: set[str] = set()
    previous_line = 0
    while True:
        line = first_line + previous_line
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # a runaway quote past the field size limit, a bare CR: nothing after it is sure
            raise PortfolioError(f"line {line}: not valid CSV from here on: {exc}") from exc
        previous_line = reader.line_num
        if not "".join(values).strip():
            continue
        if len(values) != width:
            raw = dict(zip(header.columns, values, strict=False))
            yield RowRejected(line, (f"expected {width} fields, found {len(values)}",), raw)
            continue
        try:
            account = _account(dict(zip(fields, map(str.strip, values), strict=True)), attributes, lender, key)
        except RowError as exc:
            yield RowRejected(line, tuple(exc.reasons), dict(zip(header.columns, values, strict=True)))
            continue
        if account.external_ref in seen:
            raw = dict(zip(header.columns, values, strict=True))
            yield RowRejected(line, (f"duplicate external_ref {account.external_ref!r} in this file",), raw)
            continue
        seen.add(account.external_ref)
        yield RowAccepted(line, account, values)


def read_portfolio(lines: Iterable[str], lender: LenderProfile, key: bytes) -> Iterator[RowAccepted | RowRejected]:
    """Stream a whole portfolio: its header, then one result per data row in file order."""
    iterator = iter(lines)
    header = parse_header(next(iterator, ""))
    yield from read_rows(iterator, header, lender, key)
