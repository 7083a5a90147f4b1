"""The payments gateway against the emulator over real HTTP: every operation and its errors."""

from __future__ import annotations

import socket

import pytest
import stripe

from functions.core.money import Money
from functions.payments.stripe_gateway import PaymentsError, PaymentsGateway
from local.stripe_emulator import StripeEmulator

from .conftest import pay

USD_125 = Money(12500, "USD")


def _checkout(gateway: PaymentsGateway, key: str = "pay:acct-1:1", amount: Money = USD_125, **overrides: str):
    params = {
        "success_url": "https://pay.example/done?session={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://pay.example/cancel",
        **overrides,
    }
    return gateway.checkout_payment(
        account_id="acct-1",
        lender_id="acme",
        amount=amount,
        description="Balance on account ****1234",
        idempotency_key=key,
        **params,
    )


def _saved_card(gateway: PaymentsGateway, card: str, plan: str = "plan-1") -> tuple[str, str]:
    link = gateway.checkout_setup(
        account_id="acct-1",
        lender_id="acme",
        plan_id=plan,
        success_url="https://pay.example/plan/done?session={CHECKOUT_SESSION_ID}",
        cancel_url="https://pay.example/plan/cancel",
        idempotency_key=f"setup:{plan}",
        customer_email="debtor@example.com",
    )
    assert pay(link.url, card).status_code == 303
    info = gateway.retrieve_checkout_session(link.session_id)
    assert info.customer_id and info.payment_method_id
    return info.customer_id, info.payment_method_id


def test_checkout_payment_creates_a_payment_session_with_the_account_in_metadata(gateway, client) -> None:
    link = _checkout(gateway, customer_email="debtor@example.com", locale="es")

    session = client.v1.checkout.sessions.retrieve(link.session_id)
    assert link.session_id.startswith("cs_test_") and link.url == session.url
    assert (session.mode, session.status, session.payment_status) == ("payment", "open", "unpaid")
    assert (session.amount_total, session.currency, session.locale) == (12500, "usd", "es")
    assert session.metadata.to_dict() == {"account_id": "acct-1", "lender_id": "acme", "purpose": "payment"}
    assert session.customer_email == "debtor@example.com"


def test_a_paid_session_reports_its_payment_intent_whose_metadata_names_the_account(gateway, client) -> None:
    link = _checkout(gateway, amount=Money(5000, "JPY"))
    assert pay(link.url, "4242 4242 4242 4242").status_code == 303

    info = gateway.retrieve_checkout_session(link.session_id)
    assert (info.status, info.payment_status, info.amount_total) == ("complete", "paid", Money(5000, "JPY"))
    intent = client.v1.payment_intents.retrieve(info.payment_intent_id or "")
    assert (intent.status, intent.amount_received, intent.currency) == ("succeeded", 5000, "jpy")
    assert intent.metadata.to_dict() == {"account_id": "acct-1", "lender_id": "acme", "purpose": "payment"}


def test_checkout_setup_creates_a_customer_and_saves_the_card_for_the_plan(gateway, client) -> None:
    customer_id, payment_method_id = _saved_card(gateway, "4242424242424242")

    customer = client.v1.customers.retrieve(customer_id)
    assert customer.email == "debtor@example.com"
    assert customer.metadata.to_dict() == {"account_id": "acct-1", "lender_id": "acme"}
    assert payment_method_id.startswith("pm_")


def test_setup_session_metadata_and_setup_intent(gateway, client) -> None:
    link = gateway.checkout_setup(
        account_id="acct-9", lender_id="acme", plan_id="plan-9", success_url="https://pay.example/ok",
        cancel_url="https://pay.example/no", idempotency_key="setup:plan-9",
    )  # fmt: skip
    info = gateway.retrieve_checkout_session(link.session_id)
    assert (info.mode, info.status, info.payment_method_id) == ("setup", "open", None)
    assert info.metadata["plan_id"] == "plan-9" and info.setup_intent_id and info.setup_intent_id.startswith("seti_")
    session = client.v1.checkout.sessions.retrieve(link.session_id, params={"expand": ["setup_intent"]})
    assert session.setup_intent.metadata.to_dict() == {"account_id": "acct-9", "lender_id": "acme", "plan_id": "plan-9"}


def test_off_session_charge_of_a_saved_card_succeeds(gateway, client) -> None:
    customer_id, payment_method_id = _saved_card(gateway, "4242424242424242")

    result = gateway.charge_off_session(
        account_id="acct-1", lender_id="acme", plan_id="plan-1", installment=2, amount=Money(4167, "USD"),
        customer_id=customer_id, payment_method_id=payment_method_id, idempotency_key="plan-1:2",
    )  # fmt: skip

    assert result.succeeded and result.decline_code is None
    intent = client.v1.payment_intents.retrieve(result.payment_intent_id or "")
    assert (intent.amount, intent.customer, intent.payment_method) == (4167, customer_id, payment_method_id)
    assert intent.metadata.to_dict() == {
        "account_id": "acct-1", "lender_id": "acme", "plan_id": "plan-1", "installment": "2", "purpose": "installment",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("card", "decline_code"), [("4000000000000341", "generic_decline"), ("4000000000009995", "insufficient_funds")]
)
def test_a_declined_off_session_charge_is_a_result_with_its_decline_code(gateway, client, card, decline_code) -> None:
    customer_id, payment_method_id = _saved_card(gateway, card)

    result = gateway.charge_off_session(
        account_id="acct-1", lender_id="acme", plan_id="plan-1", installment=1, amount=Money(4167, "USD"),
        customer_id=customer_id, payment_method_id=payment_method_id, idempotency_key="plan-1:1",
    )  # fmt: skip

    assert not result.succeeded
    assert (result.status, result.decline_code) == ("requires_payment_method", decline_code)
    assert result.message
    intent = client.v1.payment_intents.retrieve(result.payment_intent_id or "")
    assert intent.last_payment_error.decline_code == decline_code


