"""`python -m bench.imports [--runs N]`: each handler's cold import time as a ratio to `import boto3`.

Measured as Lambda runs it: the runtime dependencies pip-installed into a layer folder, the `functions`
package copied into a task folder, both compiled to bytecode (as the layer and the bundle are), Python
started with `-S` and `PYTHONPATH=task:layer` (nothing from the dev virtual environment, no editable-install
finder), the environment infra gives every function (POWERTOOLS_* and AWS_LAMBDA_FUNCTION_NAME; the X-Ray
SDK off, as deployed by default: see functions/observability.py). Each import runs in a fresh interpreter
(`python -S -c "import X"`), the rounds interleaved so that every module sees the same machine; a module's
import time is the median CPU time (user + system) of its runs minus the median of `python -S -c pass`. The
file cache is warm, so an import is CPU work: CPU time is that work, while wall time adds the waits for a core,
which on a shared machine (other test runs) moved the same code by 10-20 % between rows of one run. Wall-time
figures are kept in the JSON (`wall`) and printed too. `--baseline DIR` measures an older `functions` package
(`git archive REV functions | tar -x -C DIR`) in the same rounds: a before/after from one run. A ratio of 1.3
means the handler (its own code, Powertools, pydantic, PynamoDB, boto3 and whatever else it pulls in) takes
30 % longer to import than boto3 alone.

Two figures per deployed function: `import` (the handler module alone) and `+ first call` (the handler module
and the modules its usual invocation imports lazily, e.g. the Stripe SDK that every charge and every Stripe
webhook reaches): a cold start pays the second, so the worst ratio is taken from it. The webhooks module serves
two functions (Stripe's webhook, and the SES/SNS email events, which never reach Stripe), measured apart. Not
counted: matplotlib, which the daily reports function loads to draw its charts (its own layer, not installed here).

A third figure per function, `dependencies`: the same import and first call without our code. Every module the
function's import and first call put in `sys.modules`, except the `functions` package, imported in the order they
were loaded (a parent package before its modules, as Python loads them), in a fresh interpreter. It is what the
libraries the function uses (boto3, Powertools, pydantic, PynamoDB, cryptography, Jinja2 and the standard
library's modules they or we load) cost at import before any line of ours runs: a function cannot import in less
without dropping or deferring a dependency, whatever our own modules do. `own` is the difference.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import cli

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


def lambda_layout(base: Path, baseline: Path | None = None) -> tuple[Path, Path, Path | None]:
    """The layer (runtime dependencies) and the task root (`functions`), compiled, under `base`; and a second task
    root with the `functions` of `baseline` (a folder holding an older `functions` package), if given."""
    import compileall
    import shutil
    import tomllib

    layer, task = base / "python", base / "task"
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target", str(layer)]
    installed = subprocess.run([*pip, *dependencies], capture_output=True, text=True, timeout=900, check=False)
    if installed.returncode != 0:
        raise SystemExit(f"pip install of the runtime dependencies failed:\n{installed.stderr[-4000:]}")
    folders = {task: ROOT / "functions"}
    if baseline is not None:
        folders[base / "baseline"] = baseline / "functions"
    for root, functions in folders.items():
        shutil.copytree(functions, root / "functions", ignore=shutil.ignore_patterns("__pycache__"))
    for folder in (layer, *folders):
        compileall.compile_dir(str(folder), quiet=1, workers=0)
    return layer, task, (base / "baseline" if baseline is not None else None)


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


def _run(code: str, env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of `python -S -c code`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-S", "-c", code], cwd=cwd, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _loaded(code: str, env: dict[str, str], cwd: Path) -> list[str]:
    """The modules `code` puts in sys.modules, other than ours (the `functions` package), in the order loaded."""
    probe = (
        "import sys; _before = set(sys.modules)\n"
        f"{code}\n"
        "print('\\n'.join(m for m in list(sys.modules) if m not in _before and m.split('.')[0] != 'functions'))"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", probe], cwd=cwd, env=env, check=True, capture_output=True, text=True
    )
    return result.stdout.split()


def _dependencies_code(modules: list[str]) -> str:
    """Import `modules` in order; one that cannot be imported by name (an alias a package puts in sys.modules
    itself, e.g. `six.moves`) is skipped: its package's import made it."""
    return (
        "import importlib\n"
        f"for _name in {modules!r}:\n"
        "    try:\n"
        "        importlib.import_module(_name)\n"
        "    except Exception:\n"
        "        pass"
    )


def _codes(dependencies: dict[str, str] | None = None) -> dict[str, str]:
    """Each figure's code: startup, the reference, each handler module, each function's import + first call, and
    (given) each function's dependencies alone."""
    codes = {"startup": "pass", REFERENCE: f"import {REFERENCE}"}
    for name, (module, lazy) in HANDLERS.items():
        codes[f"import {module}"] = f"import {module}"
        codes[name] = "; ".join(f"import {m}" for m in (module, *lazy))
        if dependencies is not None:
            codes[f"dependencies {name}"] = dependencies[name]
    return codes


