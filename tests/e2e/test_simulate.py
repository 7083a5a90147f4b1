"""`cleardue simulate` end to end, small: the real handlers on moto, the Stripe emulator, simulated debtors.

Two runs of the same strategy under two names, in parallel (each in its own interpreter, as the CLI runs
them): both must message debtors, collect payments through the emulator's checkout (signed webhooks), pass
the audit check with 0 violations, and, on the same seed, produce the same KPIs. The same seed gives the same
KPIs with and without the simulation's direct DynamoDB path (local/simulate/direct_dynamodb.py).
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
EAGER = Path(__file__).parent / "simulate_eager.json"
ENGINE = ROOT / "local" / "simulate" / "strategies" / "engine.json"


def _simulate(*arguments: str, timeout: int = 240) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "local.cli", "simulate", "--population", str(EAGER), "--json", *arguments],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _collected_without_violations(result: dict[str, Any], accounts: int) -> None:
    kpis = result["kpis"]
    assert kpis["accounts"] == accounts
    assert kpis["messages"] > 0
    assert kpis["collected_minor"]["USD"] > 0
    assert result["stats"]["paid_in_full"] > 0
    assert result["violations"] == 0


def test_a_small_simulation_messages_debtors_and_collects_through_the_emulator_without_violations(
    tmp_path: Path,
) -> None:
    # Given a population of debtors who read and pay, when the engine's policy runs 3 virtual days for 8 of them,
    # once with the handlers' DynamoDB calls straight to moto's handler (the default, keeping its artefacts) and
    # once through botocore's and moto's HTTP layer, in parallel
    arguments = ("--accounts", "8", "--days", "3", "--seed", "5", "--policy", "engine")
    runs = [("--out", str(tmp_path)), ("--no-direct-dynamodb",)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        direct, normal = pool.map(lambda extra: _simulate(*arguments, *extra), runs)

    # Then they were messaged, money came in through Stripe Checkout's signed webhooks, and no rule was broken
    assert set(direct) == {"engine"}
    _collected_without_violations(direct["engine"], 8)
    # and the direct path changed nothing: the same KPIs, the same debtor actions and AWS calls
    assert direct["engine"]["kpis"] == normal["engine"]["kpis"]
    assert _without_timings(direct["engine"]["stats"]) == _without_timings(normal["engine"]["stats"])
    assert direct["engine"]["stats"]["aws_calls_dynamodb"] > 0
    # and the loop's time is split between the AWS calls (DynamoDB's among them) and the rest
    timings = direct["engine"]["stats"]["timings_s"]
    assert 0 < timings["loop_aws_dynamodb_s"] <= timings["loop_aws_s"] < timings["loop_cpu_s"]
    assert timings["loop_other_cpu_s"] > 0
    # and the run wrote the lender report with what the engine learned: the experiments' standings (wording
    # and tone, from the experiments table) and the propensity model the scheduler used
    (folder,) = (tmp_path / "reports" / "engine").glob("*/*")
    with (folder / "experiments.csv").open() as standings:
        tested = {(row["template"], row["variant"]) for row in csv.DictReader(standings) if int(row["exposures"])}
    assert ("reminder", "a") in tested or ("reminder", "b") in tested, tested
    assert {template for template, _ in tested} >= {"reminder", "tone"}, tested
    with (folder / "model.csv").open() as model:
        assert list(csv.DictReader(model)), "the model's coefficients and evaluation"


def _without_timings(stats: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in stats.items() if key != "timings_s"}


@pytest.mark.simulation
def test_the_same_seed_gives_the_same_kpis(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if "simulation" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("two simulations (about a minute): run with -m simulation (make simulate-test)")
    # Given the engine's policy under two names
    first, second = shutil.copy(ENGINE, tmp_path / "first.json"), shutil.copy(ENGINE, tmp_path / "second.json")

    # When both run on the same population and seed, in parallel, keeping their artefacts
    out = tmp_path / "out"
    results = _simulate("--accounts", "12", "--days", "4", "--seed", "5", "--compare", str(first), str(second),
                        "--jobs", "2", "--out", str(out))  # fmt: skip

    # Then each collected without violations, and the same seed gave the same figures
    assert set(results) == {"first", "second"}
    for result in results.values():
        _collected_without_violations(result, 12)
    assert results["first"]["kpis"] == results["second"]["kpis"]
    assert (out / "results.json").exists()
