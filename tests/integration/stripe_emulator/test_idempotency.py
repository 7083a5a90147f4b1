"""Idempotency-Key as Stripe implements it: a replay returns the first result, a reuse with other
parameters is refused, a request that failed validation stores nothing."""

from __future__ import annotations

import pytest
import requests

from functions.core.money import Money
from functions.payments.stripe_gateway import PaymentsError, PaymentsGateway
from local.stripe_emulator import StripeEmulator

from .conftest import API_KEY, pay


def _pay_link(gateway: PaymentsGateway, minor: int, key: str) -> str:
    return gateway.checkout_payment(
        account_id="acct-1", lender_id="acme", amount=Money(minor, "USD"), description="Balance",
        success_url="https://pay.example/ok", cancel_url="https://pay.example/no", idempotency_key=key,
    ).session_id  # fmt: skip


def _post(emulator: StripeEmulator, path: str, data: dict[str, str], key: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {API_KEY}", "Idempotency-Key": key}
    return requests.post(f"{emulator.base_url}{path}", data=data, headers=headers, timeout=5)


def test_the_same_key_and_parameters_replay_the_first_session(gateway, emulator) -> None:
    first = _pay_link(gateway, 12500, "pay:acct-1:v1")
    again = _pay_link(gateway, 12500, "pay:acct-1:v1")
    other = _pay_link(gateway, 12500, "pay:acct-1:v2")

    assert first == again != other
    assert len(emulator.state.sessions) == 2


def test_a_replayed_response_is_marked_and_identical(emulator) -> None:
    data = {"email": "a@example.com", "metadata[account_id]": "acct-1"}
    first = _post(emulator, "/v1/customers", data, "cus-key")
    second = _post(emulator, "/v1/customers", data, "cus-key")

    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert second.headers.get("Idempotent-Replayed") == "true" and "Idempotent-Replayed" not in first.headers


def test_the_same_key_with_other_parameters_is_an_idempotency_error(gateway) -> None:
    _pay_link(gateway, 12500, "pay:acct-1:v1")

    with pytest.raises(PaymentsError) as caught:
        _pay_link(gateway, 9900, "pay:acct-1:v1")

    assert (caught.value.code, caught.value.retryable) == ("idempotency_error", False)
    assert "pay:acct-1:v1" in caught.value.message


def test_a_key_reused_on_another_endpoint_is_refused(emulator) -> None:
    assert _post(emulator, "/v1/customers", {"email": "a@example.com"}, "shared").status_code == 200
    response = _post(emulator, "/v1/payment_intents", {"amount": "100", "currency": "usd"}, "shared")
    assert response.status_code == 400 and response.json()["error"]["type"] == "idempotency_error"


def test_a_validation_failure_is_not_stored(emulator) -> None:
    bad = _post(emulator, "/v1/payment_intents", {"currency": "usd"}, "pi-key")
    good = _post(emulator, "/v1/payment_intents", {"amount": "100", "currency": "usd"}, "pi-key")

    assert bad.status_code == 400
    assert bad.json()["error"] == {
        "type": "invalid_request_error", "code": "parameter_missing", "param": "amount",
        "message": "Missing required param: amount.", "doc_url": "https://stripe.com/docs/error-codes/parameter-missing",
    }  # fmt: skip
    assert good.status_code == 200 and good.json()["status"] == "requires_payment_method"


def test_a_declined_off_session_charge_replays_the_same_decline_without_charging_again(
    gateway, emulator, receiver
) -> None:
    link = gateway.checkout_setup(
        account_id="acct-1", lender_id="acme", plan_id="plan-1", success_url="https://pay.example/ok",
        cancel_url="https://pay.example/no", idempotency_key="setup:plan-1",
    )  # fmt: skip
    pay(link.url, "4000 0000 0000 0341")
    info = gateway.retrieve_checkout_session(link.session_id)
    charge = {
        "account_id": "acct-1", "lender_id": "acme", "plan_id": "plan-1", "installment": 1,
        "amount": Money(4167, "USD"), "customer_id": info.customer_id or "",
        "payment_method_id": info.payment_method_id or "", "idempotency_key": "plan-1:1",
    }  # fmt: skip

    first = gateway.charge_off_session(**charge)  # type: ignore[arg-type]
    replay = gateway.charge_off_session(**charge)  # type: ignore[arg-type]

    assert first == replay and first.decline_code == "generic_decline"
    assert emulator.wait_for_webhooks()
    assert len(receiver.events("payment_intent.payment_failed")) == 1


def test_concurrent_requests_with_one_key_create_one_session(gateway, emulator) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        same = list(pool.map(lambda _: _pay_link(gateway, 12500, "pay:race"), range(16)))
        distinct = list(pool.map(lambda i: _pay_link(gateway, 12500, f"pay:{i}"), range(16)))

    assert len(set(same)) == 1 and len(set(distinct)) == 16
    assert len(emulator.state.sessions) == 17
