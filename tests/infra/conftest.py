"""The CDK app synthesized once per session, bundling skipped, into a temporary cloud assembly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra import bundling
from infra.app import STACK_ID, build_app

BUNDLING_STACKS = "aws:cdk:bundling-stacks"  # CDK's context key; an empty list skips all asset bundling


@dataclass(frozen=True)
class Synthesized:
    """One synthesized stack: the assertions API, the raw template, and the files on disk."""

    template: Template
    json: dict[str, Any]
    template_file: Path
    outdir: Path

    def metadata(self) -> dict[str, list[dict[str, Any]]]:
        return json.loads((self.outdir / f"{STACK_ID}.metadata.json").read_text())


def _bundling_must_be_skipped(self: object, output_dir: str, options: object) -> bool:
    raise AssertionError("the tests must synthesize with bundling skipped (pip would make them slow and networked)")


def synthesize(outdir: Path, context: dict[str, Any] | None = None) -> Synthesized:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bundling._CopyPackage, "try_bundle", _bundling_must_be_skipped)
        patch.setattr(bundling._PipInstall, "try_bundle", _bundling_must_be_skipped)
        app = build_app(context={BUNDLING_STACKS: [], **(context or {})}, outdir=str(outdir))
        app.synth()  # cdk-nag runs here: an unacknowledged finding raises ValidationFailed
    template_file = outdir / f"{STACK_ID}.template.json"
    template = json.loads(template_file.read_text())
    return Synthesized(Template.from_json(template), template, template_file, outdir)


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    yield synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def stack_template(synthesized: Synthesized) -> Template:
    return synthesized.template


@pytest.fixture(scope="session")
def template(synthesized: Synthesized) -> dict[str, Any]:
    return synthesized.json
