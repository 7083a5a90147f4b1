"""The portal API on moto: a lender, a placed account with a genuine pay link, a fake payments gateway,
and a client that sends real-shaped HTTP API (payload 2.0) events to the handler."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from itertools import count
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from functions import names
from functions.core import links
from functions.core.account import Account
from functions.core.lender import LenderProfile, SettlementBounds
from functions.core.verification import fact_hash
from functions.observability import metrics
from functions.payments.stripe_gateway import CheckoutLink
from functions.portal_api import handler as portal_handler
from functions.store import accounts, lenders, tables
from functions.store.settings import StoreSettings
from local.lambda_events import LocalLambdaContext
from local.portal_gateway import event_from_request, response_parts
from tests.conftest import FACT_KEY, LINK_KEY, PORTAL_URL, moto_environment
from tests.events.factories import make_account, place

NOW = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)  # 10:00 in Chicago, the debtor's zone
BIRTH = "1985-04-12"
POSTAL = "60601"


@dataclass
class FakeGateway:
    """Records the Checkout sessions asked for; answers as Stripe would (same key, same session)."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    fail: Exception | None = None

    def _link(self, kind: str, kwargs: dict[str, Any]) -> CheckoutLink:
        if self.fail:
            raise self.fail
        self.calls.append({"kind": kind, **kwargs})
        session_id = f"cs_test_{abs(hash(kwargs['idempotency_key'])) % 10**12}"
        return CheckoutLink(session_id=session_id, url=f"https://checkout.stripe.test/c/pay/{session_id}")

    def checkout_payment(self, **kwargs: Any) -> CheckoutLink:
        return self._link("payment", kwargs)

    def checkout_setup(self, **kwargs: Any) -> CheckoutLink:
        return self._link("setup", kwargs)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


class Client:
    """Sends requests to the handler as API Gateway would, at a time the test controls."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.session: str | None = None
        self._context = LocalLambdaContext("cleardue-portal-api")

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: str = "",
        headers: dict[str, str] | None = None,
        raw: str | None = None,
        auth: bool = True,
    ) -> Reply:
        sent = {"content-type": "application/json", "origin": "https://pay.test.cleardue.example", **(headers or {})}
        if auth and self.session:
            sent["authorization"] = f"Bearer {self.session}"
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        event = event_from_request(method, path, now=self.now, body=payload, headers=sent, query=query)
        status, out_headers, data = response_parts(portal_handler.handler(event, self._context))
        return Reply(status, out_headers, json.loads(data) if data else None)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return self.request("POST", path, body, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return self.request("PUT", path, body, **kwargs)


@dataclass
class Portal:
    account: Account
    token: str
    client: Client
    gateway: FakeGateway

    @property
    def account_id(self) -> str:
        return self.account.account_id

    def fresh(self) -> Account:
        account = accounts.get(self.account_id)
        assert account is not None
        return account

    def verify(self) -> Reply:
        reply = self.client.post("/session", {"token": self.token, "date_of_birth": BIRTH})
        assert reply.status == 200, reply.body
        self.client.session = reply.body["session"]
        return reply


def placed(ref: str, *, with_birth: bool = True, postal: str | None = POSTAL, **overrides: Any) -> Account:
    account = make_account(ref, **overrides)
    account = account.with_changes(debtor=replace(account.debtor, postal_code=postal))
    if with_birth:
        account = account.with_changes(
            verification={"date_of_birth": fact_hash(FACT_KEY, account.account_id, "date_of_birth", BIRTH)}
        )
    place(account, NOW - timedelta(days=2))
    stored = accounts.get(account.account_id)
    assert stored is not None and stored.link_ref
    return stored


def token_for(account: Account, now: datetime = NOW, ttl: timedelta = links.DEFAULT_TTL) -> str:
    assert account.link_ref
    return links.sign(account.link_ref, now - timedelta(days=1), LINK_KEY, ttl=ttl)


def lender(**overrides: Any) -> LenderProfile:
    profile = LenderProfile(
        lender_id="acme",
        creditor_name="Acme Lending",
        settlement=SettlementBounds(enabled=True, min_percent=80, offer_days=14),
        **overrides,
    )
    lenders.put(profile)
    return profile


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> FakeGateway:
    fake = FakeGateway()
    monkeypatch.setattr(portal_handler, "gateway", lambda: fake)
    return fake


@pytest.fixture(scope="module")
def portal_aws() -> Iterator[StoreSettings]:
    """moto in-process with every table and the two keys, once per module (table creation is the slow
    part; not "package": without an __init__.py pytest widens that to the session, and this mock_aws
    would then outlive the folder and stop every later test's mock_aws from starting empty); each test
    places its own account, so tests never see each other's state. The shared `aws` fixture is not
    used: it also imports and resets every other function."""
    # Table names other than the models' defaults: proves the portal's second model over the accounts
    # table follows the deployment's binding (tables.configure), as a CDK-named table needs.
    settings = StoreSettings(
        region="us-east-1",
        due_shards=4,
        accounts_table="portal-test-accounts",
        events_table="portal-test-events",
        lenders_table="portal-test-lenders",
    )
    with pytest.MonkeyPatch.context() as env:
        for name, value in {
            **moto_environment(settings),
            names.ENV_PORTAL_URL: PORTAL_URL,
            names.ENV_VERIFICATION_KEY_SECRET: "verification-key",
            names.ENV_LINK_KEY_SECRET: "link-key",
        }.items():
            env.setenv(name, value)
        env.delenv("AWS_ENDPOINT_URL", raising=False)
        with mock_aws():
            tables.create_all_tables(settings)
            secrets = boto3.client("secretsmanager")
            secrets.create_secret(Name="verification-key", SecretString=FACT_KEY.decode())
            secrets.create_secret(Name="link-key", SecretString=LINK_KEY.decode())
            parameters.clear_caches()
            portal_handler.reset()
            yield settings
            portal_handler.reset()
            parameters.clear_caches()


_refs = count(1001)


@pytest.fixture
def portal(portal_aws: StoreSettings, gateway: FakeGateway) -> Iterator[Portal]:
    metrics.clear_metrics()
    lender()
    account = placed(f"A-{next(_refs)}")
    yield Portal(account, token_for(account), Client(NOW), gateway)
    metrics.clear_metrics()


@pytest.fixture
def today() -> date:
    return date(2026, 3, 9)
