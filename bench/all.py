"""`python -m bench.all`: every benchmark in one run, written to bench/results.json and printed as one table.

Each figure is measured by its own module in its own interpreter (`python -m bench.<name> --json FILE`):
a moto server, PynamoDB's cached connections and the botocore call counters never leak from one into the
next. Sizes keep the whole run within about 15 minutes on a 2-core machine (4.5 minutes measured): the
portfolio is 100,000 rows both for parse + validate (one process) and for AWS calls per row (moto server,
about 2 minutes of it); the send and cost figures come from one tick over 300 due accounts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.json"

# (name, module, arguments) in the order they run.
STEPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("ingest", "bench.ingest", ("--rows", "100000")),
    ("decide", "bench.decide", ("--accounts", "50000", "--tick-accounts", "2000")),
    ("send", "bench.cost", ("--accounts", "300")),
    ("sms", "bench.sms", ()),
    ("imports", "bench.imports", ("--runs", "9")),
    ("portal", "bench.portal", ("--requests", "500")),
    ("cycle", "bench", ("--rows", "300")),
)


def _run(module: str, arguments: tuple[str, ...], out: Path) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", module, *arguments, "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise SystemExit(f"python -m {module} failed ({result.returncode})")
    return json.loads(out.read_text()), elapsed


# (figure, unit, value from the results, target text, passes?)
Row = tuple[str, str, Callable[[dict[str, Any]], float], str, Callable[[float], bool]]
ROWS: tuple[Row, ...] = (
    ("AWS calls per delivered reminder (scheduler + senders)", "calls", lambda r: r["send"]["calls_per_message"],
     "<= 4.0", lambda v: v <= 4.0),
    ("AWS calls per ingested row", "calls", lambda r: r["ingest"]["calls_per_row"], "<= 0.045", lambda v: v <= 0.045),
    ("parse + validate, one core", "rows/s", lambda r: r["ingest"]["parse_rows_per_s"], ">= 20,000",
     lambda v: v >= 20_000),
    ("decisions, one core (CPU time)", "decisions/s", lambda r: r["decide"]["decisions_per_cpu_s"], ">= 50,000",
     lambda v: v >= 50_000),
    ("AWS calls per enqueued job (scheduler tick)", "calls", lambda r: r["decide"]["calls_per_job"], "",
     lambda v: True),
    ("cold import, worst handler / import boto3", "ratio", lambda r: r["imports"]["worst_ratio"], "<= 1.3",
     lambda v: v <= 1.3),
    ("  its dependencies alone, the lowest function / boto3", "ratio",
     lambda r: r["imports"]["best_dependencies_ratio"], "", lambda v: True),
    ("platform cost per 1,000 emails", "USD", lambda r: r["send"]["cost"]["usd_per_1000_emails"], "<= 0.005",
     lambda v: v <= 0.005),
    ("  as a share of SES's $0.10", "%", lambda r: 100 * r["send"]["cost"]["share_of_ses"], "<= 5", lambda v: v <= 5),
    ("sender CPU per message, warm", "ms", lambda r: r["send"]["sender_warm_cpu_ms_per_message"], "", lambda v: True),
    ("portal API GET /account p50 (in-process)", "ms", lambda r: r["portal"]["p50_ms"], "", lambda v: True),
    ("portal API GET /account p95 (in-process)", "ms", lambda r: r["portal"]["p95_ms"], "", lambda v: True),
    ("SMS texts in one segment (kind x language x case)", "texts", lambda r: r["sms"]["one_segment"], "",
     lambda v: True),
    ("local cycle: ingest on moto server", "rows/s", lambda r: r["cycle"]["ingest_rows_per_s"], "", lambda v: True),
    ("local cycle: schedule + send on moto server", "emails/s", lambda r: r["cycle"]["emails_per_s"], "",
     lambda v: True),
)  # fmt: skip


def table(results: dict[str, Any]) -> list[str]:
    lines = [f"| {'figure':55} | {'measured':>12} | {'unit':11} | {'target':9} | ok  |", f"|{'-' * 57}|{'-' * 14}|"
             f"{'-' * 13}|{'-' * 11}|-----|"]  # fmt: skip
    for name, unit, value_of, target, passes in ROWS:
        value = value_of(results)
        shown = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4f}" if abs(value) < 1 else f"{value:.2f}"
        verdict = ("yes" if passes(value) else "NO") if target else ""
        lines.append(f"| {name:55} | {shown:>12} | {unit:11} | {target:9} | {verdict:3} |")
    handlers = results["imports"]["ratio_to_boto3"]
    lines.append("")
    lines.append("cold import / import boto3: " + ", ".join(f"{name} {ratio:.2f}" for name, ratio in handlers.items()))
    alone = results["imports"]["dependencies_ratio_to_boto3"]
    lines.append("  its dependencies alone: " + ", ".join(f"{name} {ratio:.2f}" for name, ratio in alone.items()))
    cost = results["send"]["cost"]["by_item_usd_per_1000"]
    lines.append("cost per 1,000 emails by item (USD): " + ", ".join(f"{k} {v:.5f}" for k, v in cost.items()))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.all")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="cleardue-bench-") as directory:
        for name, module, arguments in STEPS:
            print(f"running python -m {module} {' '.join(arguments)}", flush=True)
            results[name], seconds[name] = _run(module, arguments, Path(directory) / f"{name}.json")
    document = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),  # a benchmark's own wall clock
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "seconds": seconds,
        "results": results,
    }
    args.out.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    print()
    print("\n".join(table(results)))
    print(f"\n{args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out} written "
          f"in {sum(seconds.values()):.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
