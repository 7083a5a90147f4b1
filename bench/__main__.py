"""`python -m bench [--rows N]`: one full local cycle, the real handlers on moto server.

Uploads a lender's policy and a generated N-row portfolio, then times ingestion and one schedule +
send cycle (at 19:00Z, inside every generated debtor's contact window)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench import cli
from bench.ingest import upload_generated


def main() -> None:
    args = cli.parser("bench", rows=300).parse_args()

    from functions.core.clock import parse_utc
    from local.stack import running

    with tempfile.TemporaryDirectory(prefix="cleardue-bench-") as directory, running(Path(directory)) as stack:
        from local.runner import LocalRunner, VirtualClock

        at = parse_utc("2026-03-08T19:00:00Z")
        runner = LocalRunner(stack, VirtualClock(at), out=lambda line: None)
        upload_generated(runner, Path(directory), args.rows, at)

        started = time.perf_counter()
        runner.cycle(at, schedule=False)
        ingest_s = time.perf_counter() - started
        started = time.perf_counter()
        report = runner.cycle(at)
        cycle_s = time.perf_counter() - started
        sent = len(report.emails)
    print(f"rows                       {args.rows}")
    print(f"ingest (moto server)       {ingest_s:6.2f} s   {args.rows / ingest_s:7.0f} rows/s")
    enqueued = report.schedule["enqueued"] if report.schedule else 0
    print(f"schedule + send one cycle  {cycle_s:6.2f} s   {sent / cycle_s:7.0f} emails/s ({enqueued} jobs)")
    figures = {
        "rows": args.rows,
        "ingest_s": ingest_s,
        "ingest_rows_per_s": args.rows / ingest_s,
        "cycle_s": cycle_s,
        "emails": sent,
        "jobs": enqueued,
        "emails_per_s": sent / cycle_s,
    }
    cli.write_figures(args.json, figures)


if __name__ == "__main__":
    main()
