"""`cleardue simulate`: one strategy (`--policy`) or several on the same population and seed (`--compare`).

Each strategy runs in its own interpreter (the run sets process-wide environment, moto's in-process mock and
the handlers' per-container caches), up to `--jobs` at a time; the parent prints the KPIs side by side, or
with `--json` one JSON object keyed by strategy. Exit 0 when every run finished with 0 audit violations,
1 when a run found violations, 2 when a run failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

STRATEGIES_DIR = Path(__file__).parent / "strategies"
DEFAULT_COMPARE = ("baseline", "engine", "engine_no_learning")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _strategy(text: str) -> Path:
    """A policy file, or the name of a shipped strategy (baseline, engine, engine_no_learning)."""
    path = Path(text)
    if path.is_file():
        return path
    shipped = STRATEGIES_DIR / f"{text.removesuffix('.json')}.json"
    if shipped.is_file():
        return shipped
    raise argparse.ArgumentTypeError(f"no policy file {text!r} (shipped strategies: {', '.join(DEFAULT_COMPARE)})")


def add_parser(commands: Any) -> None:
    from local.simulate.population import DEFAULT_POPULATION

    parser = commands.add_parser(
        "simulate",
        help="run strategies against a synthetic debtor population on the local stack (virtual clock)",
        description="Run the real handlers on in-process moto and the Stripe emulator for --days virtual days with "
        "--accounts debtors drawn from --population, and print the KPIs and the audit check (docs/simulation.md).",
    )
    parser.add_argument("--accounts", type=_positive_int, default=5000, help="debtors to place (default 5000)")
    parser.add_argument("--days", type=_positive_int, default=90, help="virtual days to run (default 90)")
    parser.add_argument("--seed", type=int, default=1, help="the population's and the debtors' seed (default 1)")
    parser.add_argument("--population", type=Path, default=DEFAULT_POPULATION, help="population file (JSON)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--policy", type=_strategy, help="one lender policy (a file or a shipped strategy's name)")
    which.add_argument(
        "--compare",
        type=_strategy,
        nargs="+",
        metavar="POLICY",
        help="several policies on the same population and seed (default: baseline engine engine_no_learning)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object keyed by strategy")
    parser.add_argument("--out", type=Path, help="keep the run's artefacts (results, logs, lender reports) here")
    parser.add_argument("--shards", type=_positive_int, default=2, help="due-index shards (default 2)")
    parser.add_argument(
        "--no-direct-dynamodb",
        action="store_true",
        help="send the handlers' DynamoDB calls through botocore and moto's HTTP layer (slower; same results)",
    )
    parser.add_argument(
        "--jobs", type=_positive_int, default=os.cpu_count() or 1, help="strategies run at once (default: CPUs)"
    )


def simulate_command(args: argparse.Namespace, out: Callable[[str], None] = print) -> int:
    from local.simulate.population import PopulationError, load

    try:
        load(args.population)  # fail early, with the file's errors, before any run starts
    except PopulationError as exc:
        print(f"cleardue simulate: {exc}", file=sys.stderr)
        return 2
    policies = [args.policy] if args.policy else list(args.compare or [_strategy(name) for name in DEFAULT_COMPARE])
    names = [policy.stem for policy in policies]
    if len(set(names)) != len(names):
        print(f"cleardue simulate: two strategies share a name: {names}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cleardue-simulate-") as scratch:
        work = args.out or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(max_workers=max(1, min(args.jobs, len(policies)))) as pool:
            results = list(pool.map(lambda policy: _run_worker(args, policy, work), policies))
    wall = time.perf_counter() - started
    by_name = dict(zip(names, results, strict=True))
    if args.out:
        (args.out / "results.json").write_text(json.dumps(by_name, indent=2, default=str) + "\n", encoding="utf-8")
    if args.json:
        out(json.dumps(by_name, default=str))
    else:
        out(table(by_name, args, wall))
    if any("error" in result for result in results):
        return 2
    return 1 if any(result["violations"] for result in results) else 0


def _run_worker(args: argparse.Namespace, policy: Path, work: Path) -> dict[str, Any]:
    result_file = work / f"{policy.stem}.result.json"
    command = [
        sys.executable,
        "-m",
        "local.simulate.worker",
        "--policy",
        str(policy),
        "--population",
        str(args.population),
        "--accounts",
        str(args.accounts),
        "--days",
        str(args.days),
        "--seed",
        str(args.seed),
        "--shards",
        str(args.shards),
        "--result",
        str(result_file),
    ]
    if args.out:
        command += ["--out", str(args.out)]
    if getattr(args, "no_direct_dynamodb", False):
        command.append("--no-direct-dynamodb")
    progress = work / f"{policy.stem}.progress.log"  # the worker's progress and errors (tail -f it during a run)
    with progress.open("w", encoding="utf-8") as stderr:
        # The same seed gives the same run: without a fixed string hash, the order of sets and dicts keyed by
        # strings changed from one interpreter to the next, and with it the order of jobs in a batch (a few
        # messages more or fewer in a 300-account month).
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=stderr, text=True, check=False, env=env)
    if done.returncode != 0 or not result_file.exists():
        return {"error": (progress.read_text(encoding="utf-8") + done.stdout)[-4000:], "violations": 0}
    return json.loads(result_file.read_text(encoding="utf-8"))


def _money(minor: int | None) -> str:
    return "-" if minor is None else f"${minor / 100:,.0f}"


def _rate(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{100 * value:.{digits}f} %"


def _number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


ROWS: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    ("accounts", lambda k: str(k["accounts"])),
    ("placed", lambda k: _money(k["placed_minor"].get("USD"))),
    ("collected", lambda k: _money(k["collected_minor"].get("USD"))),
    ("recovery rate", lambda k: _rate(k["recovery_rate"].get("USD"))),
    ("resolution rate", lambda k: _rate(k["resolution_rate"])),
    ("cure rate", lambda k: _rate(k["cure_rate"])),
    ("right-party contact rate", lambda k: _rate(k["right_party_contact_rate"])),
    ("engagement rate", lambda k: _rate(k["engagement_rate"])),
    ("messages", lambda k: f"{k['messages']:,}"),
    ("  email", lambda k: f"{k['messages_by_channel'].get('email', 0):,}"),
    ("  sms", lambda k: f"{k['messages_by_channel'].get('sms', 0):,}"),
    ("messages per $ recovered", lambda k: _number(k["messages_per_unit_recovered"].get("USD"), 3)),
    ("opt-outs", lambda k: str(k["opt_outs"])),
    ("opt-outs per 1,000 messages", lambda k: _number(k["opt_outs_per_1000_messages"])),
    ("opt-outs per 1,000 accounts", lambda k: _number(1000 * k["opt_outs"] / k["accounts"] if k["accounts"] else None)),
    ("complaints per 1,000 messages", lambda k: _number(k["complaints_per_1000_messages"])),
    ("promises made / kept", lambda k: f"{k['promises_made']} / {k['promises_kept']}"),
    ("promise-kept rate", lambda k: _rate(k["promise_kept_rate"])),
    ("plans started / completed", lambda k: f"{k['plans_started']} / {k['plans_completed']}"),
    ("median days to resolution", lambda k: _number(k["median_days_to_resolution"], 1)),
]


def _cpu_split(result: dict[str, Any]) -> str:
    """The loop's seconds inside the AWS calls (moto, emulating AWS) and its CPU seconds outside them (the
    functions' own work, the debtors, the clock)."""
    timings = result.get("stats", {}).get("timings_s", {})
    if "loop_aws_s" not in timings:
        return "-"
    return f"{timings['loop_aws_s']:,.0f} / {timings['loop_other_cpu_s']:,.0f} s"


