"""`python -m bench.imports [--runs N]`: each handler's cold import time as a ratio to `import boto3`.

Measured as Lambda runs it: the runtime dependencies pip-installed into a layer folder, the `functions`
package copied into a task folder, both compiled to bytecode (as the layer and the bundle are), Python
started with `-S` and `PYTHONPATH=task:layer` (nothing from the dev virtual environment, no editable-install
finder), the environment infra gives every function (POWERTOOLS_* and AWS_LAMBDA_FUNCTION_NAME; the X-Ray
SDK off, as deployed by default: see functions/observability.py). Each import runs in a fresh interpreter
(`python -S -c "import X"`), the rounds interleaved so that every module sees the same machine; a module's
import time is the median wall time of its runs minus the median of `python -S -c pass`. The file cache is
warm. A ratio of 1.3 means the handler (its own code, Powertools, pydantic, PynamoDB, boto3 and whatever
else it pulls in) takes 30 % longer to import than boto3 alone.

Two figures per deployed function: `import` (the handler module alone) and `+ first call` (the handler module
and the modules its usual invocation imports lazily, e.g. the Stripe SDK that every charge and every Stripe
webhook reaches): a cold start pays the second, so the worst ratio is taken from it. The webhooks module serves
two functions (Stripe's webhook, and the SES/SNS email events, which never reach Stripe), measured apart. Not
counted: matplotlib, which the daily reports function loads to draw its charts (its own layer, not installed here).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = "boto3"
# Each deployed function: its handler module and what its usual invocation imports lazily (the first call's cost).
HANDLERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ingest": ("functions.ingest.handler", ()),
    "scheduler": ("functions.scheduler.handler", ()),
    "sender": ("functions.sender.handler", ()),
    "charger": ("functions.charger.handler", ("functions.payments.stripe_gateway",)),  # every charge
    "portal_api": ("functions.portal_api.handler", ()),  # Stripe only on a checkout or a plan's card
    "stripe_webhook": ("functions.webhooks.handler", ("functions.payments.stripe_gateway",)),  # every delivery
    "email_events": ("functions.webhooks.handler", ()),
    "ops": ("functions.ops.handler", ()),
    "reports": ("functions.reports.handler", ()),
}
TARGET = 1.3


def lambda_layout(base: Path) -> tuple[Path, Path]:
    """The layer (runtime dependencies) and the task root (`functions`), compiled, under `base`."""
    import compileall
    import shutil
    import tomllib

    layer, task = base / "python", base / "task"
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target", str(layer)]
    installed = subprocess.run([*pip, *dependencies], capture_output=True, text=True, timeout=900, check=False)
    if installed.returncode != 0:
        raise SystemExit(f"pip install of the runtime dependencies failed:\n{installed.stderr[-4000:]}")
    shutil.copytree(ROOT / "functions", task / "functions", ignore=shutil.ignore_patterns("__pycache__"))
    for folder in (layer, task):
        compileall.compile_dir(str(folder), quiet=1, workers=0)
    return layer, task


def _env(layer: Path, task: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": f"{task}{os.pathsep}{layer}",
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "cleardue-bench",
        "POWERTOOLS_SERVICE_NAME": "bench",
        "POWERTOOLS_METRICS_NAMESPACE": "cleardue",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_TRACE_DISABLED": "true",  # infra's default (-c xraySdk=true turns the SDK on)
    }


def _run(code: str, env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-S", "-c", code], cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def measure(runs: int = 9) -> dict[str, object]:
    """Median import seconds of boto3 and of each handler, and each handler's ratio to boto3."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="cleardue-imports-") as base:
        layer, task = lambda_layout(Path(base))
        env = _env(layer, task)
        codes = {"startup": "pass", REFERENCE: f"import {REFERENCE}"}
        for name, (module, lazy) in HANDLERS.items():
            codes.setdefault(f"import {module}", f"import {module}")
            codes[name] = "; ".join(f"import {m}" for m in (module, *lazy))
        for code in codes.values():  # warm the file cache; fail early on an import error
            _run(code, env, task)
        samples: dict[str, list[float]] = {name: [] for name in codes}
        for _ in range(runs):
            for name, code in codes.items():
                samples[name].append(_run(code, env, task))
    startup = statistics.median(samples["startup"])
    seconds = {name: max(0.0, statistics.median(values) - startup) for name, values in samples.items()}
    reference = seconds[REFERENCE]
    imported = {name: seconds[f"import {module}"] for name, (module, _) in HANDLERS.items()}
    first_call = {name: seconds[name] for name in HANDLERS}
    return {
        "runs": runs,
        "startup_s": startup,
        "boto3_s": reference,
        "import_s": imported,
        "handlers_s": first_call,
        "import_ratio_to_boto3": {name: value / reference for name, value in imported.items()},
        "ratio_to_boto3": {name: value / reference for name, value in first_call.items()},
        "worst_ratio": max(value / reference for value in first_call.values()),
        "target": TARGET,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.imports")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args()
    figures = measure(args.runs)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    print(f"import boto3: {1000 * figures['boto3_s']:.0f} ms (interpreter start {1000 * figures['startup_s']:.0f} ms)")
    print(f"  {'function':15} {'import':>16}   {'+ first call':>16}   (target <= {TARGET} x boto3)")
    for name, ratio in figures["ratio_to_boto3"].items():  # type: ignore[attr-defined]
        ms = 1000 * figures["handlers_s"][name]  # type: ignore[index]
        import_ms = 1000 * figures["import_s"][name]  # type: ignore[index]
        import_ratio = figures["import_ratio_to_boto3"][name]  # type: ignore[index]
        print(f"  {name:15} {import_ms:6.0f} ms {import_ratio:5.2f} x   {ms:6.0f} ms {ratio:5.2f} x")


if __name__ == "__main__":
    main()
