"""What a handler's import does not load: each is tens of milliseconds of every cold start (python -m bench.imports).

- Powertools' parser (pydantic models of AWS events, ~30 ms): only the handlers that parse their event with it as
  STYLE.md asks (the SQS consumers' typed `body: Json[Job]` records, the scheduled functions' EventBridgeModel); the
  HTTP and webhook functions do not load it.
- email_validator: only ingest, which checks debtors' addresses with it (functions.core.contact); the lender's own
  addresses use functions.core.email_address.
- the Stripe SDK: only when Stripe is reached (functions.payments.stripe_gateway, imported by the code that calls it).
- Powertools' OpenAPI models: only for the portal API's GET /openapi.json (validating requests does not need them).
- PyYAML: only for a lender's policy file (ingest's rare path beside portfolios and their chunks).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PARSER = "aws_lambda_powertools.utilities.parser"
WATCHED = (
    PARSER,
    "email_validator",
    "stripe",
    "aws_lambda_powertools.event_handler.openapi.models",
    "yaml",
)
# The handler modules, and which of the watched packages each may load at import.
ALLOWED = {
    "functions.ingest.handler": {"email_validator", PARSER},
    "functions.scheduler.handler": {PARSER},
    "functions.sender.handler": {PARSER},
    "functions.charger.handler": {PARSER},
    "functions.portal_api.handler": set(),
    "functions.webhooks.handler": set(),
    "functions.ops.handler": set(),
    "functions.reports.handler": {PARSER},
}


def loaded_at_import(module: str) -> set[str]:
    """The watched packages in sys.modules after importing `module` in a fresh interpreter."""
    code = (
        f"import json, sys; import {module}; "
        f"print(json.dumps([name for name in {list(WATCHED)!r} if name in sys.modules]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PATH": "", "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("module", sorted(ALLOWED))
def test_a_handlers_import_loads_no_more_than_it_needs(module: str) -> None:
    assert loaded_at_import(module) <= ALLOWED[module]
