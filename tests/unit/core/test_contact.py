"""Contact details are validated by their libraries; the cached fast paths must give the libraries' answers."""

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given, settings
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


# --- the phone fast path gives the library's answer -------------------------------------------------

_REGIONS = ("US", "CA", "GB", "DE", "FR", "ES", "MX", "IN", "NP", "JP", "AU", "BR", "IT", "NZ", "PR", "JM")


def _library_answer(raw: str, region: str) -> object:
    from functions.core import contact

    try:
        return contact._normalize_phone_with_library.__wrapped__(raw, region)
    except ContactError as exc:
        return str(exc)


def _our_answer(raw: str, region: str) -> object:
    try:
        return normalize_phone(raw, region)
    except ContactError as exc:
        return str(exc)


@st.composite
def _written_numbers(draw: st.DrawFn) -> tuple[str, str]:
    region = draw(st.sampled_from(_REGIONS))
    kind = draw(st.sampled_from(("example", "random")))
    if kind == "example":
        example_type = draw(st.sampled_from(list(phonenumbers.PhoneNumberType.values())))
        number = phonenumbers.example_number_for_type(draw(st.sampled_from(_REGIONS)), example_type)
        if number is None:
            digits = draw(st.text("0123456789", min_size=3, max_size=14))
        else:
            national = str(number.national_number)
            # Vary the subscriber digits: the fast path caches by the leading ones.
            tail = draw(st.text("0123456789", min_size=0, max_size=min(4, len(national))))
            digits = f"+{number.country_code}{national[: len(national) - len(tail)]}{tail}"
    else:
        digits = draw(st.sampled_from(("", "+", "+1", "+44", "1", "0", "00", "011"))) + draw(
            st.text("0123456789", min_size=3, max_size=13)
        )
    plus, body = ("+", digits[1:]) if digits.startswith("+") else ("", digits)
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=3)))
    parts, last = [], 0
    for cut in cuts:
        parts.append(body[last:cut])
        last = cut
    parts.append(body[last:])
    separator = draw(st.sampled_from((" ", "-", ".", "", " - ")))
    written = plus + separator.join(part for part in parts if part)
    if draw(st.booleans()) and len(written) > 6 and not plus:
        written = f"({written[:3]}) {written[3:]}"
    return written, region


@settings(max_examples=1500, deadline=None)
@given(_written_numbers())
@example(("+220", "US"))  # a country code alone: no national digits at all
@example(("+2207", "GB"))
def test_the_fast_phone_path_agrees_with_phonenumbers(case: tuple[str, str]) -> None:
    raw, region = case
    assert _our_answer(raw, region) == _library_answer(raw, region)


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("(212) 555-0123", "US"),
        ("212-555-0123", "US"),
        ("+1 212 555 0123", "GB"),
        ("1 212 555 0123", "US"),  # national prefix: the library's path
        ("011 44 20 7946 0958", "US"),  # international prefix: the library's path
        ("(416) 555-0199", "US"),  # Canada: not the main region's number
        ("+977 1-4412345", "US"),
        ("+977 980-1234567", "US"),
        ("+52 55 1234 5678", "US"),
        ("+1 800 555 0199", "US"),  # toll-free: not geographic
        ("787-555-0101", "US"),  # Puerto Rico
        ("555-0123", "US"),
    ],
)
def test_known_shapes_agree_with_phonenumbers(raw: str, region: str) -> None:
    assert _our_answer(raw, region) == _library_answer(raw, region)
