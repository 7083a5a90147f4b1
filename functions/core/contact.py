"""How to reach a debtor: email and phone validated with their libraries, and where (which time zones).

`email-validator` checks syntax only (no DNS: ingestion must not depend on the network);
`phonenumbers` normalises to E.164 with the lender's default region and says whether a number is
mobile and which zones its area serves. Time zones are candidates: when the data point to more than
one, contact must be convenient in all of them (Reg F 1006.6(b)(1)(i)).

Portfolios run to a million rows, so the libraries' answers are cached where values repeat (email
domains, phone numbers, zone evidence) and each library call is made once per value.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

import phonenumbers
from email_validator import EmailNotValidError, ValidatedEmail, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES, DOT_ATOM_TEXT
from email_validator.syntax import validate_email_domain_name, validate_email_length, validate_email_local_part
from phonenumbers import PhoneNumberType
from phonenumbers import timezone as phone_timezone

from functions.core.clock import ClockError, zone

_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
_UNKNOWN_ZONE = "Etc/Unknown"
# A number served from more zones than this says nothing about where its holder is (NANP toll-free: 42 zones).
_MOST_ZONES_A_PHONE_LOCATES = 3
_CASE_INSENSITIVE_MAILBOXES = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)


class ContactError(ValueError):
    """A contact detail that is not usable as given."""


@dataclass(frozen=True, slots=True)
class Phone:
    e164: str
    is_mobile: bool
    zones: tuple[str, ...]  # the zones the number's area serves; empty if not geographic


def normalize_email(raw: str) -> str:
    """The address in normalised form (as `validate_email(...).normalized`), or ContactError with the library's reason.

    Nearly every address is `dot-atom@ascii-domain`. For those, the library's own steps run here with the
    domain's validation cached (it is most of the cost, and a portfolio has few distinct domains); anything
    else (quoted or non-ASCII local parts, display names, domain literals) goes through `validate_email`
    whole. tests/unit/core/test_contact.py checks both paths give the library's answer."""
    try:
        local, at, domain = raw.partition("@")
        if at and domain and domain.isascii() and domain[0] != "[" and DOT_ATOM_TEXT.match(local):
            return _normalize_plain_email(raw, local, domain)
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ContactError(f"email {raw!r} is not valid: {exc}") from exc


def _normalize_plain_email(raw: str, local: str, domain: str) -> str:
    # The steps of email_validator.validate_email (2.x) for an unquoted ASCII dot-atom local part and
    # an ASCII domain name, with the library's default options: the split at the only unquoted "@" is
    # the plain one, and Unicode normalisation of an ASCII local part changes nothing.
    local_part = validate_email_local_part(local, allow_smtputf8=True, allow_empty_local=False)["local_part"]
    if local_part.lower() in _CASE_INSENSITIVE_MAILBOXES:
        local_part = local_part.lower()
    normalized_domain, ascii_domain = _email_domain(domain)
    address = ValidatedEmail()
    address.original = raw
    address.local_part = address.ascii_local_part = local_part
    address.domain, address.ascii_domain = normalized_domain, ascii_domain
    address.normalized = f"{local_part}@{normalized_domain}"
    validate_email_length(address)
    return address.normalized


@lru_cache(maxsize=4096)
def _email_domain(domain: str) -> tuple[str, str]:
    checked = validate_email_domain_name(domain, test_environment=False, globally_deliverable=True)
    return checked["domain"], checked["ascii_domain"]


@lru_cache(maxsize=16384)
def normalize_phone(raw: str, default_region: str) -> Phone:
    """Parse a phone number written nationally (with the lender's region) or internationally."""
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ContactError(f"phone {raw!r} is not a phone number: {exc}") from exc
    # number_type is UNKNOWN exactly when is_valid_number is False; asking once saves two pattern passes.
    kind = phonenumbers.number_type(number)
    if kind == PhoneNumberType.UNKNOWN:
        raise ContactError(f"phone {raw!r} is not a valid number for its region")
    if phonenumbers.is_number_type_geographical(kind, number.country_code or 0):  # parse always sets it
        zones = phone_timezone.time_zones_for_geographical_number(number)
    else:
        zones = phone_timezone.time_zones_for_number(number)
    return Phone(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        is_mobile=kind in _MOBILE_TYPES,
        zones=tuple(z for z in zones if z != _UNKNOWN_ZONE),
    )


@cache
def _zone_tab() -> dict[str, tuple[str, ...]]:
    """ISO 3166 country code -> IANA zones, from the tz database's zone.tab (the tzdata package)."""
    table: dict[str, list[str]] = {}
    text = resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line and not line.startswith("#"):
            country, _, name = line.split("\t")[:3]
            table.setdefault(country, []).append(name)
    return {country: tuple(names) for country, names in table.items()}


def is_country(code: str) -> bool:
    return code in _zone_tab()


def country_zones(country: str) -> tuple[str, ...]:
    return _zone_tab().get(country.upper(), ())


def candidate_timezones(
    row_zone: str | None, phone: Phone | None, country: str | None, lender_zone: str
) -> tuple[str, ...]:
    """The debtor's plausible zones, the primary one first.

    The row's zone if given, else the phone's, else the country's, else the lender's default. Other
    evidence is kept as further candidates when it is specific (a number's area, a one-zone country),
    so a disagreement between address and phone is never silently resolved. A number whose area spans
    more than three zones (toll-free, some non-geographic mobiles) is no evidence at all."""
    by_phone = phone.zones if phone and len(phone.zones) <= _MOST_ZONES_A_PHONE_LOCATES else ()
    return _candidate_timezones(row_zone, by_phone, country, lender_zone)


@lru_cache(maxsize=4096)
def _candidate_timezones(
    row_zone: str | None, by_phone: tuple[str, ...], country: str | None, lender_zone: str
) -> tuple[str, ...]:
    if row_zone:
        try:
            zone(row_zone)
        except ClockError as exc:
            raise ContactError(str(exc)) from exc
    by_country = country_zones(country) if country else ()
    if row_zone:
        primary: tuple[str, ...] = (row_zone,)
    elif len(by_phone) == 1 or (by_phone and not by_country):
        primary = by_phone
    elif by_country:
        # Several zones in the country: the lender's default if it is one of them (documented rule).
        primary = (lender_zone,) if lender_zone in by_country and len(by_country) > 1 else by_country[:1]
    else:
        primary = (lender_zone,)
    extra = [z for z in (*by_phone[:3], *(by_country if len(by_country) == 1 else ())) if z not in primary]
    return tuple(dict.fromkeys((*primary, *extra)))
