"""Reading a lender's portfolio CSV into accounts, row by row; every row is accepted or rejected.

The format is documented in docs/portfolio-format.md. Header names match case-insensitively with
common aliases; unknown columns are kept as lender attributes. The delimiter (`,` `;` or tab) is
detected from the header line. A rejected row carries every reason, not just the first.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar

from functions.core.account import Account, Balance, Debtor, Flag, Placement
from functions.core.contact import ContactError, candidate_timezones, is_country, normalize_email, normalize_phone
from functions.core.lender import LenderProfile
from functions.core.money import Money, MoneyError, normalize_currency
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
_TRUE = {"y", "yes", "true", "t", "1", "x"}
_FALSE = {"", "n", "no", "false", "f", "0"}
_LANGUAGE_RE = re.compile(r"^([a-zA-Z]{2,3})(?:[-_]([a-zA-Z]{2}))?$")
_DELIMITERS = (",", ";", "\t")
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


@dataclass(frozen=True, slots=True)
class Header:
    columns: tuple[str, ...]  # as the lender wrote them
    fields: tuple[str, ...]  # the field each maps to, or "attr:<column>"
    delimiter: str


def _normalise_header(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", header.strip().lstrip("\ufeff").lower()).strip("_")


def detect_delimiter(header_line: str) -> str:
    """`,` `;` or tab: whichever splits the header line into the most columns (ties go to `,`)."""
    counts = {delimiter: header_line.count(delimiter) for delimiter in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def parse_header(header_line: str) -> Header:
    """Map each column to its field; refuse a header without the required columns."""
    if not header_line.strip():
        raise PortfolioError("the file is empty (no header row)")
    delimiter = detect_delimiter(header_line)
    columns = next(csv.reader([header_line], delimiter=delimiter))
    fields = tuple(_ALIAS_TO_FIELD.get(_normalise_header(column), f"attr:{column.strip()}") for column in columns)
    present = set(fields)
    missing = [f for f in ("external_ref", "principal", "due_date") if f not in present]
    if "name" not in present and not {"first_name", "last_name"} <= present:
        missing.insert(1, "name")
    if missing:
        raise PortfolioError(f"missing required column(s): {', '.join(missing)}")
    if not {"email", "phone"} & present:
        raise PortfolioError("missing contact columns: need email and/or phone")
    duplicated = sorted({f for f in fields if fields.count(f) > 1})
    if duplicated:
        raise PortfolioError(f"column(s) given twice: {', '.join(duplicated)}")
    return Header(columns=tuple(columns), fields=fields, delimiter=delimiter)


class _Reasons:
    """Collects every problem of a row instead of stopping at the first."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def check(self, parse: Callable[..., T], *args: str | tuple[str, ...]) -> T | None:
        try:
            return parse(*args)
        except (ValueError, MoneyError, ContactError) as exc:
            self.items.append(str(exc))
            return None


def parse_date(text: str, formats: tuple[str, ...], field: str) -> date | None:
    """ISO 8601, or one of the lender's named formats; empty is None."""
    value = text.strip()
    if not value:
        return None
    parsed: date | None = None
    try:
        parsed = date.fromisoformat(value[:10] if len(value) > 10 and value[10] in "T " else value)
    except ValueError:
        for fmt in formats:
            try:
                parsed = datetime.strptime(value, fmt).date()
                break
            except ValueError:
                continue
    if parsed is None:
        accepted = " or ".join(("YYYY-MM-DD", *formats))
        raise ValueError(f"{field} {value!r} is not a date ({accepted})")
    if not _EARLIEST <= parsed <= _LATEST:
        raise ValueError(f"{field} {value!r} is out of range")
    return parsed