def table(results: dict[str, dict[str, Any]], args: argparse.Namespace, wall: float) -> str:
    """The KPIs side by side, one column per strategy."""
    names = list(results)
    rows: list[tuple[str, list[str]]] = []
    for label, cell in ROWS:
        rows.append((label, [cell(r["kpis"]) if "kpis" in r else "failed" for r in results.values()]))
    rows.append(("audit violations", [str(r.get("violations", "-")) for r in results.values()]))
    rows.append(("run time", [f"{r.get('wall_seconds', 0):,.0f} s" if "kpis" in r else "-" for r in results.values()]))
    rows.append(("loop: in AWS calls / the rest (CPU)", [_cpu_split(r) for r in results.values()]))
    width = max(len(label) for label, _ in rows)
    columns = [max(len(name), *(len(cells[i]) for _, cells in rows)) for i, name in enumerate(names)]
    lines = [
        f"cleardue simulate: {args.accounts:,} accounts, {args.days} days, seed {args.seed}, "
        f"population {Path(args.population).name}; wall time {wall:,.0f} s",
        "",
        " " * width + "  " + "  ".join(name.rjust(columns[i]) for i, name in enumerate(names)),
    ]
    for label, cells in rows:
        lines.append(label.ljust(width) + "  " + "  ".join(cell.rjust(columns[i]) for i, cell in enumerate(cells)))
    for name, result in results.items():
        if "error" in result:
            lines.append(f"\n{name} failed:\n{result['error']}")
        elif result.get("violations"):
            lines.append(f"\n{name}: {result['violations']} violation(s), e.g. {result['violation_examples'][:3]}")
    return "\n".join(lines)
