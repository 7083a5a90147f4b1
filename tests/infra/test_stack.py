"""The synthesized stack: what CloudFormation will create, checked against the shared names and the models."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from functions import names
from functions.store.idempotency import TTL_ATTRIBUTE
from functions.store.tables import models_by_setting
from infra import bundling
from infra.app import STACK_ID, build_app
from infra.constructs.data import TABLE_BINDINGS
from infra.constructs.functions import INGEST_HANDLER, SCHEDULER_HANDLER, SENDER_HANDLER
from infra.stack import DEFAULT_SENDER_EMAIL

pytestmark = pytest.mark.infra

BUNDLING_STACKS = "aws:cdk:bundling-stacks"  # CDK's context key; an empty list skips all asset bundling
OUR_HANDLERS = (INGEST_HANDLER, SCHEDULER_HANDLER, SENDER_HANDLER)
TABLE_ENV_VARS = [binding.env_var for binding in TABLE_BINDINGS.values()]


def _bundling_must_be_skipped(self: object, output_dir: str, options: object) -> bool:
    raise AssertionError("the tests must synthesize with bundling skipped (pip would make them slow and networked)")


@pytest.fixture(scope="module")
def stack_template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bundling._CopyPackage, "try_bundle", _bundling_must_be_skipped)
        patch.setattr(bundling._PipInstall, "try_bundle", _bundling_must_be_skipped)
        app = build_app(context={BUNDLING_STACKS: []}, outdir=str(tmp_path_factory.mktemp("cdk.out")))
        return Template.from_stack(app.node.find_child(STACK_ID))


@pytest.fixture(scope="module")
def template(stack_template: Template) -> dict[str, Any]:
    return stack_template.to_json()


def _resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def _ref(template: dict[str, Any], output_id: str) -> str:
    """The logical id of the resource an output refers to."""
    return template["Outputs"][output_id]["Value"]["Ref"]


def _function_ids(template: dict[str, Any]) -> dict[str, str]:
    """Our functions' logical ids by handler (CDK adds a function of its own for the S3 notifications)."""
    functions = _resources(template, "AWS::Lambda::Function")
    return {props["Handler"]: logical_id for logical_id, props in functions.items() if props["Handler"] in OUR_HANDLERS}


