"""The lender report: a daily Lambda (handler), the library the simulation and the CLI call (service)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from functions.core.experiments import Standing
    from functions.core.kpis import AccountRecord
    from functions.core.lender import LenderProfile


def write_report(
    records: Sequence[AccountRecord],
    as_of: datetime,
    directory: Path,
    *,
    lender_id: str | None = None,
    experiments: Mapping[str, Mapping[str, Standing]] | None = None,
    profile: LenderProfile | None = None,
) -> list[str]:
    """The simulation's one call: each lender's report (or only `lender_id`'s) from `records` at `as_of`, written
    under `directory/<lender>/<YYYY-MM-DD>/`. Returns the paths written. (service.build_report / write_report for
    more: S3, experiments' standings, one lender's policy.)"""
    from functions.reports import service

    lender_ids = [lender_id] if lender_id else sorted({record.account.lender_id for record in records})
    written: list[str] = []
    for lender in lender_ids:
        report = service.build_report(
            records, as_of, lender_id=lender, experiments=experiments, profile=profile if lender_id else None
        )
        written += service.write_report(report, directory=Path(directory))
    return written
