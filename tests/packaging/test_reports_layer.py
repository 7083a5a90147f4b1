"""The reports function runs with its own layer only (bundling.reports_dependencies: matplotlib, without the
runtime libraries it never imports), laid out as Lambda lays it out, and fits Lambda's 250 MB unzipped limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra import bundling
from tests.packaging.layout import build_layout, run_isolated

LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024

BUILD_A_REPORT = """
from datetime import UTC, date, datetime
from functions.core.account import Account, Balance, Debtor
from functions.core.audit import AuditEvent, EventType
from functions.core.kpis import AccountRecord
from functions.core.money import Money
import functions.reports.handler
from functions.reports import service

account = Account("acme", "A-1", Debtor("", None, None, "America/Chicago"),
                  Balance(Money(10_000, "USD"), Money(0, "USD"), Money(0, "USD")), date(2026, 2, 20))
sent = AuditEvent(account.account_id, datetime(2026, 3, 2, 16, tzinfo=UTC), EventType.REMINDER_SENT, "e1", "t",
                  {"channel": "email", "template": "reminder", "variant": "a", "stage": "early"}, seq=1)
report = service.build_report([AccountRecord(account, [sent], datetime(2026, 3, 2, tzinfo=UTC))],
                              datetime(2026, 3, 5, tzinfo=UTC), lender_id="acme")
page = report.files["report.html"].decode()
assert page.count('<img class="chart"') >= 3, page[:500]
print(sorted(report.files))
"""


def _size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


@pytest.fixture(scope="module")
def reports_layout(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    layout = build_layout(
        tmp_path_factory.mktemp("reports-lambda"),
        bundling.reports_dependencies(),
        "--no-compile",
        "--only-binary=:all:",
    )
    bundling.prune(layout["layer"], bundling.REPORTS_LAYER_PRUNED)
    return layout


def test_the_reports_function_builds_a_report_with_its_own_layer_only(
    reports_layout: dict[str, Path], tmp_path: Path
) -> None:
    env = {
        "MPLCONFIGDIR": str(tmp_path / "matplotlib"),
        "PYTHONDONTWRITEBYTECODE": "1",  # as on Lambda's read-only /opt
    }
    result = run_isolated(reports_layout, BUILD_A_REPORT, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    assert "report.html" in result.stdout


def test_the_reports_layer_and_code_fit_lambdas_unzipped_limit(reports_layout: dict[str, Path]) -> None:
    total = _size(reports_layout["layer"]) + _size(reports_layout["task"])
    print(f"reports layer + code: {total / 1024 / 1024:.0f} MB of 250 MB")
    assert total < LAMBDA_UNZIPPED_LIMIT
