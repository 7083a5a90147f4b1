"""Lambda's layout for the packaging tests: the dependencies in a `--target` folder (the layer), the `functions`
package in another (the task root), and Python run with `-S` so nothing from the dev virtual environment is
visible."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def build_layout(base: Path, dependencies: Sequence[str], *pip_options: str) -> dict[str, Path]:
    """`dependencies` installed into `base`/python (the layer) and the `functions` package copied to `base`/task."""
    layer, task = base / "python", base / "task"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *pip_options,
         "--target", str(layer), *dependencies],
        check=True,
        timeout=600,
    )  # fmt: skip
    shutil.copytree(ROOT / "functions", task / "functions", ignore=shutil.ignore_patterns("__pycache__"))
    return {"layer": layer, "task": task}


def run_isolated(
    layout: dict[str, Path], code: str, *, timeout: int = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`code` run by `python -S` from the task root, with the task root and the layer as its only path."""
    return subprocess.run(
        [sys.executable, "-S", "-c", code],
        env={
            "PATH": os.environ["PATH"],
            "PYTHONPATH": f"{layout['task']}{os.pathsep}{layout['layer']}",
            "AWS_DEFAULT_REGION": "us-east-1",
            **(env or {}),
        },
        cwd=layout["task"],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
