"""The lender report renders: opened in headless Chromium, every chart's PNG loads, the key KPI table is there,
and axe-core finds no serious or critical accessibility violation."""

from __future__ import annotations

from pathlib import Path

import pytest

from functions.core import propensity
from functions.reports import service
from tests.integration.reports.portfolio import AS_OF, LENDER, PRIORS, STANDINGS, records

EXPECTED_CHARTS = {
    "recovery", "activity", "funnel", "by_stage", "by_tier", "variants", "experiments", "sendtime", "calibration",
}  # fmt: skip


@pytest.fixture
def page(browser):
    # bypass_csp: axe-core is injected as an inline script.
    context = browser.new_context(viewport={"width": 1024, "height": 900}, bypass_csp=True)
    yield context.new_page()
    context.close()


def test_the_report_opens_in_chromium_with_every_chart_and_the_kpi_table(page, axe_source: str, tmp_path: Path) -> None:
    # Given a lender's report written to a local directory
    report = service.build_report(
        records(), AS_OF, lender_id=LENDER, experiments=STANDINGS, priors=PRIORS, model=propensity.default_model()
    )
    written = service.write_report(report, directory=tmp_path)
    html = next(Path(path) for path in written if path.endswith("report.html"))

    # When it is opened in the browser
    page.goto(html.as_uri())
    page.wait_for_load_state("load")

    # Then every chart is an image that loaded (decoded, with a width) and has alt text
    charts = page.evaluate(
        """() => [...document.querySelectorAll('img.chart')].map(img => ({
            name: img.dataset.chart, loaded: img.complete && img.naturalWidth > 0, alt: img.alt }))"""
    )
    assert {chart["name"] for chart in charts} == EXPECTED_CHARTS
    assert all(chart["loaded"] for chart in charts), charts
    assert all(len(chart["alt"]) > 40 for chart in charts)
    # and the key KPI table is there with the recovery rate and the compliance line
    assert page.locator("html").get_attribute("lang") == "en"
    kpis = page.locator("table#kpis")
    assert kpis.locator("caption").inner_text() == "Key performance indicators, all accounts"
    rows = kpis.locator("tbody tr th").all_inner_texts()
    assert {"Accounts", "Recovery rate", "Cure rate", "Compliance violations (independent check)"} <= set(rows)
    assert page.locator("table#funnel tbody tr").count() == 6
    assert page.locator("table#experiments").is_visible()
    # and what cleardue learned: send-time priors by segment, the model's reliability bins
    assert page.locator("table#sendtime tbody tr").count() == len(PRIORS)
    assert page.locator("table#reliability tbody tr").count() == 10
    # and nothing in it fails an accessibility audit badly
    page.add_script_tag(content=axe_source)
    violations = page.evaluate("async () => (await axe.run()).violations.map(v => [v.id, v.impact])")
    assert [rule for rule, impact in violations if impact in ("serious", "critical")] == []
