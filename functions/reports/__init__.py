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
    from functions.core.propensity import Model


def write_report(
    records: Sequence[AccountRecord],
    as_of: datetime,
    directory: Path,
    *,
    lender_id: str | None = None,
    experiments: Mapping[str, Mapping[str, Standing]] | None = None,
    profile: LenderProfile | None = None,
    priors: Mapping[str, Mapping[int, int]] | None = None,
    model: Model | None = None,
) -> list[str]:
    """The simulation's one call: each lender's report (or only `lender_id`'s) from `records` at `as_of`, written
    under `directory/<lender>/<YYYY-MM-DD>/`. Returns the paths written. `priors`: the send-time prior counts of
    the one lender reported (`store.learning.prior_counts`; with several lenders in `records`, pass `lender_id`);
    `model`: the propensity model in use (every lender's). (service.build_report / write_report for more: S3,
    experiments' standings, one lender's policy.)"""
    from functions.reports import service

    lender_ids = [lender_id] if lender_id else sorted({record.account.lender_id for record in records})
    if priors is not None and len(lender_ids) > 1:
        raise ValueError("send-time priors belong to one lender: pass lender_id with priors")
    written: list[str] = []
    for lender in lender_ids:
        report = service.build_report(
            records,
            as_of,
            lender_id=lender,
            experiments=experiments,
            profile=profile if lender_id else None,
            priors=priors,
            model=model,
        )
        written += service.write_report(report, directory=Path(directory))
    return written
