"""The functions' logger, tracer and metrics, created once.

Service name comes from POWERTOOLS_SERVICE_NAME (set per function by infra and the local stack).
Log ids and counts, never names, emails, phones or amounts."""

from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer

Handler = TypeVar("Handler", bound=Callable[..., Any])

METRICS_NAMESPACE = "cleardue"

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace=METRICS_NAMESPACE)


def lambda_entry(handler: Handler) -> Handler:
    """Every function's outer layer: Lambda context in the logs, metrics flushed, the invocation traced."""
    return logger.inject_lambda_context(metrics.log_metrics(tracer.capture_lambda_handler(handler)))  # type: ignore[return-value]
