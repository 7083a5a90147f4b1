"""The reports function in the synthesized stack: its own layer (matplotlib stays out of the shared one), a daily
schedule, and least privilege: reads the tables it reports on, writes only under reports/."""

from __future__ import annotations

import pytest

from functions import names
from infra import bundling
from infra.constructs.functions import REPORTS_HANDLER, SCHEDULER_HANDLER
from tests.infra.helpers import (
    DYNAMODB_READS,
    arn_of,
    as_list,
    function_environment,
    function_ids,
    mentions,
    ref,
    resources,
    role_of,
    statements_of_role,
)

pytestmark = pytest.mark.infra


def _properties(template, handler):
    return template["Resources"][function_ids(template)[handler]]["Properties"]


def test_matplotlib_goes_into_the_reports_layer_only():
    shared = {bundling.requirement_name(r) for r in bundling.runtime_dependencies()}
    reports = {bundling.requirement_name(r) for r in bundling.reports_dependencies()}

    assert "matplotlib" in reports and "matplotlib" not in shared
    assert reports - {"matplotlib"} <= shared
    assert not bundling.NOT_IN_REPORTS_LAYER & reports


def test_the_reports_function_has_its_own_arm64_layer(template):
    (reports_layer,) = _properties(template, REPORTS_HANDLER)["Layers"]
    (shared_layer,) = _properties(template, SCHEDULER_HANDLER)["Layers"]

    assert reports_layer != shared_layer
    layer = resources(template, "AWS::Lambda::LayerVersion")[reports_layer["Ref"]]
    assert layer["CompatibleArchitectures"] == ["arm64"]
    environment = function_environment(template, REPORTS_HANDLER)
    assert environment[names.ENV_PORTFOLIO_BUCKET] == {"Ref": ref(template, names.OUTPUT_PORTFOLIO_BUCKET)}
    assert environment["MPLCONFIGDIR"].startswith("/tmp/")
    scheduler = function_environment(template, SCHEDULER_HANDLER)
    assert environment[names.ENV_PROPENSITY_MODEL] == scheduler[names.ENV_PROPENSITY_MODEL]  # the model in use


def test_the_reports_run_daily_and_keep_a_failed_run(stack_template, template):
    rules = {
        lid: props
        for lid, props in resources(template, "AWS::Events::Rule").items()
        if props["Targets"][0]["Arn"] == arn_of(function_ids(template)[REPORTS_HANDLER])
    }

    (rule,) = rules.values()
    assert rule["ScheduleExpression"] == "cron(0 2 * * ? *)"
    assert rule["Targets"][0]["RetryPolicy"]["MaximumRetryAttempts"] == 2
    assert "DeadLetterConfig" in rule["Targets"][0]


def test_the_reports_function_reads_the_tables_and_writes_only_reports(template):
    found = statements_of_role(template, role_of(template, REPORTS_HANDLER))
    tables = {
        output: ref(template, output)
        for output in (
            names.OUTPUT_ACCOUNTS_TABLE,
            names.OUTPUT_EVENTS_TABLE,
            names.OUTPUT_EXPERIMENTS_TABLE,
            names.OUTPUT_LENDERS_TABLE,
        )
    }
    dynamodb = {
        action for statement in found for action in as_list(statement["Action"]) if action.startswith("dynamodb:")
    }
    assert dynamodb <= DYNAMODB_READS
    for output, table in tables.items():
        assert any(mentions(statement["Resource"], table) for statement in found), output
    for other in (names.OUTPUT_UPLOADS_TABLE, names.OUTPUT_IDEMPOTENCY_TABLE):
        assert not any(mentions(statement["Resource"], ref(template, other)) for statement in found), other

    bucket = ref(template, names.OUTPUT_PORTFOLIO_BUCKET)
    s3 = {
        tuple(as_list(statement["Action"])): as_list(statement["Resource"])
        for statement in found
        if any(action.startswith("s3:") for action in as_list(statement["Action"]))
    }
    objects = {"Fn::GetAtt": [bucket, "Arn"]}
    reads = sorted(
        (resource for statement in found if as_list(statement["Action"]) == ["s3:GetObject"]
         for resource in as_list(statement["Resource"])),
        key=str,
    )  # fmt: skip
    assert set(s3) == {("s3:PutObject",), ("s3:GetObject",)}
    assert s3[("s3:PutObject",)] == [{"Fn::Join": ["", [objects, "/reports/*"]]}]
    assert reads == sorted(
        [
            {"Fn::Join": ["", [objects, "/reports/*/latest.json"]]},
            {"Fn::Join": ["", [objects, f"/{names.PROPENSITY_MODEL_KEY}"]]},  # exactly the scheduler's model
        ],
        key=str,
    )
    others = {a for s in found for a in as_list(s["Action"]) if a.startswith(("sqs:", "ses:", "sns:", "secrets"))}
    assert others == {"sqs:SendMessage"}  # only its failed invocations, to the dead-letter queue
