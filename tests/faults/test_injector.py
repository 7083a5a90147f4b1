"""The fault injector itself: faults only inside an armed scope, errors shaped as botocore raises them, counted."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import BotoCoreError, ClientError
from moto import mock_aws

from local.faults import STRIPE_LOST_RESPONSE, STRIPE_RATE_LIMITED, STRIPE_SERVER_ERROR, FaultInjector


@pytest.fixture
def injector() -> FaultInjector:
    injector = FaultInjector(rate=1.0, seed=1, services=("dynamodb", "stripe"))
    injector.install()
    yield injector
    injector.uninstall()


@mock_aws
def test_calls_fail_only_inside_an_armed_scope_with_the_services_own_errors(injector: FaultInjector) -> None:
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    assert dynamodb.list_tables()["TableNames"] == []  # not armed: untouched

    with injector.armed():
        for _ in range(20):
            with pytest.raises((ClientError, BotoCoreError)) as failed:
                dynamodb.list_tables()
            if isinstance(failed.value, ClientError):
                code = failed.value.response["Error"]["Code"]
                assert code in ("ProvisionedThroughputExceededException", "ThrottlingException", "InternalServerError")
                assert isinstance(failed.value, dynamodb.exceptions.from_code(code))  # the modelled class
        assert boto3.client("sqs", region_name="us-east-1").list_queues() is not None  # a service not chosen

    assert injector.by_service() == {"dynamodb": 20}
    assert dynamodb.list_tables()["TableNames"] == []


@mock_aws
def test_the_sdks_retries_absorb_a_fault_unless_every_attempt_fails() -> None:
    injector = FaultInjector(rate=0.5, seed=3, services=("sqs",), sdk_attempts=3)
    injector.install()
    try:
        sqs = boto3.client("sqs", region_name="us-east-1")
        failures = 0
        with injector.armed():
            for _ in range(400):
                try:
                    sqs.list_queues()
                except (ClientError, BotoCoreError):
                    failures += 1
    finally:
        injector.uninstall()
    assert failures == injector.total
    assert 20 < failures < 80  # about 400 x 0.5^3 = 50
    assert injector.sdk_retries["sqs"] > failures


def test_stripe_faults_are_drawn_only_when_armed(injector: FaultInjector) -> None:
    assert injector.stripe_fault("POST", "/v1/checkout/sessions") is None
    with injector.armed():
        kinds = {injector.stripe_fault("POST", "/v1/checkout/sessions") for _ in range(30)}
    assert kinds == {STRIPE_RATE_LIMITED, STRIPE_SERVER_ERROR, STRIPE_LOST_RESPONSE}
    assert injector.by_service() == {"stripe": 30}


def test_a_rate_outside_0_to_1_is_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        FaultInjector(rate=20)
