"""Fault injection for tests: AWS calls (botocore's event system) and the Stripe emulator fail at a seeded rate.

    injector = FaultInjector(rate=0.2, seed=7)
    injector.install()                      # before any boto3/pynamodb session is created
    with injector.armed():                  # only code run inside this scope sees faults
        handler(event, context)

AWS: a `before-call` handler on every botocore session created after `install()` (boto3's and PynamoDB's)
fails each attempt of a call at `rate` with the error the real service answers: a throttle, a 5xx or a
timeout / connection error. The SDK's own retries are modelled without their back-off sleep: a call makes
`sdk_attempts` attempts (botocore's standard mode: 3) and the error reaches the code only when every attempt
failed (the absorbed ones are counted in `sdk_retries`); `sdk_attempts=1` sends every fault to the code.
The call never reaches moto, so a fault is clean (nothing half-applied). Errors come back through botocore's
own error path (`client.exceptions.X`, `ClientError` with the real code and HTTP status); timeouts are raised
as botocore raises them.

Stripe: `stripe_fault(method, path)` is the emulator's `fault` hook: at the same rate an API request is
answered 429 (rate limited), 500 before it is applied, or 500 *after* it is applied (the response is lost:
the SDK retries with the same Idempotency-Key, which must replay rather than act twice).

Scope: faults hit only while at least one `armed()` scope is open, in any thread (the scheduler queries its
shards from a thread pool, the webhooks function runs in the gateway's thread). The harness's own reads
run outside every scope. Every injected fault is counted by service and operation.
"""

from __future__ import annotations

import contextlib
import math
import random
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.handlers
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

DEFAULT_SERVICES = ("dynamodb", "sesv2", "ses", "sns", "sqs", "stripe")

# What each service answers when it is overloaded or failing: (error code, HTTP status) or a transport error.
TIMEOUT = "ReadTimeout"
CONNECTION = "EndpointConnectionError"
_AWS_FAULTS: dict[str, tuple[tuple[str, int], ...]] = {
    "dynamodb": (
        ("ProvisionedThroughputExceededException", 400),
        ("ThrottlingException", 400),
        ("InternalServerError", 500),
        (TIMEOUT, 0),
    ),
    "sesv2": (("TooManyRequestsException", 429), ("InternalFailure", 500), (TIMEOUT, 0)),
    "ses": (("Throttling", 400), ("ServiceUnavailable", 503), (TIMEOUT, 0)),
    "sns": (("Throttled", 400), ("InternalError", 500), (TIMEOUT, 0)),
    "sqs": (("InternalError", 500), ("ServiceUnavailable", 503), (TIMEOUT, 0), (CONNECTION, 0)),
}
STRIPE_RATE_LIMITED = "rate_limited"  # 429 before the request is applied
STRIPE_SERVER_ERROR = "server_error"  # 500 before the request is applied
STRIPE_LOST_RESPONSE = "lost_response"  # applied, then answered 500 (the SDK retries with the same key)
_STRIPE_FAULTS = (STRIPE_RATE_LIMITED, STRIPE_SERVER_ERROR, STRIPE_LOST_RESPONSE)


