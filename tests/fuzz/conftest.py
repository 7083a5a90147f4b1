"""The fuzz tests drive the real handlers on the moto setups their integration tests use."""

from tests.integration.portal_api.conftest import gateway, portal, portal_aws  # noqa: F401
from tests.integration.webhooks.conftest import hooks, webhooks_stack  # noqa: F401
