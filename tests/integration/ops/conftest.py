"""The ops API on moto: lenders, placed accounts, and a client that sends real-shaped HTTP API (payload 2.0)
events to the handler, as API Gateway does once its IAM authorizer accepted a SigV4-signed request (the
principal in `requestContext.authorizer.iam`), or without that context (an unsigned call)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from moto import mock_aws

from functions import names
from functions.core.account import Account
from functions.core.lender import LenderProfile, SettlementBounds
from functions.observability import metrics
from functions.ops import handler as ops_handler
from functions.store import accounts, lenders, tables
from functions.store.settings import StoreSettings
from local.lambda_events import ACCOUNT_ID, LocalLambdaContext
from local.portal_gateway import event_from_request, response_parts
from tests.conftest import moto_environment
from tests.events.factories import make_account, place

NOW = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)  # a Monday, 10:00 in Chicago (the debtor's zone)
# Principals by their role (functions.ops.tenancy): the ops team, and two lenders' report readers.
OPERATOR = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/cleardue-ops-operator/ana"
ACME_READER = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/cleardue-lender-acme.reader/acme-portal"
THIRDCO_READER = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/cleardue-lender-thirdco/jobs"
BUCKET = "cleardue-portfolios-test"


def iam_context(user_arn: str) -> dict[str, Any]:
    """`requestContext.authorizer` as an HTTP API route with AWS_IAM authorization passes it (payload 2.0)."""
    return {
        "iam": {
            "accessKey": "AKIAIOSFODNN7EXAMPLE",
            "accountId": ACCOUNT_ID,
            "callerId": "AIDAJQABLZS4A3QDU576Q",
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": user_arn,
            "userId": "AIDAJQABLZS4A3QDU576Q",
        }
    }


@dataclass
class Reply:
    status: int
    body: Any


class Client:
    def __init__(self, now: datetime, principal: str | None = OPERATOR) -> None:
        self.now = now
        self.principal = principal
        self._context = LocalLambdaContext("cleardue-ops")

    def request(
        self, method: str, path: str, body: Any = None, *, query: str = "", headers: dict[str, str] | None = None
    ) -> Reply:
        payload = json.dumps(body) if body is not None and not isinstance(body, str) else body
        sent = {"content-type": "application/json", **(headers or {})}
        event = event_from_request(method, path, now=self.now, body=payload, headers=sent, query=query)
        if self.principal is not None:
            event["requestContext"]["authorizer"] = iam_context(self.principal)
        status, _, data = response_parts(ops_handler.handler(event, self._context))
        return Reply(status, json.loads(data) if data else None)

    def queue(self, lender: str, **kwargs: Any) -> Reply:
        return self.request("GET", "/ops/queue", query=f"lender={lender}", **kwargs)

    def show(self, account_id: str, **kwargs: Any) -> Reply:
        return self.request("GET", f"/ops/accounts/{quote(account_id, safe='')}", **kwargs)

    def act(self, account_id: str, body: Any, **kwargs: Any) -> Reply:
        return self.request("POST", f"/ops/accounts/{quote(account_id, safe='')}/actions", body, **kwargs)


@pytest.fixture(scope="module")
def ops_aws() -> Iterator[StoreSettings]:
    """moto in-process with every table, once per module; each test places its own accounts."""
    settings = StoreSettings(region="us-east-1", due_shards=4)
    with pytest.MonkeyPatch.context() as env:
        for name, value in {**moto_environment(settings), names.ENV_PORTFOLIO_BUCKET: BUCKET}.items():
            env.setenv(name, value)
        env.delenv("AWS_ENDPOINT_URL", raising=False)
        with mock_aws():
            tables.create_all_tables(settings)
            boto3.client("s3").create_bucket(Bucket=BUCKET)
            ops_handler.reset()
            lenders.put(
                LenderProfile(lender_id="acme", creditor_name="Acme Lending", settlement=SettlementBounds(enabled=True))
            )
            lenders.put(
                LenderProfile(
                    lender_id="thirdco",
                    creditor_name="Third Co",
                    regime="third_party",
                    collector_name="Third Co Collections",
                    collector_address="1 Main St, Springfield",
                )
            )
            yield settings
            ops_handler.reset()


_refs = count(1001)


def placed(lender_id: str = "acme", **changes: Any) -> Account:
    """A freshly placed account (its own reference), with the given state saved as the webhooks or portal would."""
    account = make_account(f"A-{next(_refs)}", lender_id=lender_id)
    place(account, NOW - timedelta(days=2))
    stored = accounts.get(account.account_id)
    assert stored is not None
    flags = changes.pop("flags", frozenset())
    if changes:
        assert accounts.save_state(stored, stored.with_changes(**changes), NOW - timedelta(days=1), 4)
    for flag in flags:
        accounts.set_flag(account.account_id, flag, True, NOW - timedelta(days=1))
    fresh = accounts.get(account.account_id)
    assert fresh is not None
    return fresh


@pytest.fixture
def client(ops_aws: StoreSettings) -> Iterator[Client]:
    metrics.clear_metrics()
    yield Client(NOW)
    metrics.clear_metrics()
