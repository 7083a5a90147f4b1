"""The simulation's call: `functions.reports.write_report(records, as_of, directory)` writes each lender's report
under directory/<lender>/<date>/."""

from __future__ import annotations

from pathlib import Path

import pytest

from functions import reports
from functions.core import propensity
from tests.integration.reports.portfolio import AS_OF, PRIORS, REPORT_DAY, records


def test_the_simulation_writes_each_lenders_report_to_a_directory(tmp_path: Path) -> None:
    written = reports.write_report(records("acme", 3) + records("beta", 2), AS_OF, tmp_path)

    for lender in ("acme", "beta"):
        folder = tmp_path / lender / REPORT_DAY
        assert str(folder / "report.html") in written
        assert (folder / "kpis.csv").read_text().splitlines()[1] == f"all,,accounts,,{3 if lender == 'acme' else 2}"


def test_the_simulation_passes_the_priors_and_the_model_it_used(tmp_path: Path) -> None:
    model = propensity.default_model()

    reports.write_report(records("acme", 3), AS_OF, tmp_path, lender_id="acme", priors=PRIORS, model=model)

    folder = tmp_path / "acme" / REPORT_DAY
    assert len((folder / "sendtime.csv").read_text().splitlines()) == 1 + sum(len(h) for h in PRIORS.values())
    assert f"version,,{model.version}" in (folder / "model.csv").read_text().splitlines()
    page = (folder / "report.html").read_text()
    assert 'data-chart="sendtime"' in page and 'data-chart="calibration"' in page


def test_priors_belong_to_one_lender(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="lender_id"):
        reports.write_report(records("acme", 1) + records("beta", 1), AS_OF, tmp_path, priors=PRIORS)
