"""Given any delivery to POST /webhooks/stripe, when the webhooks function handles it, then a forged,
malformed or nonsensical one is a 4xx (400) and never a 5xx (a 500 asks Stripe to deliver it again for
days). Unsigned bodies and headers of anything at all; genuinely signed bodies that are not Stripe events;
genuinely signed captured events with any part of them replaced by anything. The real handler on moto."""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.payments.stripe_gateway import WebhookSignatureError, verify_webhook
from functions.webhooks.handler import stripe_handler
from local.lambda_events import LocalLambdaContext
from tests.events.factories import make_account, place
from tests.fuzz.budget import fuzz_settings
from tests.integration.webhooks.helpers import WEBHOOK_SECRET, fixture, http_event, signature

pytestmark = pytest.mark.fuzz

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
ACCOUNT = make_account("A-2001")
CAPTURED = (
    "rubymock_payment_intent.succeeded.json",
    "rubymock_checkout.session.completed.payment_mode.json",
    "rubymock_charge.refunded.json",
    "rubymock_payment_intent.payment_failed.json",
    "rubymock_charge.dispute.created.json",
)
_ids = itertools.count(1)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
HEADER = st.one_of(
    st.none(),
    st.text(max_size=120),
    st.builds(lambda t, v: f"t={t},v1={v}", st.integers(-(10**12), 10**12), st.text(max_size=70)),
    st.builds(lambda v: f"t={int(time.time())},v1={v}", st.text(alphabet="0123456789abcdef", max_size=64)),
)


def deliver(body: bytes, header: str | None, base64_encoded: bool = False) -> int:
    event = http_event(body, header, NOW, base64_encoded=base64_encoded)
    return stripe_handler(event, LocalLambdaContext("cleardue-webhooks"))["statusCode"]


def signed(body: bytes) -> str:
    return signature(body)


@pytest.fixture
def account(hooks: dict[str, Any]) -> str:
    place(ACCOUNT, NOW)
    return ACCOUNT.account_id


# --- the parser alone ------------------------------------------------------------------------------------


@fuzz_settings(300)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)), HEADER)
def test_verify_webhook_refuses_any_unsigned_body_with_a_signature_error(body: bytes | str, header: str | None) -> None:
    with pytest.raises(WebhookSignatureError):
        verify_webhook(body, header, WEBHOOK_SECRET)


@fuzz_settings(300)
@given(st.one_of(JSON.map(json.dumps), st.text(max_size=100)).map(str.encode))
def test_verify_webhook_reads_a_signed_body_as_an_object_or_refuses_it(body: bytes) -> None:
    try:
        event = verify_webhook(body, signed(body), WEBHOOK_SECRET)
    except WebhookSignatureError as exc:
        assert "not a Stripe event" in str(exc)
    else:
        assert isinstance(event, dict)


# Found by the fuzzing above: a signed body that is JSON but not an object, or nested past the parser's
# depth, escaped as AttributeError / RecursionError (a 500 for a body only Stripe could have signed).
@pytest.mark.parametrize("body", [b"[1]", b"null", b"1e999", b'"evt"', b"[" * 100_000 + b"]" * 100_000])
def test_a_signed_body_that_is_not_a_json_object_is_refused(body: bytes) -> None:
    with pytest.raises(WebhookSignatureError, match="not a Stripe event"):
        verify_webhook(body, signed(body), WEBHOOK_SECRET)


def test_stripe_signature_bytes_are_checked_before_the_body_is_parsed() -> None:
    hostile = b"[" * 100_000
    with pytest.raises(WebhookSignatureError, match="No signatures found"):
        verify_webhook(hostile, f"t={int(time.time())},v1={hmac.new(b'x', hostile, hashlib.sha256).hexdigest()}", "x")


# --- the handler on moto ---------------------------------------------------------------------------------


