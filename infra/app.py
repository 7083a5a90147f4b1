"""The CDK app: `cdk synth` runs it through cdk.json; tests call build_app()."""

from __future__ import annotations

import json
import os
from typing import Any

from aws_cdk import App, Environment, Tags

from infra.bundling import REPO_ROOT
from infra.config import StageConfig
from infra.nag import apply_checks
from infra.stack import ClearDueStack

STACK_ID = "ClearDue"


def build_app(context: dict[str, Any] | None = None, outdir: str | None = None) -> App:
    # cdk.json's context reaches the app only through the CLI; read it here too, so that
    # `python -m infra.app` and the tests build the same stack as `cdk synth`.
    defaults = json.loads((REPO_ROOT / "cdk.json").read_text()).get("context", {})
    if outdir is None and "CDK_OUTDIR" not in os.environ:
        outdir = str(REPO_ROOT / "cdk.out")  # otherwise App() writes to a random temporary folder
    app = App(outdir=outdir, context={**defaults, **(context or {})})
    config = StageConfig.from_context(app)
    ClearDueStack(
        app,
        STACK_ID,
        config=config,
        stack_name=config.stack_name,
        env=Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")),
        description=f"cleardue ({config.stage}): serverless debt recovery",
        termination_protection=config.stage == "prod",
    )
    Tags.of(app).add("project", "cleardue")
    Tags.of(app).add("stage", config.stage)
    apply_checks(app)
    return app


if __name__ == "__main__":
    build_app().synth()
