"""Given the portal API's own OpenAPI document, when schemathesis throws generated requests (valid and
not) at every operation, then no answer is a 5xx. In-process: a WSGI adapter turns each request into an
HTTP API v2 event for the real handler on moto; signed-in operations carry a genuine session so the
fuzzing reaches the rules, not just the session check. Bounded: 25 examples per operation."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from functions.portal_api import handler as portal_handler
from local.portal_gateway import wsgi_app

from .conftest import NOW, Portal

EXAMPLES = 25


@pytest.fixture
def fuzz_portal(portal: Portal) -> Portal:
    portal.verify()
    return portal


def fuzz(operation: Any, session: str, failures: list[str], statuses: Counter[int]) -> None:
    """Up to EXAMPLES generated requests (valid and invalid) to one operation; 5xx answers are collected."""
    signed_in = bool(operation.definition.raw.get("security"))

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def exercise(case: Any) -> None:
        headers = {"Origin": "https://pay.test.cleardue.example"}
        if signed_in:
            headers["Authorization"] = f"Bearer {session}"
        response = case.call(headers=headers)
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.path} {case.query} {case.body!r} -> {response.status_code}")

    exercise()


def test_no_request_makes_the_api_fail(fuzz_portal: Portal) -> None:
    clock = iter(NOW + timedelta(milliseconds=10 * tick) for tick in range(10**9))  # the session stays valid
    schema = schemathesis.openapi.from_wsgi("/openapi.json", wsgi_app(portal_handler.handler, lambda: next(clock)))
    operations = [result.ok() for result in schema.get_all_operations()]
    failures: list[str] = []
    statuses: Counter[int] = Counter()

    for operation in operations:
        assert fuzz_portal.client.session
        fuzz(operation, fuzz_portal.client.session, failures, statuses)

    print("portal API fuzzing: answers by status", dict(sorted(statuses.items())))
    assert len(operations) == 10
    assert failures == []
    assert statuses[200] > 20 and sum(count for status, count in statuses.items() if 400 <= status < 500) > 20
