"""The command line the benchmarks share: their size options and `--json FILE`, where bench.all collects the
figures of each (`python -m bench.<name> ... --json FILE`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def parser(module: str, *, description: str | None = None, **sizes: int) -> argparse.ArgumentParser:
    """`python -m {module}`'s parser: an integer option per size (`rows=300`: `--rows`, 300 by default), then
    `--json FILE`; a benchmark adds its other options."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    for name, default in sizes.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=default)
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    return parser


def write_figures(path: Path | None, figures: dict[str, Any]) -> None:
    """The figures as JSON in `path`, when --json asked for them."""
    if path:
        path.write_text(json.dumps(figures, indent=2))
