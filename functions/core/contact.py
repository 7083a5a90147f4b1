"""How to reach a debtor: email and phone validated with their libraries, and where (which time zones).

`email-validator` checks syntax only (no DNS: ingestion must not depend on the network);
`phonenumbers` normalises to E.164 with the lender's default region and says whether a number is
mobile and which zones its area serves. Time zones are candidates: when the data point to more than
one, contact must be convenient in all of them (Reg F 1006.6(b)(1)(i)).

Portfolios run to a million rows, so the libraries' answers are cached where values repeat (email
domains, phone numbers, zone evidence) and each library call is made once per value.
"""

from __future__ import annotations

import re
import re._parser as sre  # the regex parser, to read the library's metadata patterns (stable since 3.11)
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, ValidatedEmail, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES, DOT_ATOM_TEXT
from email_validator.syntax import validate_email_domain_name, validate_email_length, validate_email_local_part
from phonenumbers import PhoneMetadata, PhoneNumberType
from phonenumbers import timezone as phone_timezone
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE, UNKNOWN_REGION
from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

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


_PLAIN_PHONE = re.compile(r"\+?[0-9 ().-]+")
_NOT_DIGITS = re.compile(r"[^0-9]")
_DIGIT_CLASS = (sre.IN, [(sre.CATEGORY, sre.CATEGORY_DIGIT)])
_TYPE_DESCS = (
    "general_desc", "fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost", "personal_number",
    "voip", "pager", "uan", "voicemail",
)  # fmt: skip
_phone_types: dict[tuple[int, str, int], int | None] = {}  # a PhoneNumberType value (an int)
_PHONE_TYPE_CACHE_LIMIT = 500_000


def normalize_phone(raw: str, default_region: str) -> Phone:
    """Parse a phone number written nationally (with the lender's region) or internationally.

    The answer is `phonenumbers`' (see `_normalize_phone_with_library`). A portfolio's numbers are
    nearly all distinct, so caching by number does not help; what repeats is the part of the number
    the library's metadata looks at. For a plain number (digits and the usual punctuation) whose
    parse involves no prefix stripping, the number type is cached by (country code, the national
    digits the metadata's patterns constrain, length): every pattern of the country's regions ends
    in free digits (`\\d{n}`), so the digits after that prefix cannot change the answer. The time
    zones are looked up as the library does (longest prefix in its table). Anything else, and every
    invalid number (for the library's own error), goes through the library.
    tests/unit/core/test_contact.py checks both paths agree on generated numbers."""
    fast = _plain_number(raw, default_region)
    if fast is not None:
        country_code, national = fast
        kind = _phone_type(country_code, national)
        if kind is not None and kind != PhoneNumberType.UNKNOWN:
            e164 = f"+{country_code}{national}"
            if phonenumbers.is_number_type_geographical(kind, country_code):
                zones = _geographic_zones(e164)
            else:
                zones = _normalize_phone_with_library(raw, default_region).zones
            return Phone(e164=e164, is_mobile=kind in _MOBILE_TYPES, zones=zones)
    return _normalize_phone_with_library(raw, default_region)


def _plain_number(raw: str, default_region: str) -> tuple[int, str] | None:
    """(country code, national number) when the library's parse would be plain digit extraction."""
    text = raw.strip()
    if not _PLAIN_PHONE.fullmatch(text):
        return None
    digits = _NOT_DIGITS.sub("", text)
    if len(digits) < 3:
        return None
    if text.startswith("+"):
        for length in (1, 2, 3):
            if digits[0] != "0" and int(digits[:length]) in COUNTRY_CODE_TO_REGION_CODE:
                country_code, national = int(digits[:length]), digits[length:]
                break
        else:
            return None
        parsing = _parsing_rules(country_code)
        if parsing is None:
            return None
        national_prefix, _, _ = parsing
    else:
        region_code = _region_code(default_region)
        if region_code is None:
            return None
        country_code = region_code
        parsing = _parsing_rules(country_code)
        if parsing is None:
            return None
        national_prefix, international_prefix, _ = parsing
        national = digits
        if national.startswith(str(country_code)) or (international_prefix and international_prefix.match(national)):
            return None
    if len(national) < 2:
        return None  # shorter than any national number ("+220" alone): the library says why
    if national.startswith("0") or (national_prefix and national_prefix.match(national)):
        return None  # leading zeros, national prefixes, carrier codes: the library's rules apply
    return country_code, national


@cache
def _region_code(region: str) -> int | None:
    metadata = PhoneMetadata.metadata_for_region(region.upper())
    return metadata.country_code if metadata else None


@cache
def _parsing_rules(country_code: int) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None, int] | None:
    """The main region's prefix rules and how many trailing digits its type patterns leave free, or None.

    The library finds a number's region by trying the country's regions in order, the main one first;
    a main region without a leading-digits rule claims every number valid for it, so for those numbers
    the type is the main region's answer alone (other numbers of the country take the library's path)."""
    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = PhoneMetadata.metadata_for_region(region) if region != UNKNOWN_REGION else None
    if metadata is None or metadata.national_prefix_transform_rule or metadata.leading_digits:
        return None
    national_prefix = re.compile(metadata.national_prefix_for_parsing) if metadata.national_prefix_for_parsing else None
    international_prefix = re.compile(metadata.international_prefix) if metadata.international_prefix else None
    free = _free_suffix_digits(metadata)
    return (national_prefix, international_prefix, free) if free else None


