"""The lender's sender and help addresses are checked by hand (no email_validator import at cold start): on ASCII
addresses the answers must be email_validator's, as pydantic's EmailStr gave them."""

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from functions.core.email_address import EmailAddress, normalize_address
from functions.core.lender import LenderProfile


def library(raw: str) -> str | None:
    """The address as EmailStr normalised it (email_validator, no deliverability check), or None if refused."""
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        return None


def ours(raw: str) -> str | None:
    try:
        return normalize_address(raw)
    except ValueError:
        return None


@pytest.mark.parametrize(
    "raw",
    [
        "reminders@northwind-credit.example.com",
        "help@acme.example",
        "Dana.Reyes+debts@Example.COM",
        "SUPPORT@acme.example.com",  # an RFC 2142 role mailbox: lowercased
        "o'brien@acme.co.uk",
        " padded@acme.com ",
        "a@b.co",
        "x@sub-domain.acme-lending.com",
        "x@1acme.com",
        "x@acme.c0m",  # a top-level domain must end with a letter
        "x@acme.123",
        "x@localhost",
        "x@acme",
        "x@acme.test",
        "x@mail.acme.local",
        "x@acme.invalid",
        "x@onion.onion",
        "x@10.in-addr.arpa",
        "x@-acme.com",
        "x@acme-.com",
        "x@ac--me.com",  # '--' in the third and fourth places
        "x@acme..com",
        "x@.acme.com",
        "x@acme.com.",
        "x@acme_lending.com",
        ".x@acme.com",
        "x.@acme.com",
        "x..y@acme.com",
        "x y@acme.com",
        "@acme.com",
        "x@",
        "x",
        "x@@acme.com",
        "x@y@acme.com",
        '"quoted"@acme.com',
        "x@[192.0.2.1]",
        "x@" + "a" * 63 + ".com",
        "x@" + "a" * 64 + ".com",
        "x@" + ".".join(["a" * 60] * 4) + ".com",  # the domain over 253 characters
        "y" * 240 + "@acme.com",  # over 254 in all
        "y" * 100 + "@acme.com",  # a long local part (the library checks it only in strict mode)
    ],
)
def test_known_addresses_get_the_librarys_answer(raw: str) -> None:
    assert ours(raw) == library(raw)


def test_refusals_that_differ_from_emailstr_on_purpose() -> None:
    # SES takes only ASCII From addresses; EmailStr's pretty form silently dropped the name.
    assert ours("dueño@acme.com") is None and library("dueño@acme.com") is not None
    assert ours("x@bücher.example") is None and library("x@bücher.example") is not None
    assert ours("Acme <billing@acme.com>") is None
    # A Punycode domain is kept as written (the library decodes it to Unicode).
    assert ours("x@xn--bcher-kva.example") == "x@xn--bcher-kva.example"


_ATEXT = "abcXYZ09_!#$%&'*+-/=?^`{|}~"
_PIECES = st.text(alphabet=_ATEXT + ".", min_size=0, max_size=12)
_LABELS = st.text(alphabet="abcZ09-_", min_size=0, max_size=8)
_TLDS = st.sampled_from(["com", "COM", "uk", "test", "local", "arpa", "c0", "9", "", "example", "x-y", "ab--cd"])


@settings(max_examples=400, deadline=None)
@given(local=_PIECES, labels=st.lists(_LABELS, min_size=0, max_size=3), tld=_TLDS)
@example(local="info", labels=["Acme"], tld="com")
@example(local="a", labels=["ab--c"], tld="com")
def test_generated_ascii_addresses_get_the_librarys_answer(local: str, labels: list[str], tld: str) -> None:
    raw = f"{local}@{'.'.join([*labels, tld])}"
    assert ours(raw) == library(raw), raw


class Settings(BaseModel):
    address: EmailAddress


def test_as_a_pydantic_field_it_normalises_refuses_and_documents_itself_as_emailstr_did() -> None:
    assert Settings(address="Postmaster@Acme.COM").address == "postmaster@acme.com"
    with pytest.raises(ValidationError, match="not a host name"):
        Settings(address="billing@acme_lending.com")
    schema = Settings.model_json_schema()["properties"]["address"]
    assert (schema["type"], schema["format"]) == ("string", "email")


def test_a_lenders_sender_and_help_addresses_are_checked() -> None:
    profile = LenderProfile(lender_id="acme", creditor_name="Acme", sender_email="Reminders@ACME.example.com")
    assert profile.sender_email == "Reminders@acme.example.com"
    with pytest.raises(ValidationError):
        LenderProfile(lender_id="acme", creditor_name="Acme", help_email="help@acme.test")
