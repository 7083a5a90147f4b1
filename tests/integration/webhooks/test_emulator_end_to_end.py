"""End to end: a hosted-checkout payment on the local Stripe emulator -> its signed webhooks over HTTP ->
the local gateway's POST /webhooks/stripe -> the webhooks handler -> the account is paid, the email sender
delivers one receipt, and the scheduler sends no further reminder."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import boto3
import pytest
import requests
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from functions import names
from functions.core.account import AccountStatus, Installment, Plan, PlanStatus
from functions.core.clock import at_local_time
from functions.core.money import Money
from functions.payments.stripe_gateway import PaymentsGateway
from functions.scheduler.handler import lambda_handler as scheduler_handler
from functions.sender.handler import email_handler
from functions.store import accounts
from functions.webhooks import handler
from functions.webhooks.handler import stripe_handler
from local.gateway import Gateway
from local.lambda_events import LocalLambdaContext
from local.stripe_emulator import StripeEmulator
from tests.events.factories import make_account, place, scheduled_event, sqs_event
from tests.integration.webhooks.helpers import WEBHOOK_SECRET, body_of, drain, http_event, signature

ACCOUNT = make_account("E-3003", principal=12_000, interest=850, fees=2_500)
UNPAID = make_account("E-3004")  # the control: an account nobody paid gets its reminder


@pytest.fixture
def stripe_local(
    hooks: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[StripeEmulator, PaymentsGateway]]:
    with (
        Gateway(webhooks_handler=stripe_handler) as http,
        StripeEmulator(
            webhook_url=f"{http.url}/webhooks/stripe", webhook_secret=WEBHOOK_SECRET, retry_delays=(0.1, 0.3)
        ) as emulator,
    ):
        monkeypatch.setenv(names.ENV_STRIPE_API_BASE, emulator.base_url)  # the webhooks function reads sessions too
        handler._runtime.cache_clear()
        yield emulator, PaymentsGateway("sk_test_cleardue_local", emulator.base_url)


def test_a_hosted_checkout_payment_pays_the_account_and_stops_reminders(
    hooks: dict[str, Any], stripe_local: tuple[StripeEmulator, PaymentsGateway]
) -> None:
    emulator, gateway = stripe_local
    placed_at = datetime.now(UTC) - timedelta(days=1)
    place(ACCOUNT, placed_at)
    place(UNPAID, placed_at)
    assert accounts.get(ACCOUNT.account_id).next_contact_at is not None

    link = gateway.checkout_payment(
        account_id=ACCOUNT.account_id, lender_id=ACCOUNT.lender_id, amount=Money(15_350, "USD"),
        description="Your balance", success_url="https://pay.example/ok?s={CHECKOUT_SESSION_ID}",
        cancel_url="https://pay.example/no", idempotency_key="pay:e2e:1",
    )  # fmt: skip
    form = {"email": "dana@example.com", "cardnumber": "4242424242424242", "exp": "12/40", "cvc": "123", "name": "D R"}
    assert requests.post(link.url, data=form, allow_redirects=False, timeout=10).status_code == 303
    assert emulator.wait_for_webhooks(timeout=60)

    deliveries = emulator.deliveries()
    assert {d["event_type"] for d in deliveries} >= {"payment_intent.succeeded", "checkout.session.completed"}
    assert all(d["status"] == 200 for d in deliveries if d.get("final", True)), deliveries
    account = accounts.get(ACCOUNT.account_id)
    assert account.status is AccountStatus.PAID and account.balance.total.minor == 0
    assert account.next_contact_at is None
    [receipt] = drain(hooks["sqs"], hooks["queue_url"])
    assert receipt["template"] == "receipt"

    # The email sender delivers that receipt (the account is paid: a receipt is not collection).
    boto3.client("ses").verify_domain_identity(Domain="lender.example.com")
    # The emulator lives on the real clock: deliver the receipt at noon tomorrow in the debtor's zone,
    # inside the contact window whatever time of day the test runs.
    noon = at_local_time(datetime.now(UTC).date() + timedelta(days=1), time(12), ACCOUNT.debtor.timezone)
    sent = email_handler(sqs_event([json.dumps(receipt)], noon), LocalLambdaContext("cleardue-sender"))
    assert sent == {"batchItemFailures": []}
    [message] = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    assert "we received your payment of $153.50" in message.raw_data

    # Days later the scheduler runs in the debtors' contact window (11:00 in Chicago): only the control is reminded.
    tick = (datetime.now(UTC) + timedelta(days=3)).replace(hour=17, minute=0, second=0, microsecond=0)
    scheduler_handler(scheduled_event(tick), LocalLambdaContext("cleardue-scheduler"))
    reminded = drain(hooks["sqs"], hooks["queue_url"]) + drain(hooks["sqs"], hooks["sms_queue_url"])
    assert [job["account_id"] for job in reminded] == [UNPAID.account_id]


def test_a_card_saved_in_setup_mode_makes_the_plan_current(
    hooks: dict[str, Any], stripe_local: tuple[StripeEmulator, PaymentsGateway]
) -> None:
    emulator, gateway = stripe_local
    now = datetime.now(UTC)
    place(ACCOUNT, now)
    before = accounts.get(ACCOUNT.account_id)
    plan = Plan("plan-e2e", now, (Installment(1, now.date() + timedelta(days=7), Money(15_350, "USD")),))
    assert accounts.save_state(before, before.with_changes(plan=plan), now, 4)

    link = gateway.checkout_setup(
        account_id=ACCOUNT.account_id, lender_id=ACCOUNT.lender_id, plan_id="plan-e2e",
        success_url="https://pay.example/ok", cancel_url="https://pay.example/no", idempotency_key="plan:e2e:1",
    )  # fmt: skip
    form = {"email": "dana@example.com", "cardnumber": "4000000000000341", "exp": "12/40", "cvc": "123", "name": "D R"}
    assert requests.post(link.url, data=form, allow_redirects=False, timeout=10).status_code == 303
    assert emulator.wait_for_webhooks(timeout=60)

    assert {d["status"] for d in emulator.deliveries()} == {200}
    saved = accounts.get(ACCOUNT.account_id).plan
    assert saved.status is PlanStatus.CURRENT
    assert saved.customer_id and saved.customer_id.startswith("cus_")
    assert saved.payment_method_id and saved.payment_method_id.startswith("pm_")

    # Had only checkout.session.completed arrived (it names the setup intent, not the card), the function
    # reads the session from Stripe for the card: replay that event alone against a plan still awaiting it.
    current = accounts.get(ACCOUNT.account_id)
    assert accounts.save_state(current, current.with_changes(plan=plan), now, 4)
    listed = requests.get(
        f"{emulator.base_url}/v1/events",
        params={"type": "checkout.session.completed"},
        headers={"Authorization": "Bearer sk_test_cleardue_local"},
        timeout=10,
    ).json()["data"]
    [completed] = listed
    completed["id"] = "evt_replayed_alone"
    body = body_of(completed)
    response = stripe_handler(http_event(body, signature(body), now), LocalLambdaContext("cleardue-webhooks"))
    assert response["statusCode"] == 200
    alone = accounts.get(ACCOUNT.account_id).plan
    assert alone.status is PlanStatus.CURRENT and alone.payment_method_id == saved.payment_method_id