def _figures(samples: dict[str, list[float]], dependencies: dict[str, str] | None = None) -> dict[str, object]:
    startup = statistics.median(samples["pass"])
    seconds = {code: max(0.0, statistics.median(values) - startup) for code, values in samples.items()}
    codes = _codes()
    reference = seconds[codes[REFERENCE]]
    imported = {name: seconds[f"import {module}"] for name, (module, _) in HANDLERS.items()}
    first_call = {name: seconds[codes[name]] for name in HANDLERS}
    figures: dict[str, object] = {
        "startup_s": startup,
        "boto3_s": reference,
        "import_s": imported,
        "handlers_s": first_call,
        "import_ratio_to_boto3": {name: value / reference for name, value in imported.items()},
        "ratio_to_boto3": {name: value / reference for name, value in first_call.items()},
        "worst_ratio": max(value / reference for value in first_call.values()),
    }
    if dependencies is not None:
        alone = {name: seconds[dependencies[name]] for name in HANDLERS}
        figures["dependencies_s"] = alone
        figures["dependencies_ratio_to_boto3"] = {name: value / reference for name, value in alone.items()}
        figures["own_s"] = {name: first_call[name] - alone[name] for name in HANDLERS}
        figures["best_dependencies_ratio"] = min(value / reference for value in alone.values())
    return figures


def measure(runs: int = 9, baseline: Path | None = None) -> dict[str, object]:
    """Median import seconds (CPU) of boto3 and of each handler, each handler's ratio to boto3, and the same by
    wall time; with `baseline`, the baseline's `functions` measured in the same rounds."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="cleardue-imports-") as base:
        layer, task, baseline_task = lambda_layout(Path(base), baseline)
        trees = {"current": task} | ({"baseline": baseline_task} if baseline_task is not None else {})
        envs = {tree: _env(layer, root) for tree, root in trees.items()}
        dependencies = {
            name: _dependencies_code(_loaded(code, envs["current"], task))
            for name, code in _codes().items()
            if name in HANDLERS
        }
        codes = sorted(set(_codes(dependencies).values()))
        for tree, root in trees.items():  # warm the file cache; fail early on an import error
            for code in codes:
                _run(code, envs[tree], root)
        wall: dict[str, dict[str, list[float]]] = {tree: {code: [] for code in codes} for tree in trees}
        cpu: dict[str, dict[str, list[float]]] = {tree: {code: [] for code in codes} for tree in trees}
        for _ in range(runs):
            for code in codes:
                for tree, root in trees.items():
                    seconds = _run(code, envs[tree], root)
                    wall[tree][code].append(seconds[0])
                    cpu[tree][code].append(seconds[1])
    figures: dict[str, object] = {
        "runs": runs,
        "measure": "cpu",
        **_figures(cpu["current"], dependencies),
        "target": TARGET,
    }
    figures["wall"] = _figures(wall["current"], dependencies)
    if baseline is not None:
        figures["baseline"] = {**_figures(cpu["baseline"]), "wall": _figures(wall["baseline"])}
    return figures


def _print(title: str, figures: dict[str, Any]) -> None:
    startup_ms = 1000 * figures["startup_s"]
    print(f"{title}import boto3: {1000 * figures['boto3_s']:.0f} ms (interpreter start {startup_ms:.0f} ms)")
    alone = "dependencies_s" in figures
    print(
        f"  {'function':15} {'import':>16}   {'+ first call':>16}   (target <= {TARGET} x boto3)"
        + (f"   {'its dependencies alone':>22}   {'own code':>8}" if alone else "")
    )
    for name, ratio in figures["ratio_to_boto3"].items():
        ms = 1000 * figures["handlers_s"][name]
        import_ms = 1000 * figures["import_s"][name]
        import_ratio = figures["import_ratio_to_boto3"][name]
        line = f"  {name:15} {import_ms:6.0f} ms {import_ratio:5.2f} x   {ms:6.0f} ms {ratio:5.2f} x"
        if alone:
            dependencies_ms = 1000 * figures["dependencies_s"][name]
            dependencies_ratio = figures["dependencies_ratio_to_boto3"][name]
            own_ms = 1000 * figures["own_s"][name]
            line += f"   {dependencies_ms:13.0f} ms {dependencies_ratio:5.2f} x   {own_ms:5.0f} ms"
        print(line)


def main() -> None:
    parser = cli.parser("bench.imports", runs=9)
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a folder holding another `functions` package (e.g. `git archive REV functions | tar -x -C DIR`), "
        "measured in the same rounds",
    )
    args = parser.parse_args()
    figures: dict[str, Any] = measure(args.runs, args.baseline)
    cli.write_figures(args.json, figures)
    _print("CPU time: ", figures)
    _print("wall time (waits for a core included): ", figures["wall"])
    if "baseline" in figures:
        _print(f"baseline {args.baseline}, CPU time: ", figures["baseline"])
        _print(f"baseline {args.baseline}, wall time: ", figures["baseline"]["wall"])


if __name__ == "__main__":
    main()
