"""Given one cycle of the local stack on the sample portfolio, the audit checker finds no violation in any
trail, and the KPIs count every message the stack's SES and SNS accepted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_local_stacks_trails_have_no_violation() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_ENDPOINT")}
    result = subprocess.run(
        [sys.executable, "-m", "tests.integration.kpis.local_stack_trails"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])

    assert found["violations"] == []
    assert found["accounts"] > 40
    assert found["messages"] == found["emails_sent"] + found["texts_sent"] > 0
