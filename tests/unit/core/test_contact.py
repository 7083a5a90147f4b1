"""Contact details are validated by their libraries; the cached fast paths must give the libraries' answers."""

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import timezone as phone_timezone

from functions.core.contact import (
    ContactError,
    Phone,
    candidate_timezones,
    country_zones,
    is_country,
    normalize_email,
    normalize_phone,
)


def library_email(raw: str) -> str:
    """What email-validator itself says: the normalised address, or its reason."""
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        return f"invalid: {exc}"


def our_email(raw: str) -> str:
    try:
        return normalize_email(raw)
    except ContactError as exc:
        return f"invalid: {str(exc).split(' is not valid: ', 1)[1]}"


@pytest.mark.parametrize(
    "raw",
    [
        "dana.reyes@example.com",
        "Dana.Reyes+debts@Example.COM",
        "Postmaster@example.com",  # RFC 2142 mailbox names are case-insensitive: lower-cased
        "o'brien@mail.co.uk",
        "user@xn--bcher-kva.de",  # IDNA ASCII domain: normalised to Unicode
        "user@bücher.de",
        "josé@example.es",  # non-ASCII local part: the library's whole path
        '"quoted"@example.com',
        "Dana <dana@example.com>",
        "user@[192.0.2.1]",
        "a..b@example.com",
        ".a@example.com",
        "a@example",
        "a@localhost",
        "a@site.invalid",
        "a@b@example.com",
        "a@",
        "@example.com",
        "no-at-sign",
        "a@-example.com",
        "a@example..com",
        f"{'a' * 64}@example.com",
        f"{'a' * 65}@example.com",
        f"a@{'b' * 63}.{'c' * 63}.{'d' * 63}.{'e' * 57}.com",  # over 254 characters in all
    ],
)
def test_email_normalisation_is_the_librarys(raw: str) -> None:
    assert our_email(raw) == library_email(raw)


_EMAIL_TEXT = st.text(alphabet=st.sampled_from("aZ9._+-'@\"<> é[]xn-.\u0301"), max_size=30)
_EMAIL_LIKE = st.builds(
    lambda local, domain: f"{local}@{domain}",
    st.from_regex(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{0,70}", fullmatch=True),
    st.from_regex(
        r"[A-Za-z0-9.-]{0,70}(\.(com|org|co\.uk|local|invalid|arpa|onion|xn--p1ai|[a-z]{2,6}))?", fullmatch=True
    ),
)


@settings(max_examples=300, deadline=None, database=None)
@given(st.one_of(_EMAIL_TEXT, _EMAIL_LIKE))
def test_any_text_gets_the_librarys_answer(raw: str) -> None:
    assert our_email(raw) == library_email(raw)


@pytest.mark.parametrize(
    ("raw", "region", "e164", "mobile"),
    [
        ("(312) 555-0147", "US", "+13125550147", True),  # NANP numbers do not say whether they are mobile
        ("+34 612 345 678", "US", "+34612345678", True),
        ("612 345 678", "ES", "+34612345678", True),
        ("91 123 45 67", "ES", "+34911234567", False),
        ("090-1234-5678", "JP", "+819012345678", True),
        ("020 7946 0018", "GB", "+442079460018", False),
    ],
)
def test_phones_are_normalised_to_e164_with_the_default_region(raw: str, region: str, e164: str, mobile: bool) -> None:
    phone = normalize_phone(raw, region)
    assert (phone.e164, phone.is_mobile) == (e164, mobile)


@pytest.mark.parametrize("raw", ["12345", "+1 000 000 0000", "call me", "555-0100", "+999 123"])
def test_invalid_phones_are_refused_every_time(raw: str) -> None:
    for _ in range(2):  # failures are not cached into successes
        with pytest.raises(ContactError, match="phone"):
            normalize_phone(raw, "US")


def test_phone_zones_come_from_the_numbers_area() -> None:
    assert normalize_phone("+1 212 555 0142", "US").zones == ("America/New_York",)
    assert normalize_phone("+1 800 555 0199", "US").zones  # toll free: the country's zones, not none


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.sampled_from(["US", "ES", "GB", "JP", "DE", "IN", "CA", "BR", "AU"]),
    st.from_regex(r"\+?[0-9]{4,14}", fullmatch=True),
)
def test_phone_validity_type_and_zones_are_the_librarys(region: str, raw: str) -> None:
    try:
        number = phonenumbers.parse(raw, region)
        valid = phonenumbers.is_valid_number(number)
    except phonenumbers.NumberParseException:
        valid = False
    if not valid:
        with pytest.raises(ContactError):
            normalize_phone(raw, region)
        return
    zones = tuple(z for z in phone_timezone.time_zones_for_number(number) if z != "Etc/Unknown")
    mobile = phonenumbers.number_type(number) in {
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    }
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    assert normalize_phone(raw, region) == Phone(e164=e164, is_mobile=mobile, zones=zones)


def test_countries_and_their_zones_come_from_the_tz_database() -> None:
    assert is_country("ES") and not is_country("XX") and not is_country("USA")
    assert country_zones("fr") == ("Europe/Paris",)
    assert "America/Los_Angeles" in country_zones("US")


def test_a_row_zone_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ContactError, match="Mars/Olympus"):
        candidate_timezones("Mars/Olympus", None, None, "America/New_York")


def test_a_country_with_many_zones_prefers_the_lenders_when_it_is_one_of_them() -> None:
    assert candidate_timezones(None, None, "US", "America/Denver") == ("America/Denver",)
    assert candidate_timezones(None, None, "US", "Europe/Madrid") == (country_zones("US")[0],)


def test_a_number_spanning_many_zones_is_no_evidence_of_where_the_debtor_is() -> None:
    toll_free = normalize_phone("+1 800 555 0199", "US")
    assert len(toll_free.zones) > 3
    assert candidate_timezones(None, toll_free, None, "America/Denver") == ("America/Denver",)
    assert candidate_timezones(None, toll_free, "FR", "America/Denver") == ("Europe/Paris",)
