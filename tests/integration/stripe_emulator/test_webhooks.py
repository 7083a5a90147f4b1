"""Webhooks: every event cleardue consumes arrives signed as Stripe signs it (verified by the receiver
with `stripe.Webhook.construct_event`), failed deliveries are retried with backoff."""

from __future__ import annotations

import json
import socket
import time

import requests

from functions.core.money import Money
from functions.payments.stripe_gateway import PaymentsGateway
from local.stripe_emulator import sign

from .conftest import API_KEY, FAST_RETRIES, WEBHOOK_SECRET, Receiver, pay


def _paid(gateway: PaymentsGateway, key: str = "pay:1") -> str:
    link = gateway.checkout_payment(
        account_id="acct-1", lender_id="acme", amount=Money(12500, "USD"), description="Balance",
        success_url="https://pay.example/ok", cancel_url="https://pay.example/no", idempotency_key=key,
    )  # fmt: skip
    assert pay(link.url, "4242424242424242").status_code == 303
    return link.session_id


def test_a_hosted_payment_delivers_payment_intent_succeeded_and_checkout_session_completed(gateway, receiver) -> None:
    session_id = _paid(gateway)

    [completed] = receiver.wait_for("checkout.session.completed")
    [succeeded] = receiver.wait_for("payment_intent.succeeded")

    session = completed.data.object
    assert (session.id, session.payment_status, session.amount_total) == (session_id, "paid", 12500)
    assert session.metadata.to_dict() == {"account_id": "acct-1", "lender_id": "acme", "purpose": "payment"}
    assert succeeded.data.object.id == session.payment_intent
    assert succeeded.data.object.metadata["account_id"] == "acct-1"
    assert completed.id.startswith("evt_") and completed.livemode is False and completed.api_version


def test_a_decline_delivers_payment_failed_with_its_decline_code(gateway, receiver) -> None:
    link = gateway.checkout_payment(
        account_id="acct-1", lender_id="acme", amount=Money(100, "USD"), description="Balance",
        success_url="https://pay.example/ok", cancel_url="https://pay.example/no", idempotency_key="k",
    )  # fmt: skip
    pay(link.url, "4000000000009995")

    [failed] = receiver.wait_for("payment_intent.payment_failed")

    error = failed.data.object.last_payment_error
    assert (error.type, error.code, error.decline_code) == ("card_error", "card_declined", "insufficient_funds")
    assert failed.data.object.metadata["account_id"] == "acct-1"
    assert receiver.events("checkout.session.completed") == []


def test_setup_then_a_failing_installment(gateway, receiver) -> None:
    link = gateway.checkout_setup(
        account_id="acct-1", lender_id="acme", plan_id="plan-1", success_url="https://pay.example/ok",
        cancel_url="https://pay.example/no", idempotency_key="setup:plan-1",
    )  # fmt: skip
    pay(link.url, "4000000000000341")
    [setup] = receiver.wait_for("setup_intent.succeeded")
    info = gateway.retrieve_checkout_session(link.session_id)

    result = gateway.charge_off_session(
        account_id="acct-1", lender_id="acme", plan_id="plan-1", installment=1, amount=Money(4167, "USD"),
        customer_id=info.customer_id or "", payment_method_id=info.payment_method_id or "", idempotency_key="plan-1:1",
    )  # fmt: skip

    [failed] = receiver.wait_for("payment_intent.payment_failed")
    assert setup.data.object.payment_method == info.payment_method_id
    assert setup.data.object.metadata.to_dict() == {"account_id": "acct-1", "lender_id": "acme", "plan_id": "plan-1"}
    assert failed.data.object.id == result.payment_intent_id
    assert failed.data.object.last_payment_error.decline_code == "generic_decline"
    assert failed.data.object.metadata["installment"] == "1"


def test_a_refund_delivers_charge_refunded(gateway, receiver) -> None:
    intent_id = gateway.retrieve_checkout_session(_paid(gateway)).payment_intent_id or ""

    gateway.refund(payment_intent_id=intent_id, amount=Money(2500, "USD"), idempotency_key="refund:1")

    [refunded] = receiver.wait_for("charge.refunded")
    charge = refunded.data.object
    assert (charge.payment_intent, charge.amount, charge.amount_refunded, charge.refunded) == (
        intent_id, 12500, 2500, False,
    )  # fmt: skip
    assert charge.refunds.data[0].amount == 2500


def test_a_dispute_opened_through_the_control_route_delivers_charge_dispute_created(
    gateway, emulator, receiver
) -> None:
    intent_id = gateway.retrieve_checkout_session(_paid(gateway)).payment_intent_id

    response = requests.post(
        f"{emulator.base_url}/_emulator/disputes", json={"payment_intent": intent_id, "reason": "duplicate"}, timeout=5
    )
    again = requests.post(f"{emulator.base_url}/_emulator/disputes", json={"payment_intent": intent_id}, timeout=5)

    [created] = receiver.wait_for("charge.dispute.created")
    dispute = created.data.object
    assert response.status_code == 200 and response.json()["id"] == dispute.id
    assert (dispute.payment_intent, dispute.amount, dispute.reason, dispute.status) == (
        intent_id, 12500, "duplicate", "needs_response",
    )  # fmt: skip
    assert again.status_code == 400 and "already disputed" in again.json()["error"]["message"]


