"""How the commands find the local stack (`--state-dir`, where `cleardue up` writes `outputs.json`) and point the
store at a stack's tables: one way for `upload`, `audit`, `report`, `train`, `ops` and `lender`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

STATE_DIR = Path(".local")


def add_state_dir_argument(parser: argparse.ArgumentParser, help_text: str = "where the local outputs.json is") -> None:
    parser.add_argument("--state-dir", type=Path, default=STATE_DIR, help=help_text)


def local_outputs(command: str, state_dir: Path) -> dict[str, str] | None:
    """The local stack's outputs (and the environment that reaches its moto server), or None once stderr says
    that none is running there: the command then exits 2."""
    from local.upload import target_from_outputs

    try:
        return target_from_outputs(state_dir)
    except FileNotFoundError as exc:
        print(f"cleardue {command}: {exc}", file=sys.stderr)
        return None


def configure_tables(**table_names: str) -> None:
    """The store on these tables, in the region of the environment (the local stack's after `local_outputs`)."""
    from functions.store import tables
    from functions.store.settings import StoreSettings

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    tables.configure(StoreSettings(region=region, **table_names))
