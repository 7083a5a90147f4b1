"""The synthesized stack: what CloudFormation will create, checked against the shared names and the models."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from aws_cdk.assertions import Match

from functions import names
from functions.store.idempotency import TTL_ATTRIBUTE
from functions.store.tables import models_by_setting
from infra.config import DEFAULT_SENDER_EMAIL
from infra.constructs.data import TABLE_BINDINGS
from infra.constructs.functions import (
    CHARGER_HANDLER,
    EMAIL_EVENTS_HANDLER,
    EMAIL_SENDER_HANDLER,
    INGEST_HANDLER,
    PORTAL_API_HANDLER,
    REPORTS_HANDLER,
    SCHEDULER_HANDLER,
    SMS_SENDER_HANDLER,
    STRIPE_WEBHOOK_HANDLER,
)
from infra.constructs.messaging import PUBLISHED_EMAIL_EVENTS, VISIBILITY_TO_CONSUMER_TIMEOUT
from tests.infra.helpers import (
    OUR_HANDLERS,
    arn_of,
    as_list,
    function_environment,
    function_ids,
    ref,
    resources,
    role_of,
    statements_of_role,
    unordered,
)

pytestmark = pytest.mark.infra

TABLE_ENV_VARS = [binding.env_var for binding in TABLE_BINDINGS.values()]
REPO_ROOT = Path(__file__).resolve().parents[2]


def _local_only_output_ids() -> set[str]:
    """The ids names.py lists under its "Local-stack-only outputs." heading (up to the next blank line)."""
    lines = Path(names.__file__).read_text().splitlines()
    start = lines.index("# Local-stack-only outputs.") + 1
    section = lines[start : lines.index("", start)]
    return {getattr(names, line.split("=")[0].strip()) for line in section if line.startswith("OUTPUT_")}


def test_outputs_are_exactly_the_shared_output_ids(template):
    local_only = _local_only_output_ids()
    expected = {value for name, value in vars(names).items() if name.startswith("OUTPUT_")} - local_only

    assert names.OUTPUT_AWS_ENDPOINT in local_only
    assert set(template["Outputs"]) == expected


@pytest.mark.parametrize("field", sorted(TABLE_BINDINGS))
def test_each_table_has_the_schema_pynamodb_would_create(template, field):
    schema = models_by_setting()[field]._get_schema()
    table = template["Resources"][ref(template, TABLE_BINDINGS[field].output_id)]["Properties"]

    assert unordered(table["KeySchema"]) == unordered(schema["key_schema"])
    assert unordered(table["AttributeDefinitions"]) == unordered(schema["attribute_definitions"])
    expected_indexes = {
        index["index_name"]: (unordered(index["key_schema"]), index["projection"])
        for index in schema["global_secondary_indexes"]
    }
    indexes = {
        index["IndexName"]: (unordered(index["KeySchema"]), index["Projection"])
        for index in table.get("GlobalSecondaryIndexes", [])
    }
    assert indexes == expected_indexes


def test_accounts_has_the_due_lender_and_pay_link_indexes(template):
    accounts = template["Resources"][ref(template, names.OUTPUT_ACCOUNTS_TABLE)]["Properties"]
    indexes = {index["IndexName"]: index["KeySchema"] for index in accounts["GlobalSecondaryIndexes"]}

    assert indexes["due"] == [
        {"AttributeName": "due_shard", "KeyType": "HASH"},
        {"AttributeName": "next_contact_at", "KeyType": "RANGE"},
    ]
    assert indexes["by_lender"] == [
        {"AttributeName": "lender_id", "KeyType": "HASH"},
        {"AttributeName": "account_id", "KeyType": "RANGE"},
    ]
    assert [key["KeyType"] for key in indexes["by_link"]] == ["HASH"]
    # SMS replies and untagged SES notifications find their accounts without a Scan, by keyed blind index
    # (never the number or the address: functions/store/pii.py).
    assert indexes["by_phone"] == [{"AttributeName": "phone_bidx", "KeyType": "HASH"}]
    assert indexes["by_email"] == [{"AttributeName": "email_bidx", "KeyType": "HASH"}]
    # Deferred erasures (Reg F 1006.100 retention), by the date they are due.
    assert indexes["erasure_due"] == [
        {"AttributeName": "erasure_queue", "KeyType": "HASH"},
        {"AttributeName": "erasure_due_at", "KeyType": "RANGE"},
    ]


def test_every_table_is_on_demand_recoverable_protected_and_kms_encrypted(stack_template, template):
    tables = resources(template, "AWS::DynamoDB::Table")
    (key_id,) = resources(template, "AWS::KMS::Key")

    stack_template.resource_count_is("AWS::DynamoDB::Table", len(models_by_setting()))
    for table in tables.values():
        assert table["BillingMode"] == "PAY_PER_REQUEST"
        assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert table["DeletionProtectionEnabled"] is True
        assert table["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": arn_of(key_id)}
    for resource in template["Resources"].values():
        if resource["Type"] in ("AWS::DynamoDB::Table", "AWS::KMS::Key"):
            assert resource["DeletionPolicy"] == "Retain"
    assert template["Resources"][key_id]["Properties"]["EnableKeyRotation"] is True


def test_idempotency_items_expire(template):
    idempotency = template["Resources"][ref(template, names.OUTPUT_IDEMPOTENCY_TABLE)]["Properties"]

    assert idempotency["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}


def test_job_queues_redrive_to_a_dead_letter_queue_and_outlast_their_consumers(template):
    queues = resources(template, "AWS::SQS::Queue")
    functions = resources(template, "AWS::Lambda::Function")
    mappings = resources(template, "AWS::Lambda::EventSourceMapping")

    assert len(mappings) == 4  # email jobs, SMS jobs, ingest chunks, installment charges
    for mapping in mappings.values():
        queue = queues[mapping["EventSourceArn"]["Fn::GetAtt"][0]]
        consumer = functions[mapping["FunctionName"]["Ref"]]
        assert queue["VisibilityTimeout"] >= VISIBILITY_TO_CONSUMER_TIMEOUT * consumer["Timeout"]
        assert queue["RedrivePolicy"]["maxReceiveCount"] == names.MAX_RECEIVE_COUNT
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    for output_id, dlq_output_id in (
        (names.OUTPUT_EMAIL_QUEUE_URL, names.OUTPUT_EMAIL_DLQ_URL),
        (names.OUTPUT_SMS_QUEUE_URL, names.OUTPUT_SMS_DLQ_URL),
        (names.OUTPUT_INGEST_QUEUE_URL, names.OUTPUT_INGEST_DLQ_URL),
        (names.OUTPUT_CHARGE_QUEUE_URL, names.OUTPUT_CHARGE_DLQ_URL),
    ):
        queue, dead_letter_queue = queues[ref(template, output_id)], queues[ref(template, dlq_output_id)]
        assert queue["RedrivePolicy"]["deadLetterTargetArn"] == arn_of(ref(template, dlq_output_id))
        assert dead_letter_queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    for queue in queues.values():  # encrypted at rest: KMS (aws/sqs), or SQS-managed where EventBridge writes
        assert queue.get("KmsMasterKeyId") == "alias/aws/sqs" or queue.get("SqsManagedSseEnabled") is True
    for policy in resources(template, "AWS::SQS::QueuePolicy").values():
        assert any(statement["Effect"] == "Deny" for statement in policy["PolicyDocument"]["Statement"])


@pytest.mark.parametrize(
    ("handler", "output_id"),
    [(EMAIL_SENDER_HANDLER, names.OUTPUT_EMAIL_QUEUE_URL), (SMS_SENDER_HANDLER, names.OUTPUT_SMS_QUEUE_URL)],
)
def test_each_channel_has_its_own_sender_with_bounded_concurrency(stack_template, template, handler, output_id):
    stack_template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": {"Ref": function_ids(template)[handler]},
            "EventSourceArn": arn_of(ref(template, output_id)),
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BatchSize": 10,
            "ScalingConfig": {"MaximumConcurrency": Match.any_value()},
        },
    )


def test_the_scheduler_queues_installment_charges_for_the_charger_and_only_the_scheduler_may(stack_template, template):
    charges = ref(template, names.OUTPUT_CHARGE_QUEUE_URL)
    scheduler = function_environment(template, SCHEDULER_HANDLER)

    assert scheduler[names.ENV_CHARGE_QUEUE_URL] == {"Ref": charges}
    stack_template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": {"Ref": function_ids(template)[CHARGER_HANDLER]},
            "EventSourceArn": arn_of(charges),
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BatchSize": 10,
            "ScalingConfig": {"MaximumConcurrency": 2},
        },
    )
    senders = {
        handler
        for handler in OUR_HANDLERS
        for statement in statements_of_role(template, role_of(template, handler))
        if "sqs:SendMessage" in as_list(statement["Action"]) and arn_of(charges) in as_list(statement["Resource"])
    }
    assert senders == {SCHEDULER_HANDLER}
    charger = function_environment(template, CHARGER_HANDLER)
    assert charger[names.ENV_STRIPE_SECRET] == {"Ref": ref(template, names.OUTPUT_STRIPE_SECRET)}
    assert names.ENV_STRIPE_API_BASE not in charger  # real Stripe in AWS


def test_all_functions_are_arm64_python_traced_json_logged_and_share_one_asset_and_layer(stack_template, template):
    functions = {handler: template["Resources"][lid]["Properties"] for handler, lid in function_ids(template).items()}
    # The reports function has a layer of its own (matplotlib: tests/infra/test_reports.py); the others share one.
    (layer_id,) = {
        function["Layers"][0]["Ref"] for handler, function in functions.items() if handler != REPORTS_HANDLER
    }
    (key_id,) = resources(template, "AWS::KMS::Key")

    assert set(functions) == set(OUR_HANDLERS)
    assert resources(template, "AWS::Lambda::LayerVersion")[layer_id]["CompatibleArchitectures"] == ["arm64"]
    assert len({json.dumps(function["Code"], sort_keys=True) for function in functions.values()}) == 1
    for handler, function in functions.items():
        stack_template.has_resource_properties(
            "AWS::Lambda::Function",
            {
                "Handler": handler,
                "Architectures": ["arm64"],
                "Runtime": Match.string_like_regexp(r"^python3\.1[1-9]$"),
                "TracingConfig": {"Mode": "Active"},
                "Layers": [{"Ref": layer_id}] if handler != REPORTS_HANDLER else [Match.not_({"Ref": layer_id})],
                "KmsKeyArn": arn_of(key_id),
                "LoggingConfig": Match.object_like({"LogFormat": "JSON", "ApplicationLogLevel": "INFO"}),
            },
        )
        log_group = template["Resources"][function["LoggingConfig"]["LogGroup"]["Ref"]]["Properties"]
        assert log_group["RetentionInDays"] == 30
        assert log_group["KmsKeyId"] == arn_of(key_id)


@pytest.mark.parametrize("handler", OUR_HANDLERS)
def test_every_wired_entry_point_is_a_function_of_the_package(handler):
    module_name, _, attribute = handler.rpartition(".")
    module_file = REPO_ROOT / (module_name.replace(".", "/") + ".py")
    if not module_file.exists():
        pytest.skip(f"{module_name} has not landed yet")  # portal and webhooks are being written now

    assert callable(getattr(importlib.import_module(module_name), attribute, None)), f"{handler} is not callable"


def test_functions_get_their_configuration_from_the_environment(template):
    environments = {handler: function_environment(template, handler) for handler in OUR_HANDLERS}
    (configuration_set_id,) = resources(template, "AWS::SES::ConfigurationSet")

    for handler, environment in environments.items():
        assert set(TABLE_ENV_VARS) <= set(environment)
        assert environment[names.ENV_DUE_SHARDS] == str(names.DEFAULT_DUE_SHARDS)
        assert environment["POWERTOOLS_SERVICE_NAME"] == handler.split(".")[1]
        assert environment["POWERTOOLS_METRICS_NAMESPACE"] == "cleardue"
        assert environment["POWERTOOLS_LOG_LEVEL"] == environment["LOG_LEVEL"] == "INFO"
    for env_var in TABLE_ENV_VARS:
        assert len({json.dumps(environment[env_var]) for environment in environments.values()}) == 1
    for handler in (SCHEDULER_HANDLER, STRIPE_WEBHOOK_HANDLER):
        assert environments[handler][names.ENV_EMAIL_QUEUE_URL] == {"Ref": ref(template, names.OUTPUT_EMAIL_QUEUE_URL)}
        assert environments[handler][names.ENV_SMS_QUEUE_URL] == {"Ref": ref(template, names.OUTPUT_SMS_QUEUE_URL)}
    email = environments[EMAIL_SENDER_HANDLER]
    assert email[names.ENV_DEFAULT_SENDER_EMAIL] == DEFAULT_SENDER_EMAIL
    assert email[names.ENV_SES_CONFIGURATION_SET] == {"Ref": configuration_set_id}
    assert environments[SMS_SENDER_HANDLER][names.ENV_SMS_SENDER_ID] == ""
    for handler in (EMAIL_SENDER_HANDLER, SMS_SENDER_HANDLER, PORTAL_API_HANDLER, STRIPE_WEBHOOK_HANDLER):
        assert environments[handler][names.ENV_PORTAL_URL] == template["Outputs"][names.OUTPUT_PORTAL_URL]["Value"]
        assert environments[handler][names.ENV_PORTAL_API_URL] == template["Outputs"][names.OUTPUT_API_URL]["Value"]
    assert names.ENV_STRIPE_API_BASE not in environments[PORTAL_API_HANDLER]  # real Stripe in AWS


def test_portfolio_and_policy_uploads_trigger_ingest(template):
    (notifications,) = resources(template, "Custom::S3BucketNotifications").values()
    configurations = notifications["NotificationConfiguration"]["LambdaFunctionConfigurations"]

    assert notifications["BucketName"] == {"Ref": ref(template, names.OUTPUT_PORTFOLIO_BUCKET)}
    filters = []
    for configuration in configurations:
        assert configuration["Events"] == ["s3:ObjectCreated:*"]
        assert configuration["LambdaFunctionArn"] == arn_of(function_ids(template)[INGEST_HANDLER])
        rules = {rule["Name"]: rule["Value"] for rule in configuration["Filter"]["Key"]["FilterRules"]}
        filters.append((rules["prefix"], rules["suffix"]))
    assert sorted(filters) == sorted(names.NOTIFIED_FILES)


def test_ingest_continues_uploads_from_its_chunk_queue(stack_template, template):
    stack_template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": {"Ref": function_ids(template)[INGEST_HANDLER]},
            "EventSourceArn": arn_of(ref(template, names.OUTPUT_INGEST_QUEUE_URL)),
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BatchSize": 1,
        },
    )
    assert function_environment(template, INGEST_HANDLER)[names.ENV_INGEST_QUEUE_URL] == {
        "Ref": ref(template, names.OUTPUT_INGEST_QUEUE_URL)
    }


@pytest.mark.parametrize("handler", [INGEST_HANDLER, SCHEDULER_HANDLER, EMAIL_EVENTS_HANDLER, REPORTS_HANDLER])
def test_asynchronously_invoked_functions_keep_their_failed_events(template, handler):
    function = template["Resources"][function_ids(template)[handler]]["Properties"]
    target = function["DeadLetterConfig"]["TargetArn"]["Fn::GetAtt"][0]

    assert template["Resources"][target]["Type"] == "AWS::SQS::Queue"


def test_scheduler_runs_every_fifteen_minutes(stack_template, template):
    stack_template.resource_count_is("AWS::Events::Rule", 2)  # the scheduler's tick and the daily reports
    stack_template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "rate(15 minutes)",
            "Targets": [
                Match.object_like(
                    {"Arn": arn_of(function_ids(template)[SCHEDULER_HANDLER]), "DeadLetterConfig": Match.any_value()}
                )
            ],
        },
    )


def test_ses_publishes_every_email_event_to_the_topic_the_webhooks_consume(template):
    (destination,) = resources(template, "AWS::SES::ConfigurationSetEventDestination").values()
    topic_id = ref(template, names.OUTPUT_SES_EVENTS_TOPIC)
    (subscription,) = [s for s in resources(template, "AWS::SNS::Subscription").values() if s["Protocol"] == "lambda"]

    event_destination = destination["EventDestination"]
    assert event_destination["Enabled"] is True
    assert event_destination["SnsDestination"] == {"TopicARN": {"Ref": topic_id}}
    assert sorted(map(str.lower, event_destination["MatchingEventTypes"])) == sorted(
        event.value.replace("_", "").lower() for event in PUBLISHED_EMAIL_EVENTS
    )
    assert subscription["TopicArn"] == {"Ref": topic_id}
    assert subscription["Endpoint"] == arn_of(function_ids(template)[EMAIL_EVENTS_HANDLER])
    assert "KmsMasterKeyId" in template["Resources"][topic_id]["Properties"]


def test_ses_and_sms_replies_may_publish_to_the_encrypted_events_topic_from_this_account_only(template):
    topic_id = ref(template, names.OUTPUT_SES_EVENTS_TOPIC)
    (policy,) = [p for p in resources(template, "AWS::SNS::TopicPolicy").values() if {"Ref": topic_id} in p["Topics"]]
    (key,) = resources(template, "AWS::KMS::Key").values()

    allowed = {
        service: statement["Condition"]
        for statement in policy["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Allow"
        for service in as_list(statement["Principal"]["Service"])
    }
    assert set(allowed) == {"ses.amazonaws.com", "sms-voice.amazonaws.com"}
    assert all("SourceAccount" in json.dumps(condition) for condition in allowed.values())
    key_users = [
        statement
        for statement in key["KeyPolicy"]["Statement"]
        if "ses.amazonaws.com" in as_list(statement["Principal"].get("Service", []))
    ]
    assert key_users and all("aws:SourceAccount" in json.dumps(s["Condition"]) for s in key_users)
