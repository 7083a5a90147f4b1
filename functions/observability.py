"""The functions' logger, tracer and metrics, created once.

Service name comes from POWERTOOLS_SERVICE_NAME (set per function by infra and the local stack).
Log ids and counts, never names, emails, phones or amounts. Enforced as far as shapes allow: every log
line passes through `MaskingFormatter` (core.redact: email addresses, phone numbers, values under keys
such as `name`, `email`, `phone` are masked), and tests/integration/test_pii_in_logs.py greps a
pipeline run's logs for the sample debtors' PII.

Tracing: Lambda's active tracing (infra) records every invocation and its init without any SDK. The
Powertools Tracer (the X-Ray SDK: a subsegment per handler and per AWS call) imports and patches the SDK
at creation, about 110 ms of every cold start, so it is made only when POWERTOOLS_TRACE_DISABLED is not
true (infra sets it true unless deployed with `-c xraySdk=true`)."""

import logging
import os
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from functions.core.redact import redact

Handler = TypeVar("Handler", bound=Callable[..., Any])

METRICS_NAMESPACE = "cleardue"
TRACE_DISABLED_ENV = "POWERTOOLS_TRACE_DISABLED"


class MaskingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON lines with PII masked: the message, extra keys and exception text alike."""

    def serialize(self, log: Any) -> str:
        return self.json_serializer(redact(log))


logger = Logger(logger_formatter=MaskingFormatter())
# Powertools' event handler logs each route's parsed request at DEBUG, a debtor's dispute statement included
# (found by tests/integration/test_pii_in_logs.py): never emitted, whatever the function's log level.
logging.getLogger("aws_lambda_powertools.event_handler").setLevel(logging.INFO)
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
