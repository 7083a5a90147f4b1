"""The simulation's call: `functions.reports.write_report(records, as_of, directory)` writes each lender's report
under directory/<lender>/<date>/."""

from __future__ import annotations

from pathlib import Path

from functions import reports
from tests.integration.reports.portfolio import AS_OF, REPORT_DAY, records


def test_the_simulation_writes_each_lenders_report_to_a_directory(tmp_path: Path) -> None:
    written = reports.write_report(records("acme", 3) + records("beta", 2), AS_OF, tmp_path)

    for lender in ("acme", "beta"):
        folder = tmp_path / lender / REPORT_DAY
        assert str(folder / "report.html") in written
        assert (folder / "kpis.csv").read_text().splitlines()[1] == f"all,,accounts,,{3 if lender == 'acme' else 2}"
