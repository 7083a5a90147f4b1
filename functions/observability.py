"""The functions' logger, tracer and metrics, created once.

Service name comes from POWERTOOLS_SERVICE_NAME (set per function by infra and the local stack).
Log ids and counts, never names, emails, phones or amounts.

Tracing: Lambda's active tracing (infra) records every invocation and its init without any SDK. The
Powertools Tracer (the X-Ray SDK: a subsegment per handler and per AWS call) imports and patches the SDK
at creation, about 110 ms of every cold start, so it is made only when POWERTOOLS_TRACE_DISABLED is not
true (infra sets it true unless deployed with `-c xraySdk=true`)."""

import os
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics

Handler = TypeVar("Handler", bound=Callable[..., Any])

METRICS_NAMESPACE = "cleardue"
TRACE_DISABLED_ENV = "POWERTOOLS_TRACE_DISABLED"

logger = Logger()
metrics = Metrics(namespace=METRICS_NAMESPACE)


def xray_sdk_enabled() -> bool:
    """Whether the X-Ray SDK's subsegments are wanted (Powertools' own switch, read the way it reads it)."""
    return os.environ.get(TRACE_DISABLED_ENV, "false").strip().lower() not in ("true", "1")


def lambda_entry(handler: Handler) -> Handler:
    """Every function's outer layer: Lambda context in the logs, metrics flushed, the invocation traced
    (by the X-Ray SDK too when it is enabled)."""
    inner: Callable[..., Any] = handler
    if xray_sdk_enabled():
        from aws_lambda_powertools import Tracer

        inner = Tracer().capture_lambda_handler(handler)
    return logger.inject_lambda_context(metrics.log_metrics(inner))  # type: ignore[return-value]
