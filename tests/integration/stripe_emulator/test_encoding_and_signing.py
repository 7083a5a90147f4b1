"""The emulator's building blocks: Stripe's form encoding and its webhook signature scheme."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import stripe

from local.stripe_emulator import sign
from local.stripe_emulator.cards import TEST_CARDS, luhn_ok
from local.stripe_emulator.forms import FormError, decode

FIXTURES = Path("/work/shared/fixtures")
VECTORS = FIXTURES / "events/stripe/signature_vectors.json"


def test_bracketed_keys_nest_and_numbered_keys_become_lists() -> None:
    pairs = [
        ("mode", "payment"),
        ("line_items[0][quantity]", "1"),
        ("line_items[0][price_data][currency]", "usd"),
        ("line_items[1][quantity]", "2"),
        ("metadata[account_id]", "acct-1"),
        ("expand[0]", "setup_intent"),
        ("expand[1]", "customer"),
        ("payment_method_types[]", "card"),
    ]
    assert decode(pairs) == {
        "mode": "payment",
        "line_items": [{"quantity": "1", "price_data": {"currency": "usd"}}, {"quantity": "2"}],
        "metadata": {"account_id": "acct-1"},
        "expand": ["setup_intent", "customer"],
        "payment_method_types": ["card"],
    }


def test_the_sdk_encoding_round_trips() -> None:
    from urllib.parse import parse_qsl

    from stripe._encode import _api_encode  # the SDK's own encoder: what the emulator receives

    params = {"a": {"b": [{"c": "1"}, {"c": "2"}]}, "flag": True, "n": 5}
    encoded = [(k, str(v).lower() if isinstance(v, bool) else str(v)) for k, v in _api_encode(params)]
    assert decode(parse_qsl("&".join(f"{k}={v}" for k, v in encoded))) == {
        "a": {"b": [{"c": "1"}, {"c": "2"}]}, "flag": "true", "n": "5",
    }  # fmt: skip


@pytest.mark.parametrize("key", ["[x]", "a[b", "a]b[", "a[b]c"])
def test_malformed_keys_are_refused(key: str) -> None:
    with pytest.raises(FormError):
        decode([(key, "1")])


@pytest.mark.skipif(not VECTORS.exists(), reason="shared fixtures not present")
def test_signatures_match_the_vectors_computed_with_stripe_python() -> None:
    vectors = json.loads(VECTORS.read_text())["vectors"]
    for vector in vectors:
        payload = vector["payload"]
        if payload is None:
            payload = (FIXTURES / vector["payload_file"]).read_bytes().decode("utf-8")
        header = sign(payload, vector["secret"], vector["timestamp"])
        assert header == f"t={vector['timestamp']},v1={vector['expected_v1_signature']}", vector["name"]
        stripe.WebhookSignature.verify_header(payload, header, vector["secret"])  # no tolerance: no clock involved


def test_every_test_card_passes_luhn() -> None:
    assert all(luhn_ok(number) for number in TEST_CARDS)
    assert not luhn_ok("4242424242424241")
