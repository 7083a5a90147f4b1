"""End to end: a hosted-checkout payment on the local Stripe emulator -> its signed webhooks over HTTP ->
the local gateway's POST /webhooks/stripe -> the webhooks handler -> the account is paid, a receipt is
queued, and the scheduler sends no further reminder."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from functions.core.account import AccountStatus
from functions.core.money import Money
from functions.payments.stripe_gateway import PaymentsGateway
from functions.scheduler.handler import lambda_handler as scheduler_handler
from functions.store import accounts
from functions.webhooks.handler import stripe_handler
from local.gateway import Gateway
from local.lambda_events import LocalLambdaContext
from local.stripe_emulator import StripeEmulator
from tests.events.factories import make_account, place, scheduled_event
from tests.integration.webhooks.helpers import WEBHOOK_SECRET, drain

ACCOUNT = make_account("E-3003", principal=12_000, interest=850, fees=2_500)
UNPAID = make_account("E-3004")  # the control: an account nobody paid gets its reminder


@pytest.fixture
def stripe_local(hooks: dict[str, Any]) -> Iterator[tuple[StripeEmulator, PaymentsGateway]]:
    with (
        Gateway(webhooks_handler=stripe_handler) as http,
        StripeEmulator(
            webhook_url=f"{http.url}/webhooks/stripe", webhook_secret=WEBHOOK_SECRET, retry_delays=(0.1, 0.3)
        ) as emulator,
    ):
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
    assert [j["template"] for j in drain(hooks["sqs"], hooks["queue_url"])] == ["receipt"]

    # Days later the scheduler runs in the debtors' contact window (11:00 in Chicago): only the control is reminded.
    tick = (datetime.now(UTC) + timedelta(days=3)).replace(hour=17, minute=0, second=0, microsecond=0)
    scheduler_handler(scheduled_event(tick), LocalLambdaContext("cleardue-scheduler"))
    reminded = drain(hooks["sqs"], hooks["queue_url"]) + drain(hooks["sqs"], hooks["sms_queue_url"])
    assert [job["account_id"] for job in reminded] == [UNPAID.account_id]
