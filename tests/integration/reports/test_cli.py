"""`cleardue report`: the lender's report from the stack's tables, to the bucket (as the daily run writes it) or
to a local directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from functions import names
from functions.core import propensity
from functions.store.settings import StoreSettings
from local import cli, report_cli
from tests.conftest import BUCKET
from tests.events.factories import make_account, place
from tests.integration.reports.portfolio import PLACED


def run(argv: list[str], s3: Any = None) -> tuple[int, list[str]]:
    lines: list[str] = []
    code = report_cli.report_command(cli.build_parser().parse_args(["report", *argv]), lines.append, s3)
    return code, lines


def stack_options(settings: StoreSettings) -> list[str]:
    return [
        "--bucket", BUCKET, "--accounts-table", settings.accounts_table, "--events-table", settings.events_table,
        "--lenders-table", settings.lenders_table, "--experiments-table", settings.experiments_table,
    ]  # fmt: skip


def test_the_report_of_a_day_goes_to_the_stacks_bucket(aws: dict[str, Any]) -> None:
    place(make_account("C-1", lender_id="acme"), PLACED)

    code, lines = run(["--lender", "acme", "--date", "2026-03-05", *stack_options(aws["settings"])], aws["s3"])

    assert code == 0, lines
    assert f"s3://{BUCKET}/reports/acme/2026-03-05/report.html" in lines
    assert lines[-1].startswith("acme as of 2026-03-05T23:59:59+00:00: 1 account(s)")
    body = aws["s3"].get_object(Bucket=BUCKET, Key="reports/acme/2026-03-05/kpis.csv")["Body"].read()
    assert b"all,,accounts,,1" in body


def test_the_report_can_be_written_to_a_local_directory(aws: dict[str, Any], tmp_path: Path) -> None:
    place(make_account("C-1", lender_id="acme"), PLACED)

    code, lines = run(
        ["--lender", "acme", "--date", "2026-03-05", "--out", str(tmp_path), *stack_options(aws["settings"])]
    )

    assert code == 0, lines
    folder = tmp_path / "acme" / "2026-03-05"
    assert (folder / "report.html").read_bytes().startswith(b"<!doctype html>")
    assert {p.name for p in folder.iterdir()} >= {"report.html", "kpis.csv", "daily.csv", "funnel.csv"}
    assert "Contents" not in aws["s3"].list_objects_v2(Bucket=BUCKET, Prefix="reports/")


def test_a_lender_without_accounts_or_a_stack_is_an_error(aws: dict[str, Any], tmp_path: Path) -> None:
    assert run(["--lender", "nobody", *stack_options(aws["settings"])])[0] == 1
    assert run(["--lender", "acme", "--state-dir", str(tmp_path)])[0] == 2  # no outputs.json: no local stack
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["report", "--lender", "acme", "--date", "5 March"])


def test_the_report_shows_the_model_published_in_the_stacks_bucket(aws: dict[str, Any], tmp_path: Path) -> None:
    place(make_account("C-1", lender_id="acme"), PLACED)
    published = {**propensity.default_model().to_json(), "version": "p-published0002"}
    aws["s3"].put_object(Bucket=BUCKET, Key=names.PROPENSITY_MODEL_KEY, Body=json.dumps(published).encode())

    code, lines = run(
        ["--lender", "acme", "--date", "2026-03-05", "--out", str(tmp_path), *stack_options(aws["settings"])]
    )

    assert code == 0, lines
    model = (tmp_path / "acme" / "2026-03-05" / "model.csv").read_text().splitlines()
    assert "version,,p-published0002" in model
    assert f"source,,s3://{BUCKET}/{names.PROPENSITY_MODEL_KEY}" in model
