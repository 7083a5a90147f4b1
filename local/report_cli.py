"""`cleardue report --lender ID [--date YYYY-MM-DD] [--out DIR]`: a lender's report (docs/reports.md), built by the
reports function's own code from the stack's tables, written to the stack's bucket under
reports/<lender>/<date>/ (as the daily run does) or, with --out, to DIR/<lender>/<date>/.

Against the local stack (`cleardue up` running; its `.local/outputs.json` says where) or, with --accounts-table
and friends, a deployed stack with the caller's AWS credentials. Exit 0 when written, 1 when the lender has no
account, 2 when the stack cannot be read."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from functions import names
from functions.core.lender import LENDER_ID_RE
from local.outputs import add_state_dir_argument, configure_tables, local_outputs

TABLE_OPTIONS = (
    ("accounts_table", "--accounts-table", names.OUTPUT_ACCOUNTS_TABLE),
    ("events_table", "--events-table", names.OUTPUT_EVENTS_TABLE),
    ("lenders_table", "--lenders-table", names.OUTPUT_LENDERS_TABLE),
    ("experiments_table", "--experiments-table", names.OUTPUT_EXPERIMENTS_TABLE),
)


def _lender_id(text: str) -> str:
    if not LENDER_ID_RE.match(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a lender id (lower-case letters, digits and '-')")
    return text


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from exc


def add_parser(commands: Any) -> None:
    """The `report` command, on the `cleardue` parser's subcommands."""
    report = commands.add_parser(
        "report",
        help="build a lender's report (HTML with charts + CSV) from the stack's tables",
        description="Build the lender's report as the daily reports function does and write it to the stack's "
        "bucket under reports/<lender>/<date>/, or with --out to a local directory.",
    )
    report.add_argument("--lender", type=_lender_id, required=True)
    report.add_argument(
        "--date", type=_day, help="the UTC day reported, as of its end (default: now; the folder is its date)"
    )
    report.add_argument("--out", type=Path, help="write to DIR/<lender>/<date>/ instead of the bucket")
    report.add_argument("--bucket", help="a deployed stack's PortfolioBucketName (default: the local stack's)")
    for _, option, output in TABLE_OPTIONS:
        report.add_argument(option, help=f"with --bucket: the stack's {output}")
    add_state_dir_argument(report)


def as_of_for(day: date | None, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> datetime:
    """The moment reported: the end of the given UTC day, or now."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC) if day else now().replace(microsecond=0)


def report_command(args: argparse.Namespace, out: Callable[[str], None] = print, s3: Any = None) -> int:
    from functions.reports import service
    from functions.store import StoreError

    if args.bucket:
        missing = [option for field, option, _ in TABLE_OPTIONS if not getattr(args, field)]
        if missing:
            print(f"cleardue report: --bucket needs {', '.join(missing)}", file=sys.stderr)
            return 2
        bucket, found = args.bucket, {field: getattr(args, field) for field, _, _ in TABLE_OPTIONS}
    else:
        outputs = local_outputs("report", args.state_dir)
        if outputs is None:
            return 2
        bucket = outputs[names.OUTPUT_PORTFOLIO_BUCKET]
        found = {field: outputs[output] for field, _, output in TABLE_OPTIONS}
    configure_tables(**found)
    try:
        # The model the stack's scheduler reads (`cleardue train --bucket` publishes it there).
        model = os.environ.get(names.ENV_PROPENSITY_MODEL) or f"s3://{bucket}/{names.PROPENSITY_MODEL_KEY}"
        report = service.report_for_lender(args.lender, as_of_for(args.date), model_location=model)
        if not report.figures.overall.accounts:
            print(f"cleardue report: lender {args.lender!r} has no account", file=sys.stderr)
            return 1
        if args.out:
            written = service.write_report(report, directory=args.out)
        else:
            if s3 is None:
                import boto3

                s3 = boto3.client("s3")
            written = service.write_report(report, s3=s3, bucket=bucket)
    except StoreError as exc:
        print(f"cleardue report: {exc}", file=sys.stderr)
        return 2
    for path in written:
        out(path if args.out else f"s3://{bucket}/{path}")
    overall = report.figures.overall
    recovery = ", ".join(f"{100 * (r or 0):.1f} % {c}" for c, r in overall.recovery_rate.items())
    out(
        f"{report.lender_id} as of {report.figures.as_of.isoformat()}: {overall.accounts} account(s), "
        f"recovery {recovery or 'n/a'}, {overall.messages} message(s), "
        f"{report.figures.violations} compliance violation(s)"
    )
    return 0