@dataclass
class FaultInjector:
    """Seeded faults at `rate` (0..1) per call of each service in `services`; counts what it injected."""

    rate: float = 0.2
    seed: int = 0
    services: tuple[str, ...] = DEFAULT_SERVICES
    # How many attempts the SDK makes before an error reaches the code (botocore's standard retry mode: 3).
    # Each attempt fails at `rate`; the call fails only when every attempt did. 1: every fault reaches the code.
    sdk_attempts: int = 1
    sdk_retries: Counter[str] = field(default_factory=Counter)  # "service": faults the SDK's retries absorbed
    # Virtual time for SQS back-offs: a handler's ChangeMessageVisibility of N s hides the message N/scale s.
    visibility_scale: float = 1.0
    injected: Counter[str] = field(default_factory=Counter)  # "service.Operation:Code" -> faults the code saw
    calls: Counter[str] = field(default_factory=Counter)  # "service" -> calls seen while armed
    _random: random.Random = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _depth: int = field(default=0, init=False)
    _installed: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        if not 0 <= self.rate <= 1:
            raise ValueError(f"the fault rate is a fraction between 0 and 1, not {self.rate}")
        self._random = random.Random(self.seed)

    # -- scope --------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def armed(self) -> Iterator[None]:
        """Faults are injected while this scope (or another one, in any thread) is open."""
        with self._lock:
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1

    @property
    def is_armed(self) -> bool:
        return self._depth > 0

    # -- AWS ----------------------------------------------------------------------------------------
    def install(self) -> None:
        """Register the hook on every botocore session created from now on (boto3's default session is
        dropped so the next client gets it). Clients created before keep working without faults."""
        if self._installed:
            return
        botocore.handlers.BUILTIN_HANDLERS.append(("before-call", self._before_call))
        botocore.handlers.BUILTIN_HANDLERS.append(
            ("before-parameter-build.sqs.ChangeMessageVisibility", self._scale_visibility)
        )
        import boto3

        boto3.DEFAULT_SESSION = None
        self._installed = True

    def uninstall(self) -> None:
        for entry in (
            ("before-call", self._before_call),
            ("before-parameter-build.sqs.ChangeMessageVisibility", self._scale_visibility),
        ):
            if entry in botocore.handlers.BUILTIN_HANDLERS:
                botocore.handlers.BUILTIN_HANDLERS.remove(entry)
        import boto3

        boto3.DEFAULT_SESSION = None
        self._installed = False

    def _scale_visibility(self, params: dict[str, Any], **_: Any) -> None:
        if self.visibility_scale != 1.0 and isinstance(params.get("VisibilityTimeout"), int):
            params["VisibilityTimeout"] = min(43_200, math.ceil(params["VisibilityTimeout"] / self.visibility_scale))

    def _draw(self, service: str, attempts: int = 1) -> bool:
        """Whether this call fails: each of `attempts` attempts fails at `rate`, the call when all of them do."""
        with self._lock:
            if self._depth <= 0 or service not in self.services:
                return False
            self.calls[service] += 1
            for attempt in range(1, attempts + 1):
                if self._random.random() >= self.rate:
                    return False
                if attempt < attempts:
                    self.sdk_retries[service] += 1  # a failed attempt the SDK retried (without its back-off sleep)
            return True

    def _choose(self, options: tuple[Any, ...]) -> Any:
        with self._lock:
            return self._random.choice(options)

    def _before_call(self, model: Any, params: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        service = model.service_model.service_name
        if service not in _AWS_FAULTS or not self._draw(service, self.sdk_attempts):
            return None
        code, status = self._choose(_AWS_FAULTS[service])
        self.injected[f"{service}.{model.name}:{code}"] += 1
        url = str(params.get("url") or f"https://{service}.us-east-1.amazonaws.com/")
        if code == TIMEOUT:
            raise ReadTimeoutError(endpoint_url=url)
        if code == CONNECTION:
            raise EndpointConnectionError(endpoint_url=url)
        parsed = {
            "Error": {"Code": code, "Message": f"injected fault: {code}"},
            "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}, "RetryAttempts": 0},
        }
        return AWSResponse(url, status, {}, None), parsed

    # -- Stripe -------------------------------------------------------------------------------------
    def stripe_fault(self, method: str, path: str) -> str | None:
        """The emulator's `fault` hook: None (answer normally) or one of the STRIPE_* faults."""
        if not self._draw("stripe"):
            return None
        kind = str(self._choose(_STRIPE_FAULTS))
        self.injected[f"stripe.{method} {_route(path)}:{kind}"] += 1
        return kind

    # -- report -------------------------------------------------------------------------------------
    def by_service(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for key, count in self.injected.items():
            totals[key.split(".", 1)[0]] += count
        return dict(sorted(totals.items()))

    @property
    def total(self) -> int:
        return sum(self.injected.values())


def _route(path: str) -> str:
    """/v1/checkout/sessions/cs_test_123 -> /v1/checkout/sessions/{id} (counts group by endpoint)."""
    parts = [part if "_" not in part or part == "payment_intents" else "{id}" for part in path.split("/")]
    return "/".join(parts)
