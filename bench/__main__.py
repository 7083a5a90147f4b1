"""`python -m bench [--rows N]`: one local stack, the real handlers, figures measured in one run.

Prints portfolio ingestion throughput (rows/s), one scheduler pass over every placed account, and
the send rate (emails/s), all against moto in server mode (real HTTP, one process)."""

from __future__ import annotations

import argparse
import csv
import random
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path


def generate_portfolio(path: Path, rows: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["external_ref", "name", "email", "timezone", "currency", "principal", "interest", "fees", "due_date"]
        )
        for n in range(rows):
            due = date(2026, 3, 7) - timedelta(days=rng.randint(1, 120))
            writer.writerow(
                [
                    f"B-{n:07d}",
                    f"Debtor {n}",
                    f"debtor{n}@example.com",
                    "America/New_York",
                    "USD",
                    f"{rng.randint(20, 5000)}.{rng.randint(0, 99):02d}",
                    "0",
                    "0",
                    due.isoformat(),
                ]
            )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--rows", type=int, default=500)
    args = parser.parse_args()

    from functions.core.clock import parse_utc
    from local.stack import LocalStack

    stack = LocalStack(state_dir=Path(tempfile.mkdtemp(prefix="cleardue-bench-")))
    stack.start()
    try:
        stack.provision()
        from local.runner import LocalRunner, VirtualClock

        at = parse_utc("2026-03-08T14:00:00Z")
        runner = LocalRunner(stack, VirtualClock(at), out=lambda line: None)
        portfolio = stack.state_dir / "bench.csv"
        generate_portfolio(portfolio, args.rows)
        runner.upload_portfolio(portfolio, "bench")

        started = time.perf_counter()
        runner._ingest.drain(at)
        ingest_s = time.perf_counter() - started
        started = time.perf_counter()
        report = runner.cycle(at)
        cycle_s = time.perf_counter() - started
        sent = len(stack.sent_emails())
        print(f"rows                       {args.rows}")
        print(f"ingest (moto server)       {ingest_s:6.2f} s   {args.rows / ingest_s:7.0f} rows/s")
        print(
            f"schedule + send one cycle  {cycle_s:6.2f} s   {sent / cycle_s:7.0f} emails/s "
            f"({report.schedule['enqueued'] if report.schedule else 0} jobs)"
        )
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
