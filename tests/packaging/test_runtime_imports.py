"""Every handler imports with only the runtime dependencies, laid out as Lambda lays them out.

The dependencies from pyproject's [project].dependencies go to the layer (tests/packaging/layout.py)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from infra.constructs import functions as infra_functions
from tests.packaging.layout import ROOT, build_layout, run_isolated

# Every entry point the CDK app deploys, as it names them.
HANDLERS = sorted(
    value
    for name, value in vars(infra_functions).items()
    if name.endswith("_HANDLER") and isinstance(value, str) and value.startswith("functions.")
)


@pytest.fixture(scope="module")
def lambda_layout(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return build_layout(tmp_path_factory.mktemp("lambda"), dependencies)


def test_the_cdk_app_deploys_every_function() -> None:
    modules = {handler.rsplit(".", 2)[0] for handler in HANDLERS}
    expected = {"ingest", "scheduler", "sender", "portal_api", "webhooks"}
    assert modules >= {f"functions.{name}" for name in expected}


@pytest.mark.parametrize("handler", HANDLERS)
def test_handler_imports_with_runtime_dependencies_only(lambda_layout: dict[str, Path], handler: str) -> None:
    module, attribute = handler.rsplit(".", 1)
    result = run_isolated(lambda_layout, f"import {module}; print(callable({module}.{attribute}))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_dev_dependencies_are_really_out_of_reach(lambda_layout: dict[str, Path]) -> None:
    result = run_isolated(lambda_layout, "import moto")
    assert result.returncode != 0 and "No module named 'moto'" in result.stderr


@pytest.mark.parametrize(("disabled", "loaded"), [("true", False), ("false", True)])
def test_the_xray_sdk_is_loaded_only_when_tracing_by_sdk_is_on(
    lambda_layout: dict[str, Path], disabled: str, loaded: bool
) -> None:
    """infra sets POWERTOOLS_TRACE_DISABLED=true unless deployed with -c xraySdk=true: the SDK's import and
    patching (~110 ms of a cold start) is paid only when its subsegments are wanted."""
    code = (
        f"import os; os.environ['POWERTOOLS_TRACE_DISABLED'] = {disabled!r}; import sys; "
        "import functions.scheduler.handler as h; "
        "print(callable(h.lambda_handler), 'aws_xray_sdk' in sys.modules)"
    )
    result = run_isolated(lambda_layout, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", str(loaded)]
