"""The pay page's local stack and a headless Chromium.

`pay_stack` runs what a debtor's browser talks to: moto server (tables, bucket, queues, secrets), the
Stripe emulator, and the gateway serving static_portal/ with the real portal API handler behind /api
and the real webhooks function at /webhooks/stripe (where the emulator delivers), on a virtual clock.
`browser` and `axe_source` come from tests/conftest.py (one Chromium for the whole session).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".local" / "artifacts"
NOW = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)  # 10:00 in Chicago, the debtor's zone
BIRTH = "1985-04-12"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@dataclass
class VirtualClock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class PayStack:
    url: str
    clock: VirtualClock
    emulator: Any
    gateway: Any
    env: dict[str, str]
    fact_key: bytes
    link_key: bytes
    webhook_statuses: list[int] = field(default_factory=list)

    def seed(self, ref: str, *, principal: int = 12_000, interest: int = 850, fees: int = 2_500) -> tuple[str, str]:
        """Place an account whose debtor was born on BIRTH; return (account_id, its pay link URL)."""
        from functions.core import links
        from functions.core.verification import fact_hash
        from functions.store import accounts
        from tests.events.factories import make_account, place

        account = make_account(ref, principal=principal, interest=interest, fees=fees)
        account = account.with_changes(
            debtor=replace(account.debtor, postal_code="60601"),
            verification={"date_of_birth": fact_hash(self.fact_key, account.account_id, "date_of_birth", BIRTH)},
        )
        place(account, self.clock.now - timedelta(days=2))
        stored = accounts.get(account.account_id)
        assert stored is not None and stored.link_ref
        token = links.sign(stored.link_ref, self.clock.now - timedelta(days=1), self.link_key)
        return stored.account_id, links.pay_url(self.url, token)


@pytest.fixture(scope="module")
def _pay_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PayStack]:
    from aws_lambda_powertools.utilities import parameters

    from functions.core.lender import LenderProfile
    from functions.portal_api import handler as portal
    from functions.store import lenders
    from functions.webhooks import handler as webhooks
    from local.gateway import Gateway, portal_environment
    from local.stack import LINK_KEY_SECRET, VERIFICATION_KEY_SECRET, running
    from local.stripe_emulator import StripeEmulator

    saved = dict(os.environ)
    os.environ.pop("AWS_ENDPOINT_URL", None)  # always a fresh moto server of our own
    clock = VirtualClock()
    try:
        with running(tmp_path_factory.mktemp("pay-stack")), StripeEmulator() as emulator:
            gateway = Gateway(
                api_handler=portal.handler,
                webhooks_handler=webhooks.stripe_handler,
                clock=clock,
            )
            url = gateway.start()
            emulator.set_webhook_url(f"{url}/webhooks/stripe")
            os.environ.update(portal_environment(url, emulator.base_url, emulator.webhook_secret))
            os.environ.update({"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_NAMESPACE": "cleardue-e2e"})
            env = {key: value for key, value in os.environ.items() if saved.get(key) != value}
            portal.reset()
            webhooks._runtime.cache_clear()
            parameters.clear_caches()
            lenders.put(LenderProfile(lender_id="acme", creditor_name="Acme Lending"))
            secrets = boto3.client("secretsmanager")
            fact_key = secrets.get_secret_value(SecretId=VERIFICATION_KEY_SECRET)["SecretString"].encode()
            link_key = secrets.get_secret_value(SecretId=LINK_KEY_SECRET)["SecretString"].encode()
            try:
                yield PayStack(url, clock, emulator, gateway, env, fact_key, link_key)
            finally:
                gateway.stop()
                portal.reset()
                webhooks._runtime.cache_clear()
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def pay_stack(_pay_stack: PayStack, monkeypatch: pytest.MonkeyPatch) -> PayStack:
    """The module's stack, with its environment back in place (the root conftest clears the endpoint per test)."""
    for key, value in _pay_stack.env.items():
        monkeypatch.setenv(key, value)
    _pay_stack.clock.now = NOW
    return _pay_stack


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A phone-sized tab (320 px wide: WCAG 1.4.10 reflow) that records page errors, CSP violations and 5xx answers."""
    context = browser.new_context(viewport={"width": 320, "height": 720}, locale="en-US")
    tab = context.new_page()
    tab.problems = []  # type: ignore[attr-defined]
    tab.on("pageerror", lambda error: tab.problems.append(f"page error: {error}"))
    tab.on(
        "console",
        lambda message: (
            tab.problems.append(f"console: {message.text}")
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    tab.on(
        "response",
        lambda response: (
            tab.problems.append(f"{response.status} from {response.url}") if response.status >= 500 else None
        ),
    )
    yield tab
    context.close()