def parse_bool(text: str, field: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{field} {text!r} is not yes/no")


def _language(text: str, default: str) -> str:
    match = _LANGUAGE_RE.match(text.strip() or default)
    if not match:
        raise ValueError(f"language {text!r} is not a code like en or es-MX")
    region = f"-{match[2].upper()}" if match[2] else ""
    return f"{match[1].lower()}{region}"


def _required(text: str, field: str) -> str:
    value = text.strip()
    if not value:
        raise ValueError(f"{field} is required")
    return value


def _reference(text: str) -> str:
    value = _required(text, "external_ref")
    if "#" in value or len(value) > 64:
        raise ValueError("external_ref must be 1-64 characters without '#'")
    return value


def _amount(text: str, currency: str, field: str, *, required: bool = False) -> Money | None:
    if not text.strip():
        if required:
            raise ValueError(f"{field} is required")
        return None
    try:
        amount = Money.parse(text, currency)
    except MoneyError as exc:
        raise ValueError(f"{field}: {exc}") from exc
    if amount.minor < 0:
        raise ValueError(f"{field} cannot be negative")
    return amount


def parse_account(fields: dict[str, str], lender: LenderProfile, key: bytes) -> Account:
    """Validate one row (field name -> text) into an account, or raise RowError with every reason."""
    get = fields.get
    reasons = _Reasons()
    formats = lender.date_formats
    ref = reasons.check(lambda: _reference(get("external_ref", "")))
    name = get("name", "").strip() or " ".join(
        p for p in (get("first_name", "").strip(), get("last_name", "").strip()) if p
    )
    if not name:
        reasons.items.append("name is required")
    email = reasons.check(lambda: normalize_email(get("email", "").strip()) if get("email", "").strip() else None)
    country = get("country", "").strip().upper() or None
    if country and not is_country(country):
        reasons.items.append(f"country {get('country')!r} is not an ISO 3166 code like US")
        country = None
    region = country or lender.country
    phone = reasons.check(lambda: normalize_phone(get("phone", ""), region) if get("phone", "").strip() else None)
    if not get("email", "").strip() and not get("phone", "").strip():
        reasons.items.append("no way to reach the debtor: email or phone is required")
    zones = reasons.check(
        lambda: candidate_timezones(get("timezone", "").strip() or None, phone, country, lender.timezone)
    )
    language = reasons.check(lambda: _language(get("language", ""), lender.language))
    currency = (
        reasons.check(lambda: normalize_currency(get("currency", "").strip() or lender.currency)) or lender.currency
    )
    principal = reasons.check(lambda: _amount(get("principal", ""), currency, "principal", required=True))
    interest = reasons.check(lambda: _amount(get("interest", ""), currency, "interest"))
    fees = reasons.check(lambda: _amount(get("fees", ""), currency, "fees"))
    last_paid = reasons.check(lambda: _amount(get("last_payment_amount", ""), currency, "last_payment_amount"))
    dates = {
        field: reasons.check(parse_date, get(field, ""), formats, field)
        for field in (
            "due_date",
            "itemization_date",
            "open_date",
            "last_payment_date",
            "charge_off_date",
            "statute_of_limitations_date",
            "date_of_birth",
        )
    }
    if dates["due_date"] is None and not get("due_date", "").strip():
        reasons.items.append("due_date is required")
    sms_consent = reasons.check(lambda: parse_bool(get("sms_consent", ""), "sms_consent"))
    flags = frozenset(
        flag for column, flag in FLAG_COLUMNS.items() if reasons.check(parse_bool, get(column, ""), column)
    )
    if reasons.items:
        raise RowError(reasons.items)
    assert ref is not None and principal is not None and zones and language is not None
    account_id = f"{lender.lender_id}#{ref}"
    verification = {}
    if dates["date_of_birth"]:
        verification["date_of_birth"] = fact_hash(key, account_id, "date_of_birth", dates["date_of_birth"].isoformat())
    if get("verification_fact", "").strip():
        verification["fact"] = fact_hash(key, account_id, "fact", get("verification_fact", ""))
    zero = Money.zero(currency)
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
            postal_code=get("postal_code", "").strip() or None,
            country=country,
            phone_is_mobile=bool(phone and phone.is_mobile),
            sms_consent=bool(sms_consent),
        ),
        balance=Balance(principal=principal, interest=interest or zero, fees=fees or zero),
        due_date=dates["due_date"],  # type: ignore[arg-type]
        lender_attributes={key[5:]: value for key, value in fields.items() if key.startswith("attr:") and value},
        flags=flags,
        placement=Placement(
            original_creditor=get("original_creditor", "").strip() or None,
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
    """Validate the data rows that follow the header; `first_line` is the file line the first one starts on."""
    reader = csv.reader(lines, delimiter=header.delimiter)
    width = len(header.columns)
    seen: set[str] = set()
    previous_line = 0
    for values in reader:
        line = first_line + previous_line
        previous_line = reader.line_num
        if not any(value.strip() for value in values):
            continue
        raw = dict(zip(header.columns, values, strict=False))
        if len(values) != width:
            yield RowRejected(line, (f"expected {width} fields, found {len(values)}",), raw)
            continue
        try:
            account = parse_account(dict(zip(header.fields, values, strict=True)), lender, key)
        except RowError as exc:
            yield RowRejected(line, tuple(exc.reasons), raw)
            continue
        if account.external_ref in seen:
            yield RowRejected(line, (f"duplicate external_ref {account.external_ref!r} in this file",), raw)
            continue
        seen.add(account.external_ref)
        yield RowAccepted(line, account)


def read_portfolio(lines: Iterable[str], lender: LenderProfile, key: bytes) -> Iterator[RowAccepted | RowRejected]:
    """Stream a whole portfolio: its header, then one result per data row in file order."""
    iterator = iter(lines)
    header = parse_header(next(iterator, ""))
    yield from read_rows(iterator, header, lender, key)