def _free_suffix_digits(metadata: PhoneMetadata) -> int:
    """The fewest trailing digits any type pattern of the region leaves free (`\\d{n}`); 0 if unproven."""
    free: int | None = None
    for name in _TYPE_DESCS:
        desc = getattr(metadata, name)
        if desc is None or not desc.national_number_pattern:
            continue
        tail = _free_tail(list(sre.parse(desc.national_number_pattern)))
        free = tail if free is None else min(free, tail)
    return free or 0


def _free_tail(items: list[Any]) -> int:
    """Trailing digits a parsed regex sequence leaves free: `...\\d{n}` -> n; 0 if it cannot be proved."""
    if not items:
        return 0
    op, arg = items[-1]
    if op is sre.MAX_REPEAT or op is sre.MIN_REPEAT:
        low, high, body = arg
        return low if low == high and list(body) == [_DIGIT_CLASS] else 0
    if (op, arg) == _DIGIT_CLASS:
        return 1
    if op is sre.SUBPATTERN:
        return _free_tail(list(arg[-1]))
    if op is sre.BRANCH:
        return min(_free_tail(list(alternative)) for alternative in arg[1])
    return 0


def _phone_type(country_code: int, national: str) -> int | None:
    parsing = _parsing_rules(country_code)
    if parsing is None:
        return None
    key = (country_code, national[: max(len(national) - parsing[2], 0)], len(national))
    try:
        return _phone_types[key]
    except KeyError:
        pass
    # None: not the main region's number (or not valid at all): the library's path decides.
    kind = _main_region_type(country_code, national)
    if len(_phone_types) >= _PHONE_TYPE_CACHE_LIMIT:
        _phone_types.clear()
    _phone_types[key] = kind
    return kind


_Desc = tuple[frozenset[int], re.Pattern[str]] | None  # possible lengths (empty: any) and the pattern


@cache
def _type_descs(country_code: int) -> tuple[_Desc, ...]:
    """The main region's number descriptions in `_TYPE_ORDER`, their patterns compiled once."""
    metadata = PhoneMetadata.metadata_for_region(phonenumbers.region_code_for_country_code(country_code))
    descs: list[_Desc] = []
    for name in _TYPE_ORDER:
        desc = getattr(metadata, name, None) if metadata else None
        if desc is None or not desc.national_number_pattern:
            descs.append(None)
        else:
            descs.append((frozenset(desc.possible_length or ()), re.compile(desc.national_number_pattern)))
    return tuple(descs)


_TYPE_ORDER = (
    "general_desc", "premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan",
    "voicemail", "fixed_line", "mobile",
)  # fmt: skip
_TYPES_AFTER_GENERAL = (
    PhoneNumberType.PREMIUM_RATE, PhoneNumberType.TOLL_FREE, PhoneNumberType.SHARED_COST, PhoneNumberType.VOIP,
    PhoneNumberType.PERSONAL_NUMBER, PhoneNumberType.PAGER, PhoneNumberType.UAN, PhoneNumberType.VOICEMAIL,
)  # fmt: skip


def _matches(desc: _Desc, national: str) -> bool:
    if desc is None:
        return False
    lengths, pattern = desc
    return (not lengths or len(national) in lengths) and pattern.fullmatch(national) is not None


def _main_region_type(country_code: int, national: str) -> int | None:
    """phonenumbers' `_number_type_helper` on the country's main region, with patterns compiled once;
    None where the library would answer UNKNOWN (another region of the country may claim the number).

    The main region has no leading-digits rule (`_parsing_rules`), so the library's region lookup
    picks it exactly when this type is not UNKNOWN, and `number_type` then gives this same type."""
    descs = _type_descs(country_code)
    if not _matches(descs[0], national):
        return None
    for desc, kind in zip(descs[1:9], _TYPES_AFTER_GENERAL, strict=True):
        if _matches(desc, national):
            return kind
    metadata = PhoneMetadata.metadata_for_region(phonenumbers.region_code_for_country_code(country_code))
    same_pattern = bool(metadata and metadata.same_mobile_and_fixed_line_pattern)
    if _matches(descs[9], national):
        if same_pattern or _matches(descs[10], national):
            return PhoneNumberType.FIXED_LINE_OR_MOBILE
        return PhoneNumberType.FIXED_LINE
    if not same_pattern and _matches(descs[10], national):
        return PhoneNumberType.MOBILE
    return None


def _geographic_zones(e164: str) -> tuple[str, ...]:
    """`time_zones_for_geographical_number`'s lookup: the longest prefix of the number in its table."""
    for length in range(min(TIMEZONE_LONGEST_PREFIX, len(e164) - 1), 0, -1):
        zones = TIMEZONE_DATA.get(e164[1 : 1 + length])
        if zones is not None:
            return tuple(z for z in zones if z != _UNKNOWN_ZONE)
    return ()


@lru_cache(maxsize=16384)
def _normalize_phone_with_library(raw: str, default_region: str) -> Phone:
    """The library's parse, type and zones for one number (the reference `normalize_phone` agrees with)."""
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
