"""verify_webhook: Stripe's signature check on the raw body, as the webhooks function will call it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from functions.payments.stripe_gateway import WebhookSignatureError, verify_webhook
from local.stripe_emulator import sign

SECRET = "whsec_unit"
BODY = json.dumps(
    {"id": "evt_1", "object": "event", "type": "payment_intent.succeeded",
     "data": {"object": {"id": "pi_1", "object": "payment_intent", "metadata": {"account_id": "acct-1"}}}},
    indent=2,
)  # fmt: skip


def test_a_fresh_signature_yields_the_event_as_a_plain_dict() -> None:
    event = verify_webhook(BODY, sign(BODY, SECRET, int(time.time())), SECRET)
    assert event["type"] == "payment_intent.succeeded"
    assert event["data"]["object"]["metadata"] == {"account_id": "acct-1"} and type(event) is dict


# Headers are signed when the test runs, not when it is collected: a suite longer than Stripe's 300 s
# tolerance would otherwise see every "fresh" signature as stale.
@pytest.mark.parametrize(
    ("body", "header", "reason"),
    [
        (BODY, lambda now: sign(BODY, SECRET, now - 301), "tolerance"),
        (BODY.replace("acct-1", "acct-2"), lambda now: sign(BODY, SECRET, now), "No signatures found"),
        (BODY, lambda now: sign(BODY, "whsec_other", now), "No signatures found"),
        (BODY, lambda now: None, "No Stripe-Signature header"),
        (BODY, lambda now: "garbage", "Unable to extract timestamp"),
        ("not json", lambda now: sign("not json", SECRET, now), "not a Stripe event"),
    ],
    ids=["stale", "body-changed", "other-secret", "no-header", "garbage-header", "not-json"],
)
def test_bad_stale_or_missing_signatures_are_refused(
    body: str, header: Callable[[int], str | None], reason: str
) -> None:
    with pytest.raises(WebhookSignatureError, match=reason):
        verify_webhook(body, header(int(time.time())), SECRET)
