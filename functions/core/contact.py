"""How to reach a debtor: email and phone validated with their libraries, and where (which time zones).

`email-validator` checks syntax only (no DNS: ingestion must not depend on the network);
`phonenumbers` normalises to E.164 with the lender's default region and says whether a number is
mobile and which zones its area serves. Time zones are candidates: when the data point to more than
one, contact must be convenient in all of them (Reg F 1006.6(b)(1)(i)).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import PhoneNumberType
from phonenumbers import timezone as phone_timezone

from functions.core.clock import ClockError, zone

_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
_UNKNOWN_ZONE = "Etc/Unknown"


class ContactError(ValueError):
    """A contact detail that is not usable as given."""


@dataclass(frozen=True, slots=True)
class Phone:
    e164: str
    is_mobile: bool
    zones: tuple[str, ...]  # the zones the number's area serves; empty if not geographic


def normalize_email(raw: str) -> str:
    """The address in normalised form, or ContactError with the library's reason."""
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ContactError(f"email {raw!r} is not valid: {exc}") from exc


def normalize_phone(raw: str, default_region: str) -> Phone:
    """Parse a phone number written nationally (with the lender's region) or internationally."""
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ContactError(f"phone {raw!r} is not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(number):
        raise ContactError(f"phone {raw!r} is not a valid number for its region")
    zones = tuple(z for z in phone_timezone.time_zones_for_number(number) if z != _UNKNOWN_ZONE)
    return Phone(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        is_mobile=phonenumbers.number_type(number) in _MOBILE_TYPES,
        zones=zones,
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
    so a disagreement between address and phone is never silently resolved."""
    if row_zone:
        try:
            zone(row_zone)
        except ClockError as exc:
            raise ContactError(str(exc)) from exc
    by_phone = phone.zones if phone else ()
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
