"""Lambda packaging without Docker: CDK local bundling copies the code and pip-installs the layer.

Both bundlers raise on failure instead of returning False: False would make CDK fall back to Docker
bundling with a placeholder image, and the real error would be lost.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = REPO_ROOT / "functions"
PYPROJECT = REPO_ROOT / "pyproject.toml"

IGNORED = ("__pycache__", "*.pyc", "tests")
_NO_DOCKER_IMAGE = DockerImage.from_registry("local-bundling-only")
_PLATFORM_TAGS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
REPORTS_EXTRA = "reports"  # pyproject's [project.optional-dependencies] of the reports function (matplotlib)
# Runtime dependencies the reports function never imports (debtor-facing messages, Stripe, phone numbers): left
# out of its layer to make room for matplotlib and numpy under Lambda's 250 MB unzipped limit (code + layers).
# tests/packaging/test_reports_layer.py builds a report with exactly this layer.
NOT_IN_REPORTS_LAYER = frozenset({"babel", "jinja2", "phonenumbers", "stripe"})
# Folders of the reports layer that no report needs (the libraries' own test suites).
REPORTS_LAYER_PRUNED = ("tests",)


def runtime_dependencies() -> list[str]:
    """The Lambda runtime requirements, read from pyproject.toml's [project].dependencies."""
    with PYPROJECT.open("rb") as file:
        return list(tomllib.load(file)["project"]["dependencies"])


def requirement_name(requirement: str) -> str:
    return re.split(r"[\[<>=!~;\s]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


def reports_dependencies() -> list[str]:
    """The reports function's layer: the runtime requirements it imports, plus the `reports` extra (matplotlib)."""
    with PYPROJECT.open("rb") as file:
        project = tomllib.load(file)["project"]
    kept = [r for r in project["dependencies"] if requirement_name(r) not in NOT_IN_REPORTS_LAYER]
    return kept + list(project["optional-dependencies"][REPORTS_EXTRA])


def functions_code() -> lambda_.Code:
    """The `functions` package, at the root of the asset so handlers import as `functions.<name>.handler`."""
    return lambda_.Code.from_asset(
        str(FUNCTIONS_DIR),
        exclude=list(IGNORED),
        bundling=BundlingOptions(image=_NO_DOCKER_IMAGE, local=_CopyPackage(FUNCTIONS_DIR)),
    )


def dependencies_code(runtime: lambda_.Runtime, architecture: lambda_.Architecture) -> lambda_.Code:
    """A layer (`python/` at its root) with the runtime dependencies built for the target platform."""
    return _layer_code(_PipInstall(_pip_install_command(runtime, architecture, runtime_dependencies())))


def reports_dependencies_code(runtime: lambda_.Runtime, architecture: lambda_.Architecture) -> lambda_.Code:
    """The reports function's own layer (`reports_dependencies`), without .pyc files (a daily batch job: the
    cold import does not matter, the 250 MB do) and without the libraries' test suites."""
    command = _pip_install_command(runtime, architecture, reports_dependencies())
    return _layer_code(_PipInstall(command, precompile=False, pruned=REPORTS_LAYER_PRUNED))


def _layer_code(install: _PipInstall) -> lambda_.Code:
    # A custom hash skips fingerprinting the repository and lets a later synth reuse cdk.out's build:
    # the layer is rebuilt only when the requirements or the pip command change.
    asset_hash = hashlib.sha256(json.dumps(install.fingerprint()).encode()).hexdigest()
    return lambda_.Code.from_asset(
        str(REPO_ROOT),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=asset_hash,
        bundling=BundlingOptions(image=_NO_DOCKER_IMAGE, local=install),
    )


def _pip_install_command(
    runtime: lambda_.Runtime, architecture: lambda_.Architecture, requirements: list[str]
) -> list[str]:
    python_version = runtime.name.removeprefix("python")
    return [
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--platform",
        _PLATFORM_TAGS[architecture.name],
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        "--only-binary=:all:",
        *requirements,
    ]


def prune(directory: Path, folder_names: tuple[str, ...]) -> None:
    """Remove the folders of these names inside the installed packages (never a top-level package)."""
    for name in folder_names:
        for folder in sorted(directory.glob(f"*/**/{name}"), reverse=True):
            if folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)


def _compile(directory: Path) -> None:
    # The asset zip stamps every file with a fixed date, so timestamp-checked .pyc files would be
    # stale on Lambda (and /var/task is read-only): only unchecked-hash .pyc files are ever used.
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", str(directory)],
        check=True,
    )


@jsii.implements(ILocalBundling)
class _CopyPackage:
    def __init__(self, package_dir: Path) -> None:
        self._package_dir = package_dir

    def try_bundle(self, output_dir: str, options: BundlingOptions) -> bool:
        target = Path(output_dir) / self._package_dir.name
        shutil.copytree(self._package_dir, target, ignore=shutil.ignore_patterns(*IGNORED))
        _compile(target)
        return True


@jsii.implements(ILocalBundling)
class _PipInstall:
    def __init__(self, pip_arguments: list[str], *, precompile: bool = True, pruned: tuple[str, ...] = ()) -> None:
        self._pip_arguments = pip_arguments
        self._precompile = precompile
        self._pruned = pruned

    def fingerprint(self) -> list[str]:
        """What the built layer depends on (its asset hash)."""
        if self._precompile and not self._pruned:
            return self._pip_arguments  # the shared layer's hash, unchanged
        return [*self._pip_arguments, f"precompile={self._precompile}", *(f"prune={name}" for name in self._pruned)]

    def try_bundle(self, output_dir: str, options: BundlingOptions) -> bool:
        target = Path(output_dir) / "python"
        subprocess.run([sys.executable, "-m", "pip", *self._pip_arguments, "--target", str(target)], check=True)
        prune(target, self._pruned)
        if self._precompile:
            _compile(target)
        return True
