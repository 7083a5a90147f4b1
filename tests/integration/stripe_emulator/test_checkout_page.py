"""The hosted checkout page driven as a browser would (GET the page, POST its form)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import requests

from functions.core.money import Money
from functions.payments.stripe_gateway import CheckoutLink, PaymentsGateway

from .conftest import pay

SUCCESS = "https://pay.example/done?session={CHECKOUT_SESSION_ID}"
CANCEL = "https://pay.example/cancel"


class _Form(HTMLParser):
    """Inputs, labels and alerts of a page: enough to check it is operable and labelled."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: dict[str, dict[str, str | None]] = {}
        self.labels: set[str] = set()
        self.alert_open = False
        self.alerts: list[str] = []
        self.links: list[str] = []
        self.lang: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.lang = values.get("lang")
        if tag == "input":
            self.inputs[str(values["id"])] = values
        if tag == "label":
            self.labels.add(str(values["for"]))
        if tag == "a":
            self.links.append(str(values["href"]))
        if values.get("role") == "alert":
            self.alert_open = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "div":
            self.alert_open = False

    def handle_data(self, data: str) -> None:
        if self.alert_open and data.strip():
            self.alerts.append(data.strip())


def _parse(html: str) -> _Form:
    form = _Form()
    form.feed(html)
    return form


def _payment(gateway: PaymentsGateway, locale: str | None = None) -> CheckoutLink:
    return gateway.checkout_payment(
        account_id="acct-1", lender_id="acme", amount=Money(12550, "USD"), description="Balance on ****1234",
        success_url=SUCCESS, cancel_url=CANCEL, idempotency_key=f"pay:{locale}", locale=locale,
    )  # fmt: skip


def test_the_page_shows_the_amount_in_a_labelled_form_under_a_strict_csp(gateway) -> None:
    link = _payment(gateway)

    response = requests.get(link.url, timeout=5)

    page = _parse(response.text)
    assert response.status_code == 200 and page.lang == "en"
    assert "USD 125.50" in response.text and "Balance on ****1234" in response.text
    assert set(page.inputs) == {"email", "cardnumber", "exp", "cvc", "name"} and page.labels == set(page.inputs)
    assert page.inputs["cardnumber"]["autocomplete"] == "cc-number" and page.alerts == []
    assert CANCEL in page.links
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_4242_pays_and_redirects_to_the_success_url_with_the_session_id(gateway, client) -> None:
    link = _payment(gateway)

    response = pay(link.url, "4242 4242 4242 4242")

    assert response.status_code == 303
    assert response.headers["Location"] == f"https://pay.example/done?session={link.session_id}"
    session = client.v1.checkout.sessions.retrieve(link.session_id)
    assert (session.status, session.payment_status) == ("complete", "paid")
    assert session.customer_details.email == "debtor@example.com"
    assert client.v1.payment_intents.retrieve(session.payment_intent).status == "succeeded"
    # Coming back to the page (or a double submit) leads to the same success URL, nothing is paid twice.
    assert pay(link.url, "4242424242424242").headers["Location"] == response.headers["Location"]
    assert requests.get(link.url, allow_redirects=False, timeout=5).status_code == 303


def test_a_declined_card_shows_stripes_error_and_the_way_back_then_another_card_pays(gateway, client) -> None:
    link = _payment(gateway)

    declined = pay(link.url, "4000 0000 0000 0002")

    page = _parse(declined.text)
    assert declined.status_code == 402
    assert "Your card was declined." in page.alerts and "Try another card, or go back." in page.alerts
    assert page.inputs["cardnumber"]["aria-invalid"] == "true" and "autofocus" in page.inputs["cardnumber"]
    assert page.inputs["cardnumber"]["value"] == "" and page.inputs["name"]["value"] == "Dana Debtor"
    assert CANCEL in page.links
    session = client.v1.checkout.sessions.retrieve(link.session_id)
    failed_intent = client.v1.payment_intents.retrieve(session.payment_intent)
    assert session.status == "open" and failed_intent.last_payment_error.decline_code == "generic_decline"

    assert pay(link.url, "4242424242424242").status_code == 303
    paid = client.v1.checkout.sessions.retrieve(link.session_id)
    assert paid.payment_intent == failed_intent.id
    assert client.v1.payment_intents.retrieve(paid.payment_intent).status == "succeeded"


