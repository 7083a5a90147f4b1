"""The functions' logger, tracer and metrics, created once.

Service name comes from POWERTOOLS_SERVICE_NAME (set per function by infra and the local stack).
Log ids and counts, never names, emails, phones or amounts."""

from aws_lambda_powertools import Logger, Metrics, Tracer

METRICS_NAMESPACE = "cleardue"

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace=METRICS_NAMESPACE)
