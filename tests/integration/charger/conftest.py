"""The charger on the webhooks' module moto (tables, job queues, the Stripe secret), a charges queue per
test, and the local Stripe emulator whose signed webhooks reach the real webhooks handler over HTTP."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from functions import names
from functions.charger import handler as charger
from local.gateway import Gateway
from local.stripe_emulator import StripeEmulator
from tests.integration.webhooks.conftest import hooks, webhooks_stack  # noqa: F401  (shared fixtures)
from tests.integration.webhooks.helpers import WEBHOOK_SECRET

_numbers = itertools.count(1)


@pytest.fixture
def stripe_local(hooks: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:  # noqa: F811
    from functions.scheduler import handler as scheduler
    from functions.webhooks import handler as webhooks
    from functions.webhooks.handler import stripe_handler

    charges_url = hooks["sqs"].create_queue(QueueName=f"charges-{next(_numbers)}")["QueueUrl"]
    monkeypatch.setenv(names.ENV_CHARGE_QUEUE_URL, charges_url)
    with (
        Gateway(webhooks_handler=stripe_handler) as http,
        StripeEmulator(
            webhook_url=f"{http.url}/webhooks/stripe", webhook_secret=WEBHOOK_SECRET, retry_delays=(0.1, 0.3, 1, 2)
        ) as emulator,
    ):
        monkeypatch.setenv(names.ENV_STRIPE_API_BASE, emulator.base_url)
        for module in (charger, scheduler, webhooks):
            module._runtime.cache_clear()
        yield {**hooks, "emulator": emulator, "charges_url": charges_url}
        charger._runtime.cache_clear()
