"""bench.imports' "dependencies alone": what a handler's import loads, other than our own `functions` package, and
the code that imports exactly that in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

from bench.imports import _dependencies_code, _loaded

ROOT = Path(__file__).resolve().parents[3]


def _env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": f"{ROOT}{os.pathsep}{sysconfig.get_paths()['purelib']}"}


def test_the_dependencies_of_an_import_are_what_it_loads_without_our_modules() -> None:
    # Given one of our modules that imports the standard library's decimal and datetime
    loaded = _loaded("import functions.core.money", _env(), ROOT)

    # Then its dependencies are those modules, in load order, and none of ours
    assert "decimal" in loaded and not any(name.split(".")[0] == "functions" for name in loaded)
    assert loaded == list(dict.fromkeys(loaded))

    # and the dependencies' code imports them all (one that cannot be imported by name is skipped) and none of ours
    code = _dependencies_code([*loaded, "no_such_module_anywhere"])
    probe = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-S", "-c", probe], cwd=ROOT, env=_env(), capture_output=True, text=True, check=True
    )
    modules = set(json.loads(done.stdout))
    assert set(loaded) <= modules
    assert not any(name.split(".")[0] == "functions" for name in modules)
