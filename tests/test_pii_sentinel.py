"""The session's PII sentinel (tests/pii_sentinel.py) fails a run whose log lines held a sample debtor's PII,
in one process and under the pytest-xdist workers `make test` uses."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from functions.observability import logger
from tests.conftest import ROOT

SELFTEST = "CLEARDUE_PII_SENTINEL_SELFTEST"


@pytest.mark.skipif(os.environ.get(SELFTEST) != "1", reason="the leak below is made only in the sentinel's own runs")
def test_a_log_line_naming_a_sample_debtor() -> None:
    logger.info("called back Dana Reyes about the balance")


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "two xdist workers"])
def test_a_leak_fails_the_run_and_is_named(workers: list[str]) -> None:
    # Given a run whose only test logs a sample debtor's name
    leaky = f"{__file__}::test_a_log_line_naming_a_sample_debtor"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *workers, leaky]

    run = subprocess.run(
        command, cwd=ROOT, env={**os.environ, SELFTEST: "1"}, capture_output=True, text=True, timeout=300
    )

    # Then the test passed, but the run failed and says where the PII was
    assert "1 passed" in run.stdout, run.stdout[-3000:]
    assert run.returncode == pytest.ExitCode.TESTS_FAILED, run.stdout[-3000:]
    assert "PII in the functions' logs" in run.stdout and "Dana Reyes" in run.stdout
