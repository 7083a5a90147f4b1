"""Given the Stripe key in Secrets Manager and the local Stripe emulator as the API base, when a verified
debtor pays or chooses a plan, then the real payments gateway creates Checkout sessions that carry the
account, the lender, the amount and the return URLs, and a retried request reuses the same session."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters

from functions import names
from functions.payments.stripe_gateway import PaymentsGateway
from functions.portal_api import handler as portal_handler
from functions.store.settings import StoreSettings
from local.stripe_emulator import StripeEmulator

from .conftest import NOW, Client, Portal, lender, placed, token_for

API_KEY = "sk_test_portal_emulator"


@pytest.fixture
def emulator() -> Iterator[StripeEmulator]:
    with StripeEmulator() as running:
        yield running


@pytest.fixture
def stripe_portal(
    portal_aws: StoreSettings, emulator: StripeEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Portal, PaymentsGateway]]:
    secret = {"api_key": API_KEY, "webhook_secret": emulator.webhook_secret}
    client = boto3.client("secretsmanager")
    try:
        client.create_secret(Name="stripe-portal-test", SecretString=json.dumps(secret))
    except client.exceptions.ResourceExistsException:
        client.put_secret_value(SecretId="stripe-portal-test", SecretString=json.dumps(secret))
    monkeypatch.setenv(names.ENV_STRIPE_SECRET, "stripe-portal-test")
    monkeypatch.setenv(names.ENV_STRIPE_API_BASE, emulator.base_url)
    parameters.clear_caches()
    portal_handler.reset()
    lender()
    account = placed(f"S-{id(emulator) % 10**8}")
    portal = Portal(account, token_for(account), Client(NOW), gateway=None)  # type: ignore[arg-type]
    portal.verify()
    yield portal, PaymentsGateway(API_KEY, emulator.base_url)
    portal_handler.reset()
    parameters.clear_caches()


def test_paying_creates_a_checkout_session_on_the_emulator(stripe_portal: tuple[Portal, Any]) -> None:
    portal, stripe = stripe_portal

    reply = portal.client.post("/payments", {"amount_minor": 5_000})
    retried = portal.client.post("/payments", {"amount_minor": 5_000})

    assert reply.status == 200, reply.body
    assert retried.body == reply.body  # the same idempotency key: the same session
    session = stripe.retrieve_checkout_session(reply.body["checkout_session_id"])
    assert (session.mode, session.status, session.payment_status) == ("payment", "open", "unpaid")
    assert session.amount_total is not None and (session.amount_total.minor, session.amount_total.currency) == (
        5_000,
        "USD",
    )
    assert session.metadata["account_id"] == portal.account_id
    assert session.metadata["lender_id"] == "acme"
    assert reply.body["checkout_url"].startswith("http://127.0.0.1:")


def test_a_plan_opens_checkout_in_setup_mode_on_the_emulator(stripe_portal: tuple[Portal, Any]) -> None:
    portal, stripe = stripe_portal

    reply = portal.client.post("/plans", {"installments": 3, "start_date": "2026-03-20"})

    assert reply.status == 200, reply.body
    session = stripe.retrieve_checkout_session(reply.body["checkout_session_id"])
    assert session.mode == "setup"
    assert session.customer_id
    assert session.metadata["plan_id"] == reply.body["plan"]["plan_id"]
    assert session.metadata["account_id"] == portal.account_id