@fuzz_settings(120)
@given(st.one_of(st.binary(max_size=200), JSON.map(json.dumps).map(str.encode)), HEADER, st.booleans())
def test_an_unsigned_delivery_is_a_400(account: str, body: bytes, header: str | None, base64_encoded: bool) -> None:
    if not base64_encoded:
        body = body.decode("utf-8", errors="replace").encode("utf-8")  # API Gateway hands text as text
    assert deliver(body, header, base64_encoded) == 400


@fuzz_settings(120)
@given(JSON)
def test_a_signed_body_that_is_not_a_stripe_event_is_a_400(account: str, value: Any) -> None:
    body = json.dumps(value).encode()
    status = deliver(body, signed(body))
    assert status == 400 or (status == 200 and isinstance(value, dict) and value.get("id") and value.get("type"))


@st.composite
def mangled_events(draw: st.DrawFn) -> dict[str, Any]:
    """A captured Stripe event addressed to the account, with some of its parts replaced, added or removed."""
    event = copy.deepcopy(fixture(draw(st.sampled_from(CAPTURED))))
    event["id"] = f"evt_fuzz_{next(_ids)}"
    event["created"] = int(NOW.timestamp())
    obj = event["data"]["object"]
    obj["metadata"] = {"account_id": ACCOUNT.account_id, "lender_id": ACCOUNT.lender_id}
    targets = [(event, "created"), (event, "data"), (event["data"], "object"), (obj, "metadata")]
    targets += [(obj, key) for key in obj] + [(obj["metadata"], "account_id"), (obj["metadata"], "purpose")]
    for container, key in draw(st.lists(st.sampled_from(targets), min_size=1, max_size=4)):
        if not isinstance(container, dict):
            continue
        if draw(st.booleans()):
            container[key] = draw(JSON)
        else:
            container.pop(key, None)
    return event


@fuzz_settings(150)
@given(mangled_events())
def test_a_signed_stripe_event_with_any_part_replaced_is_never_a_5xx(account: str, event: dict[str, Any]) -> None:
    body = json.dumps(event).encode()
    assert deliver(body, signed(body)) in (200, 400)


# Found by the fuzzing above: signed events Stripe would never send, which were 500s (retried for days).


def addressed(name: str, **changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(fixture(name))
    event.update(id=f"evt_found_{next(_ids)}", created=int(NOW.timestamp()))
    event["data"]["object"]["metadata"] = {"account_id": ACCOUNT.account_id, "lender_id": ACCOUNT.lender_id}
    event["data"]["object"].update(changes)
    return event


@pytest.mark.parametrize(
    "change", [{"created": -(10**12)}, {"created": 10**13}, {"created": "1773154800"}, {"data": True}, {"id": 7}]
)
def test_an_event_whose_envelope_is_not_stripes_is_a_400(account: str, change: dict[str, Any]) -> None:
    event = {**addressed("rubymock_payment_intent.succeeded.json"), **change}
    body = json.dumps(event).encode()
    assert deliver(body, signed(body)) == 400


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("rubymock_checkout.session.completed.payment_mode.json", {"currency": None}),  # was KeyError
        ("rubymock_payment_intent.succeeded.json", {"currency": "dollars"}),  # was MoneyError
        ("rubymock_charge.refunded.json", {"created": [1]}),  # was TypeError in int()
        # DynamoDB refused the audit event (a ValidationException: numbers beyond 38 digits or 1e125, a key
        # beyond 1,024 bytes): these were 500s
        ("rubymock_charge.dispute.created.json", {"amount": 10**40}),
        ("rubymock_charge.dispute.created.json", {"amount": str(10**40)}),
        ("rubymock_charge.dispute.created.json", {"reason": 1e308}),
        ("rubymock_charge.dispute.created.json", {"reason": {"nested": -(10**39)}}),
        ("rubymock_charge.dispute.created.json", {"id": "dp_" + "x" * 2_000}),
        ("rubymock_charge.refunded.json", {"amount_refunded": 10**40}),
    ],
)
def test_a_signed_event_with_an_impossible_object_is_acknowledged(account: str, name: str, change: dict) -> None:
    body = json.dumps(addressed(name, **change)).encode()
    assert deliver(body, signed(body)) == 200