def test_events_are_listed_newest_first(gateway, client) -> None:
    _paid(gateway)
    events = client.v1.events.list(params={"limit": 3})
    assert [e.type for e in events.data] == [
        "checkout.session.completed",
        "payment_intent.succeeded",
        "charge.succeeded",
    ]
    only = client.v1.events.list(params={"type": "payment_intent.succeeded"})
    assert [e.type for e in only.data] == ["payment_intent.succeeded"]


def test_a_delivery_answered_500_is_retried_until_accepted(gateway, emulator, receiver) -> None:
    receiver.fail_remaining = 2
    link = gateway.checkout_setup(
        account_id="a", lender_id="l", plan_id="p", success_url="https://pay.example/ok",
        cancel_url="https://pay.example/no", idempotency_key="s",
    )  # fmt: skip
    started = time.monotonic()
    pay(link.url, "4242424242424242")  # two events: setup_intent.succeeded, checkout.session.completed

    assert emulator.wait_for_webhooks(timeout=5)
    attempts = requests.get(f"{emulator.base_url}/_emulator/deliveries", timeout=5).json()["data"]
    by_event = {a["event_type"]: [(b["attempt"], b["status"]) for b in attempts if b["event_id"] == a["event_id"]]
                for a in attempts}  # fmt: skip
    assert by_event["setup_intent.succeeded"] == [(1, 500), (2, 200)]
    assert by_event["checkout.session.completed"] == [(1, 500), (2, 200)]
    assert {e.type for e in receiver.accepted} == {"setup_intent.succeeded", "checkout.session.completed"}
    assert len(receiver.accepted) == 2 and receiver.rejected == []
    assert time.monotonic() - started >= FAST_RETRIES[0]


def test_retries_stop_after_the_last_delay(emulator, receiver, gateway) -> None:
    receiver.fail_remaining = 100
    _paid(gateway)

    assert emulator.wait_for_webhooks(timeout=5)
    attempts = [a for a in emulator.deliveries() if a["event_type"] == "checkout.session.completed"]
    assert [a["attempt"] for a in attempts] == list(range(1, len(FAST_RETRIES) + 2))
    assert {a["status"] for a in attempts} == {500} and attempts[-1]["final"] and not attempts[0]["final"]


def test_an_unreachable_endpoint_is_retried_as_a_connection_error(emulator, gateway) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    emulator.set_webhook_url(f"http://127.0.0.1:{closed_port}/hook")
    _paid(gateway)

    assert emulator.wait_for_webhooks(timeout=5)
    attempts = emulator.deliveries()
    assert attempts and all(a["status"] is None and "connection error" in a["error"] for a in attempts)
    assert max(a["attempt"] for a in attempts) == len(FAST_RETRIES) + 1


def test_no_endpoint_means_events_are_only_listed(emulator, gateway, client) -> None:
    emulator.set_webhook_url(None)
    _paid(gateway)
    assert emulator.wait_for_webhooks() and emulator.deliveries() == []
    assert len(client.v1.events.list().data) == 3


def test_the_receiver_rejects_a_stale_timestamp_and_a_tampered_body(emulator, receiver: Receiver) -> None:
    event = {"id": "evt_1", "object": "event", "type": "payment_intent.succeeded", "data": {"object": {}}}
    body = json.dumps(event)
    now = int(time.time())

    fresh = requests.post(
        receiver.url, data=body, headers={"Stripe-Signature": sign(body, WEBHOOK_SECRET, now)}, timeout=5
    )
    stale = requests.post(
        receiver.url, data=body, headers={"Stripe-Signature": sign(body, WEBHOOK_SECRET, now - 301)}, timeout=5
    )
    signed_original = {"Stripe-Signature": sign(body, WEBHOOK_SECRET, now)}
    tampered = requests.post(receiver.url, data=body.replace("evt_1", "evt_2"), headers=signed_original, timeout=5)
    wrong_secret = requests.post(
        receiver.url, data=body, headers={"Stripe-Signature": sign(body, "whsec_other", now)}, timeout=5
    )

    assert fresh.status_code == 200
    assert (stale.status_code, tampered.status_code, wrong_secret.status_code) == (400, 400, 400)
    assert "tolerance" in receiver.rejected[0] and "No signatures found" in receiver.rejected[1]


def test_unauthenticated_api_calls_are_refused(emulator) -> None:
    response = requests.get(f"{emulator.base_url}/v1/events", timeout=5)
    assert response.status_code == 401 and "API key" in response.json()["error"]["message"]
    unknown = requests.get(f"{emulator.base_url}/v1/plans", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=5)
    assert unknown.status_code == 404 and "Unrecognized request URL" in unknown.json()["error"]["message"]
