"""One strategy's run in its own interpreter (`cleardue simulate` starts one per strategy); writes its result
as JSON to `--result`: the KPIs, the audit check's violations (count and the first 20), run statistics."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.simulate.worker")
    parser.add_argument("--policy", type=Path, required=True)
    parser.add_argument("--population", type=Path, required=True)
    parser.add_argument("--accounts", type=int, required=True)
    parser.add_argument("--days", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--profile", type=Path, help="write a cProfile of the run here")
    parser.add_argument(
        "--no-direct-dynamodb",
        action="store_true",
        help="every DynamoDB call through botocore's and moto's HTTP path (local/simulate/direct_dynamodb.py)",
    )
    args = parser.parse_args(argv)
    import logging
    import sys

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"%(asctime)s {args.policy.stem}: %(message)s", "%H:%M:%S"))
    progress = logging.getLogger("cleardue.simulate")
    progress.addHandler(handler)
    progress.setLevel(logging.INFO)

    from local.simulate.population import load
    from local.simulate.runner import RunConfig, run

    config = RunConfig(
        population=load(args.population),
        policy=args.policy,
        accounts=args.accounts,
        days=args.days,
        seed=args.seed,
        due_shards=args.shards,
        out=args.out,
        direct_dynamodb=not args.no_direct_dynamodb,
    )
    started = time.perf_counter()
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        result = profiler.runcall(run, config)
        profiler.dump_stats(str(args.profile))
    else:
        result = run(config)
    document = {
        "strategy": result.strategy,
        "policy": str(args.policy),
        "kpis": result.kpis,
        "violations": len(result.violations),
        "violation_examples": result.violations[:20],
        "stats": result.stats,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "cpu_seconds": round(time.process_time(), 1),
    }
    args.result.parent.mkdir(parents=True, exist_ok=True)
    args.result.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    if args.out:
        (args.out / f"{result.strategy}.violations.json").write_text(
            json.dumps(result.violations, indent=2, default=str) + "\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