def test_charging_another_customers_card_is_an_error(gateway) -> None:
    _, payment_method_id = _saved_card(gateway, "4242424242424242", plan="plan-a")
    other_customer, _ = _saved_card(gateway, "4242424242424242", plan="plan-b")

    with pytest.raises(PaymentsError) as caught:
        gateway.charge_off_session(
            account_id="acct-1", lender_id="acme", plan_id="plan-b", installment=1, amount=Money(100, "USD"),
            customer_id=other_customer, payment_method_id=payment_method_id, idempotency_key="plan-b:1",
        )  # fmt: skip
    assert (caught.value.code, caught.value.retryable) == ("payment_method_invalid_parameter", False)


def test_refund_in_part_then_the_rest_then_nothing_is_left(gateway, client) -> None:
    link = _checkout(gateway)
    pay(link.url, "4242424242424242")
    intent_id = gateway.retrieve_checkout_session(link.session_id).payment_intent_id or ""

    first = gateway.refund(payment_intent_id=intent_id, amount=Money(2500, "USD"), idempotency_key="refund:1")
    with pytest.raises(PaymentsError) as too_much:
        gateway.refund(payment_intent_id=intent_id, amount=Money(10001, "USD"), idempotency_key="refund:2")
    rest = gateway.refund(payment_intent_id=intent_id, amount=None, idempotency_key="refund:3")
    with pytest.raises(PaymentsError) as nothing_left:
        gateway.refund(payment_intent_id=intent_id, amount=None, idempotency_key="refund:4")

    assert first.startswith("re_") and rest.startswith("re_") and first != rest
    assert too_much.value.code == "amount_too_large" and "10000" in too_much.value.message
    assert nothing_left.value.code == "charge_already_refunded"


def test_refund_of_an_unpaid_intent_is_refused(gateway) -> None:
    customer_id, payment_method_id = _saved_card(gateway, "4000000000000341")
    failed = gateway.charge_off_session(
        account_id="acct-1", lender_id="acme", plan_id="plan-1", installment=1, amount=Money(100, "USD"),
        customer_id=customer_id, payment_method_id=payment_method_id, idempotency_key="plan-1:1",
    )  # fmt: skip
    with pytest.raises(PaymentsError) as caught:
        gateway.refund(payment_intent_id=failed.payment_intent_id or "", amount=None, idempotency_key="refund:x")
    assert caught.value.code == "charge_not_refundable"


def test_unknown_objects_and_bad_parameters_become_payments_errors(gateway) -> None:
    with pytest.raises(PaymentsError) as missing:
        gateway.retrieve_checkout_session("cs_test_nope")
    with pytest.raises(PaymentsError) as bad_url:
        _checkout(gateway, key="k-bad-url", success_url="pay.example/done")
    with pytest.raises(PaymentsError) as bad_refund:
        gateway.refund(payment_intent_id="pi_nope", amount=None, idempotency_key="r")

    assert (missing.value.code, missing.value.retryable) == ("resource_missing", False)
    assert (bad_url.value.code, bad_url.value.retryable) == ("url_invalid", False)
    assert bad_refund.value.code == "resource_missing" and "pi_nope" in bad_refund.value.message


def test_a_live_or_missing_key_is_an_authentication_error(emulator: StripeEmulator) -> None:
    with pytest.raises(PaymentsError) as caught:
        _checkout(PaymentsGateway("sk_live_not_here", emulator.base_url))
    assert caught.value.retryable is False and "test-mode" in caught.value.message
    with pytest.raises(ValueError):
        PaymentsGateway("", emulator.base_url)


def test_stripe_unreachable_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    gateway = PaymentsGateway("sk_test_x", f"http://127.0.0.1:{closed_port}", max_network_retries=0)

    with pytest.raises(PaymentsError) as caught:
        _checkout(gateway)
    assert (caught.value.code, caught.value.retryable) == ("api_connection_error", True)


def test_from_secret_reads_the_api_key(emulator: StripeEmulator) -> None:
    gateway = PaymentsGateway.from_secret(
        {"api_key": "sk_test_from_secret", "webhook_secret": "whsec_x"}, emulator.base_url
    )
    assert _checkout(gateway).session_id.startswith("cs_test_")
    with pytest.raises(ValueError, match="api_key"):
        PaymentsGateway.from_secret({"webhook_secret": "whsec_x"}, emulator.base_url)


def test_amounts_must_be_positive(gateway) -> None:
    with pytest.raises(ValueError):
        _checkout(gateway, amount=Money(0, "USD"))
    with pytest.raises(ValueError):
        gateway.refund(payment_intent_id="pi_x", amount=Money(-1, "USD"), idempotency_key="r")


def test_confirming_without_card_only_or_return_url_is_refused_as_stripe_does(gateway, client) -> None:
    customer_id, payment_method_id = _saved_card(gateway, "4242424242424242")
    params = {"amount": 100, "currency": "usd", "customer": customer_id, "payment_method": payment_method_id,
              "confirm": True, "off_session": True}  # fmt: skip

    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.payment_intents.create(params=params)  # type: ignore[arg-type]
    allowed = client.v1.payment_intents.create(
        params={**params, "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"}}  # type: ignore[typeddict-item]
    )

    assert "return_url" in str(caught.value) and allowed.status == "succeeded"
