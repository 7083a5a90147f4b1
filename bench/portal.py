"""`python -m bench.portal [--requests N]`: the portal API handler's latency in-process, p50 and p95.

A lender and a placed account on in-process moto (every table, the two keys); the debtor's link is
verified once (POST /session), then GET /account is sent N times as API Gateway would deliver it, each
timed from the event to the response. The handler is warm (one request before timing); DynamoDB is moto
in this process, so its answer time is part of the figure (a real table answers over the network instead).
"""

from __future__ import annotations

import json
import os
import statistics
import time
import warnings
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench import cli

NOW = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)
BIRTH = "1985-04-12"
FACT_KEY = b"bench-fact-key-0123456789abcdef!"
LINK_KEY = b"bench-link-key-0123456789abcdef!"
PORTAL_URL = "https://pay.bench.cleardue.example"


def _environment() -> None:
    from functions import names

    for key in list(os.environ):
        if key.startswith("AWS_"):
            del os.environ[key]
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_NAMESPACE": "cleardue-bench",
            names.ENV_DUE_SHARDS: "4",
            names.ENV_PORTAL_URL: PORTAL_URL,
            names.ENV_VERIFICATION_KEY_SECRET: "verification-key",
            names.ENV_LINK_KEY_SECRET: "link-key",
        }
    )


def measure(requests: int = 500) -> dict[str, Any]:
    """Milliseconds per GET /account with a verified session: p50, p95, mean, and the request count."""
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    _environment()
    import boto3
    from moto import mock_aws

    from functions.core import links
    from functions.core.account import Account, Balance, Debtor
    from functions.core.lender import LenderProfile
    from functions.core.money import Money
    from functions.core.outreach import first_contact_at
    from functions.core.verification import fact_hash
    from functions.portal_api import handler
    from functions.store import accounts, lenders, tables
    from functions.store.settings import StoreSettings
    from local.lambda_events import LocalLambdaContext
    from local.portal_gateway import event_from_request, response_parts

    with mock_aws():
        tables.create_all_tables(StoreSettings(region="us-east-1", due_shards=4))
        secrets = boto3.client("secretsmanager")
        secrets.create_secret(Name="verification-key", SecretString=FACT_KEY.decode())
        secrets.create_secret(Name="link-key", SecretString=LINK_KEY.decode())
        handler.reset()
        lenders.put(LenderProfile(lender_id="bench", creditor_name="Bench Lending"))
        account = Account(
            lender_id="bench",
            external_ref="P-0001",
            debtor=Debtor("Dana Reyes", "dana@example.com", "+13125550147", "America/Chicago", postal_code="60601"),
            balance=Balance(Money(12_000, "USD"), Money(850, "USD"), Money(2_500, "USD")),
            due_date=date(2026, 2, 20),
        )
        account = replace(
            account, verification={"date_of_birth": fact_hash(FACT_KEY, account.account_id, "date_of_birth", BIRTH)}
        )
        placed_at = NOW - timedelta(days=2)
        accounts.put_new([accounts.new_item(account, first_contact_at(account, placed_at), "bench", placed_at, 4)])
        stored = accounts.get(account.account_id)
        assert stored is not None and stored.link_ref
        token = links.sign(stored.link_ref, NOW - timedelta(days=1), LINK_KEY)
        context = LocalLambdaContext("cleardue-portal-api")
        headers = {"content-type": "application/json", "origin": PORTAL_URL}

        def call(method: str, path: str, body: Any = None, session: str | None = None) -> tuple[int, Any]:
            sent = {**headers, **({"authorization": f"Bearer {session}"} if session else {})}
            payload = json.dumps(body) if body is not None else None
            event = event_from_request(method, path, now=NOW, body=payload, headers=sent)
            status, _, data = response_parts(handler.handler(event, context))
            return status, json.loads(data) if data else None

        status, verified = call("POST", "/session", {"token": token, "date_of_birth": BIRTH})
        if status != 200:
            raise SystemExit(f"verification failed: {status} {verified}")
        session = verified["session"]
        status, _ = call("GET", "/account", session=session)  # warm
        assert status == 200
        timings = []
        for _ in range(requests):
            started = time.perf_counter()
            status, _ = call("GET", "/account", session=session)
            timings.append(1000 * (time.perf_counter() - started))
            assert status == 200
        handler.reset()
    ordered = sorted(timings)
    return {
        "requests": requests,
        "route": "GET /account",
        "p50_ms": statistics.median(ordered),
        "p95_ms": ordered[max(0, int(round(0.95 * len(ordered))) - 1)],
        "mean_ms": statistics.fmean(ordered),
    }


def main() -> None:
    args = cli.parser("bench.portal", requests=500).parse_args()
    figures = measure(args.requests)
    cli.write_figures(args.json, figures)
    print(
        f"portal API GET /account in-process (moto): p50 {figures['p50_ms']:.1f} ms, p95 {figures['p95_ms']:.1f} ms "
        f"over {figures['requests']} requests"
    )


if __name__ == "__main__":
    main()
