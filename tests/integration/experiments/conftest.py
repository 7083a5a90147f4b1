"""The experiment counters run on the webhooks tests' moto (every table, the job queues, the secrets)."""

from tests.integration.webhooks.conftest import hooks, webhooks_stack  # noqa: F401