def test_insufficient_funds_says_so(gateway) -> None:
    response = pay(_payment(gateway).url, "4000000000009995")
    assert response.status_code == 402 and "Your card has insufficient funds." in _parse(response.text).alerts


def test_incomplete_or_wrong_fields_name_the_problem(gateway) -> None:
    url = _payment(gateway).url
    cases = [
        ({"card": "4242 4242"}, "cardnumber", "Your card number is incomplete."),
        ({"card": "4242424242424241"}, "cardnumber", "Your card number is incorrect."),
        ({"card": "4242424242424242", "exp": "1/"}, "exp", "Your card's expiration date is incomplete."),
        ({"card": "4242424242424242", "exp": "13/40"}, "exp", "Your card's expiration date is invalid."),
        ({"card": "4242424242424242", "exp": "01/20"}, "exp", "Your card's expiration year is in the past."),
        ({"card": "4242424242424242", "cvc": "1"}, "cvc", "Your card's security code is incomplete."),
    ]
    for fields, field, message in cases:
        response = pay(url, fields.pop("card"), **fields)
        page = _parse(response.text)
        assert response.status_code in (400, 402), message
        assert message in page.alerts, (message, page.alerts)
        assert page.inputs[field].get("aria-invalid") == "true"


def test_a_non_test_card_is_declined_as_in_test_mode(gateway) -> None:
    response = pay(_payment(gateway).url, "4111 1111 1111 1111")  # Luhn-valid, not one of Stripe's test cards
    assert response.status_code == 402 and any("test mode" in text for text in _parse(response.text).alerts)


def test_the_page_speaks_spanish_for_a_spanish_session(gateway) -> None:
    link = _payment(gateway, locale="es")

    page = requests.get(link.url, timeout=5)
    declined = pay(link.url, "4000000000000002")

    assert '<html lang="es">' in page.text and "Número de tarjeta" in page.text
    assert "Su tarjeta fue rechazada." in _parse(declined.text).alerts


def test_setup_mode_saves_the_card_without_charging(gateway, client) -> None:
    link = gateway.checkout_setup(
        account_id="acct-1", lender_id="acme", plan_id="plan-1", success_url=SUCCESS, cancel_url=CANCEL,
        idempotency_key="setup:plan-1",
    )  # fmt: skip
    page = requests.get(link.url, timeout=5)
    assert (
        "Save card" in page.text and "Nothing is charged now." in page.text and "email" not in _parse(page.text).inputs
    )

    declined = pay(link.url, "4000000000000002")
    saved = pay(link.url, "4000000000000341")

    assert declined.status_code == 402 and "Your card was declined." in _parse(declined.text).alerts
    assert saved.status_code == 303 and saved.headers["Location"].endswith(link.session_id)
    info = gateway.retrieve_checkout_session(link.session_id)
    assert (info.status, info.payment_status, info.payment_intent_id) == ("complete", "no_payment_required", None)


def test_an_unknown_session_page_is_404(emulator) -> None:
    response = requests.get(f"{emulator.base_url}/c/pay/cs_test_unknown", timeout=5)
    assert response.status_code == 404 and re.search("does not exist", response.text)


def test_an_expired_session_cannot_be_paid(gateway, client, receiver) -> None:
    link = _payment(gateway)

    expired = client.v1.checkout.sessions.expire(link.session_id)
    page = requests.get(link.url, timeout=5)
    attempt = pay(link.url, "4242424242424242")

    assert expired.status == "expired"
    assert (
        "This checkout session has expired." in _parse(page.text).alerts
        and "cardnumber" not in _parse(page.text).inputs
    )
    assert attempt.status_code == 410
    assert receiver.wait_for("checkout.session.expired")[0].data.object.id == link.session_id
    assert client.v1.checkout.sessions.retrieve(link.session_id).payment_status == "unpaid"