def _arn_of(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    statements = []
    for props in _resources(template, "AWS::IAM::Policy").values():
        statements += props["PolicyDocument"]["Statement"]
    for props in _resources(template, "AWS::IAM::Role").values():
        for policy in props.get("Policies", []):
            statements += policy["PolicyDocument"]["Statement"]
    return statements


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _unordered(items: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(item, sort_keys=True) for item in items)


def test_outputs_are_exactly_the_shared_output_ids(template):
    expected = {value for name, value in vars(names).items() if name.startswith("OUTPUT_")} - {
        names.OUTPUT_AWS_ENDPOINT
    }

    assert set(template["Outputs"]) == expected


@pytest.mark.parametrize("field", sorted(TABLE_BINDINGS))
def test_each_table_has_the_schema_pynamodb_would_create(template, field):
    schema = models_by_setting()[field]._get_schema()
    table = template["Resources"][_ref(template, TABLE_BINDINGS[field].output_id)]["Properties"]

    assert _unordered(table["KeySchema"]) == _unordered(schema["key_schema"])
    assert _unordered(table["AttributeDefinitions"]) == _unordered(schema["attribute_definitions"])
    expected_indexes = {
        index["index_name"]: (_unordered(index["key_schema"]), index["projection"])
        for index in schema["global_secondary_indexes"]
    }
    indexes = {
        index["IndexName"]: (_unordered(index["KeySchema"]), index["Projection"])
        for index in table.get("GlobalSecondaryIndexes", [])
    }
    assert indexes == expected_indexes


def test_accounts_has_the_sparse_due_index_and_the_lender_index(template):
    accounts = template["Resources"][_ref(template, names.OUTPUT_ACCOUNTS_TABLE)]["Properties"]
    indexes = {index["IndexName"]: index["KeySchema"] for index in accounts["GlobalSecondaryIndexes"]}

    assert indexes["due"] == [
        {"AttributeName": "due_shard", "KeyType": "HASH"},
        {"AttributeName": "next_contact_at", "KeyType": "RANGE"},
    ]
    assert indexes["by_lender"] == [
        {"AttributeName": "lender_id", "KeyType": "HASH"},
        {"AttributeName": "account_id", "KeyType": "RANGE"},
    ]


def test_every_table_is_on_demand_recoverable_protected_and_kms_encrypted(stack_template, template):
    tables = _resources(template, "AWS::DynamoDB::Table")
    (key_id,) = _resources(template, "AWS::KMS::Key")

    stack_template.resource_count_is("AWS::DynamoDB::Table", len(models_by_setting()))
    for table in tables.values():
        assert table["BillingMode"] == "PAY_PER_REQUEST"
        assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert table["DeletionProtectionEnabled"] is True
        assert table["SSESpecification"] == {
            "SSEEnabled": True,
            "SSEType": "KMS",
            "KMSMasterKeyId": _arn_of(key_id),
        }
    for resource in template["Resources"].values():
        if resource["Type"] in ("AWS::DynamoDB::Table", "AWS::KMS::Key"):
            assert resource["DeletionPolicy"] == "Retain"
    assert template["Resources"][key_id]["Properties"]["EnableKeyRotation"] is True


def test_idempotency_items_expire(template):
    idempotency = template["Resources"][_ref(template, names.OUTPUT_IDEMPOTENCY_TABLE)]["Properties"]

    assert idempotency["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}


def test_portfolio_bucket_is_private_encrypted_versioned_and_expires_old_reports(template):
    bucket = template["Resources"][_ref(template, names.OUTPUT_PORTFOLIO_BUCKET)]["Properties"]

    assert bucket["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"], True
    )
    assert (
        bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"][
            "SSEAlgorithm"
        ]
        == "aws:kms"
    )
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = {rule.get("Prefix"): rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    assert "NoncurrentVersionExpiration" in rules[names.REPORTS_PREFIX]
    bucket_policy = next(iter(_resources(template, "AWS::S3::BucketPolicy").values()))
    assert any(
        statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for statement in bucket_policy["PolicyDocument"]["Statement"]
    )


def test_job_queues_redrive_to_a_dead_letter_queue_and_outlast_the_sender(template):
    queues = _resources(template, "AWS::SQS::Queue")
    sender_timeout = template["Resources"][_function_ids(template)[SENDER_HANDLER]]["Properties"]["Timeout"]

    for output_id, dlq_output_id in (
        (names.OUTPUT_EMAIL_QUEUE_URL, names.OUTPUT_EMAIL_DLQ_URL),
        (names.OUTPUT_SMS_QUEUE_URL, names.OUTPUT_SMS_DLQ_URL),
    ):
        queue, dead_letter_queue = queues[_ref(template, output_id)], queues[_ref(template, dlq_output_id)]
        assert queue["RedrivePolicy"] == {
            "deadLetterTargetArn": _arn_of(_ref(template, dlq_output_id)),
            "maxReceiveCount": names.MAX_RECEIVE_COUNT,
        }
        assert queue["VisibilityTimeout"] >= 6 * sender_timeout
        assert dead_letter_queue["MessageRetentionPeriod"] == 14 * 24 * 3600
        assert queue["KmsMasterKeyId"] == dead_letter_queue["KmsMasterKeyId"] == "alias/aws/sqs"
    for policy in _resources(template, "AWS::SQS::QueuePolicy").values():
        assert any(statement["Effect"] == "Deny" for statement in policy["PolicyDocument"]["Statement"])


def test_three_arm64_functions_share_one_code_asset_and_one_layer(stack_template, template):
    functions = {handler: template["Resources"][lid]["Properties"] for handler, lid in _function_ids(template).items()}
    (layer_id,) = _resources(template, "AWS::Lambda::LayerVersion")

    assert set(functions) == set(OUR_HANDLERS)
    assert len({json.dumps(function["Code"], sort_keys=True) for function in functions.values()}) == 1
    for handler, function in functions.items():
        stack_template.has_resource_properties(
            "AWS::Lambda::Function",
            {
                "Handler": handler,
                "Architectures": ["arm64"],
                "Runtime": Match.string_like_regexp(r"^python3\.1[1-9]$"),
                "TracingConfig": {"Mode": "Active"},
                "Layers": [{"Ref": layer_id}],
            },
        )
        log_group = template["Resources"][function["LoggingConfig"]["LogGroup"]["Ref"]]["Properties"]
        assert "RetentionInDays" in log_group


def test_functions_get_their_configuration_from_the_environment(template):
    environments = {
        handler: template["Resources"][lid]["Properties"]["Environment"]["Variables"]
        for handler, lid in _function_ids(template).items()
    }

    for handler, environment in environments.items():
        assert set(TABLE_ENV_VARS) <= set(environment)
        assert environment[names.ENV_DUE_SHARDS] == str(names.DEFAULT_DUE_SHARDS)
        assert environment["POWERTOOLS_SERVICE_NAME"] == handler.split(".")[1]
        assert environment["POWERTOOLS_METRICS_NAMESPACE"] == "cleardue"
        assert environment["LOG_LEVEL"] == "INFO"
    for env_var in TABLE_ENV_VARS:
        assert len({json.dumps(environment[env_var]) for environment in environments.values()}) == 1
    assert environments[SCHEDULER_HANDLER][names.ENV_EMAIL_QUEUE_URL] == {
        "Ref": _ref(template, names.OUTPUT_EMAIL_QUEUE_URL)
    }
    assert environments[SCHEDULER_HANDLER][names.ENV_SMS_QUEUE_URL] == {
        "Ref": _ref(template, names.OUTPUT_SMS_QUEUE_URL)
    }
    assert environments[SENDER_HANDLER][names.ENV_DEFAULT_SENDER_EMAIL] == DEFAULT_SENDER_EMAIL
    (configuration_set_id,) = _resources(template, "AWS::SES::ConfigurationSet")
    assert environments[SENDER_HANDLER][names.ENV_SES_CONFIGURATION_SET] == {"Ref": configuration_set_id}


def test_sender_consumes_email_jobs_and_reports_partial_batch_failures(stack_template, template):
    stack_template.resource_count_is("AWS::Lambda::EventSourceMapping", 2)  # email jobs, ingest chunks
    stack_template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": {"Ref": _function_ids(template)[SENDER_HANDLER]},
            "EventSourceArn": _arn_of(_ref(template, names.OUTPUT_EMAIL_QUEUE_URL)),
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BatchSize": 10,
            "ScalingConfig": {"MaximumConcurrency": Match.any_value()},
        },
    )


