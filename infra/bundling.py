"""Lambda packaging without Docker: CDK local bundling copies the code and pip-installs the layer.

Both bundlers raise on failure instead of returning False: False would make CDK fall back to Docker
bundling with a placeholder image, and the real error would be lost.
"""

from __future__ import annotations

import hashlib
import json
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


def runtime_dependencies() -> list[str]:
    """The Lambda runtime requirements, read from pyproject.toml's [project].dependencies."""
    with PYPROJECT.open("rb") as file:
        return list(tomllib.load(file)["project"]["dependencies"])


def functions_code() -> lambda_.Code:
    """The `functions` package, at the root of the asset so handlers import as `functions.<name>.handler`."""
    return lambda_.Code.from_asset(
        str(FUNCTIONS_DIR),
        exclude=list(IGNORED),
        bundling=BundlingOptions(image=_NO_DOCKER_IMAGE, local=_CopyPackage(FUNCTIONS_DIR)),
    )


def dependencies_code(runtime: lambda_.Runtime, architecture: lambda_.Architecture) -> lambda_.Code:
    """A layer (`python/` at its root) with the runtime dependencies built for the target platform."""
    command = _pip_install_command(runtime, architecture)
    # A custom hash skips fingerprinting the repository and lets a later synth reuse cdk.out's build:
    # the layer is rebuilt only when the requirements or the pip command change.
    asset_hash = hashlib.sha256(json.dumps(command).encode()).hexdigest()
    return lambda_.Code.from_asset(
        str(REPO_ROOT),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=asset_hash,
        bundling=BundlingOptions(image=_NO_DOCKER_IMAGE, local=_PipInstall(command)),
    )


def _pip_install_command(runtime: lambda_.Runtime, architecture: lambda_.Architecture) -> list[str]:
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
        *runtime_dependencies(),
    ]


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
    def __init__(self, pip_arguments: list[str]) -> None:
        self._pip_arguments = pip_arguments

    def try_bundle(self, output_dir: str, options: BundlingOptions) -> bool:
        target = Path(output_dir) / "python"
        subprocess.run([sys.executable, "-m", "pip", *self._pip_arguments, "--target", str(target)], check=True)
        _compile(target)
        return True
