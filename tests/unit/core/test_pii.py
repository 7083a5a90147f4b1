"""Field encryption, blind indexes and redaction: the pure parts of PII protection (functions.core)."""

from __future__ import annotations

import pytest

from functions.core import pii
from functions.core.redact import MASK, redact, redact_text

KEY = bytes(range(32))
OTHER = bytes(range(1, 33))


def test_a_sealed_field_opens_only_for_its_account_field_and_key() -> None:
    sealed = pii.seal(KEY, "acme#A-1", "email", "dana@example.com")

    assert pii.is_sealed(sealed) and "dana" not in sealed
    assert pii.open_sealed(KEY, "acme#A-1", "email", sealed) == "dana@example.com"
    elsewhere = (("acme#A-2", "email", KEY), ("acme#A-1", "phone", KEY), ("acme#A-1", "email", OTHER))
    for account_id, field, key in elsewhere:
        with pytest.raises(pii.PiiError):
            pii.open_sealed(key, account_id, field, sealed)


def test_sealing_twice_gives_different_ciphertexts() -> None:
    assert pii.seal(KEY, "a", "name", "Dana") != pii.seal(KEY, "a", "name", "Dana")


def test_an_altered_ciphertext_does_not_open() -> None:
    sealed = pii.seal(KEY, "a", "name", "Dana Reyes")
    altered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]

    with pytest.raises(pii.PiiError):
        pii.open_sealed(KEY, "a", "name", altered)


def test_a_wrapped_data_key_unwraps_only_for_its_account() -> None:
    data_key = pii.new_data_key()
    wrapped = pii.wrap_data_key(KEY, "acme#A-1", data_key)

    assert pii.unwrap_data_key(KEY, "acme#A-1", wrapped) == data_key
    with pytest.raises(pii.PiiError):
        pii.unwrap_data_key(KEY, "acme#A-2", wrapped)


def test_blind_indexes_match_normalised_values_and_depend_on_the_key() -> None:
    assert pii.blind_index(KEY, "email", " Dana@Example.com") == pii.blind_index(KEY, "email", "dana@example.com")
    assert pii.blind_index(KEY, "phone", "+1 312-555-0147") == pii.blind_index(KEY, "phone", "+13125550147")
    assert pii.blind_index(KEY, "phone", "+13125550147") != pii.blind_index(OTHER, "phone", "+13125550147")
    assert "3125550147" not in pii.blind_index(KEY, "phone", "+13125550147")
    assert pii.derive_key(KEY, "blind-index") != pii.derive_key(KEY, "other") != KEY


@pytest.mark.parametrize(
    "text",
    [
        "bounce for dana@example.com",
        "reply from +13125550147",
        "call (312) 555-0147 today",
        "number +1 312 555 0147",
    ],
)
def test_redaction_masks_email_addresses_and_phone_numbers(text: str) -> None:
    masked = redact_text(text)

    assert MASK in masked and "dana@" not in masked and "555" not in masked


def test_redaction_keeps_ids_counts_and_timestamps() -> None:
    text = "account acme#NW-100231 upload u-3f2a 20000 rows at 2026-03-08T14:00:00+00:00 in 1234567 ms"

    assert redact_text(text) == text


def test_redaction_masks_values_under_pii_keys() -> None:
    assert redact({"name": "Dana", "email": None, "nested": [{"phone": "+1"}], "count": 3}) == {
        "name": MASK,
        "email": None,
        "nested": [{"phone": MASK}],
        "count": 3,
    }