def test_portfolio_and_policy_uploads_trigger_ingest(template):
    (notifications,) = _resources(template, "Custom::S3BucketNotifications").values()
    configurations = notifications["NotificationConfiguration"]["LambdaFunctionConfigurations"]

    assert notifications["BucketName"] == {"Ref": _ref(template, names.OUTPUT_PORTFOLIO_BUCKET)}
    filters = []
    for configuration in configurations:
        assert configuration["Events"] == ["s3:ObjectCreated:*"]
        assert configuration["LambdaFunctionArn"] == _arn_of(_function_ids(template)[INGEST_HANDLER])
        rules = {rule["Name"]: rule["Value"] for rule in configuration["Filter"]["Key"]["FilterRules"]}
        filters.append((rules["prefix"], rules["suffix"]))
    assert sorted(filters) == sorted(names.NOTIFIED_FILES)


def test_ingest_continues_uploads_from_its_chunk_queue(stack_template, template):
    stack_template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": {"Ref": _function_ids(template)[INGEST_HANDLER]},
            "EventSourceArn": _arn_of(_ref(template, names.OUTPUT_INGEST_QUEUE_URL)),
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BatchSize": 1,
        },
    )
    ingest = template["Resources"][_function_ids(template)[INGEST_HANDLER]]["Properties"]
    queue = template["Resources"][_ref(template, names.OUTPUT_INGEST_QUEUE_URL)]["Properties"]
    assert queue["VisibilityTimeout"] >= ingest["Timeout"]
    assert ingest["Environment"]["Variables"][names.ENV_INGEST_QUEUE_URL] == {
        "Ref": _ref(template, names.OUTPUT_INGEST_QUEUE_URL)
    }


def test_scheduler_runs_every_fifteen_minutes(stack_template, template):
    stack_template.resource_count_is("AWS::Events::Rule", 1)
    stack_template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "rate(15 minutes)",
            "Targets": [Match.object_like({"Arn": _arn_of(_function_ids(template)[SCHEDULER_HANDLER])})],
        },
    )


def test_no_policy_grants_wildcard_actions(template):
    actions = {action for statement in _statements(template) for action in _as_list(statement["Action"])}

    assert actions
    assert not {action for action in actions if action == "*" or action.endswith(":*")}


def test_audit_trail_is_append_only(template):
    events_table = _ref(template, names.OUTPUT_EVENTS_TABLE)
    on_events = [statement for statement in _statements(template) if events_table in json.dumps(statement["Resource"])]

    assert on_events
    actions = {action for statement in on_events for action in _as_list(statement["Action"])}
    assert "dynamodb:PutItem" in actions
    assert not actions & {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}


def test_sender_may_only_send_email_through_its_account_identities(template):
    (ses_statement,) = [
        statement for statement in _statements(template) if "ses:SendEmail" in _as_list(statement["Action"])
    ]

    assert "*" not in _as_list(ses_statement["Resource"])


def test_template_passes_cfn_lint(template, tmp_path: Path):
    template_file = tmp_path / "template.json"
    template_file.write_text(json.dumps(template))

    # W3005: CDK's own redundant DependsOn.
    result = subprocess.run(
        [Path(sys.executable).with_name("cfn-lint"), "-i", "W3005", "--", str(template_file)],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_ingest_alone_reads_the_generated_identity_fact_key(template):
    (secret_id,) = _resources(template, "AWS::SecretsManager::Secret")
    secret = template["Resources"][secret_id]
    assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    assert secret["DeletionPolicy"] == "Retain"
    functions = _function_ids(template)
    ingest_env = template["Resources"][functions[INGEST_HANDLER]]["Properties"]["Environment"]["Variables"]
    assert ingest_env[names.ENV_VERIFICATION_KEY_SECRET] == {"Ref": secret_id}
    readers = [s for s in _statements(template) if "secretsmanager:GetSecretValue" in _as_list(s["Action"])]
    assert readers and all(s["Resource"] == {"Ref": secret_id} for s in readers)
    for handler in (SCHEDULER_HANDLER, SENDER_HANDLER):
        env = template["Resources"][functions[handler]]["Properties"]["Environment"]["Variables"]
        assert names.ENV_VERIFICATION_KEY_SECRET not in env
