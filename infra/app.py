"""The CDK app: `cdk synth` runs it through cdk.json; tests call build_app()."""

from __future__ import annotations

import json
import os
from typing import Any

from aws_cdk import App, Environment, Tags

from infra.bundling import REPO_ROOT
from infra.stack import ClearDueStack

STACK_ID = "ClearDue"


def build_app(context: dict[str, Any] | None = None, outdir: str | None = None) -> App:
    # cdk.json's context reaches the app only through the CLI; read it here too, so that
    # `python -m infra.app` and the tests build the same stack as `cdk synth`.
    defaults = json.loads((REPO_ROOT / "cdk.json").read_text()).get("context", {})
    if outdir is None and "CDK_OUTDIR" not in os.environ:
        outdir = str(REPO_ROOT / "cdk.out")  # otherwise App() writes to a random temporary folder
    app = App(outdir=outdir, context={**defaults, **(context or {})})
    ClearDueStack(
        app,
        STACK_ID,
        env=Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")),
        description="cleardue: serverless debt recovery",
    )
    Tags.of(app).add("project", "cleardue")
    return app


if __name__ == "__main__":
    build_app().synth()
