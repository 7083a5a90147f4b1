"""Reading a synthesized template: resources by type, what an output refers to, policy statements."""

from __future__ import annotations

import json
from typing import Any

from infra.constructs.functions import (
    CHARGER_HANDLER,
    EMAIL_EVENTS_HANDLER,
    EMAIL_SENDER_HANDLER,
    INGEST_HANDLER,
    OPS_HANDLER,
    PORTAL_API_HANDLER,
    REPORTS_HANDLER,
    SCHEDULER_HANDLER,
    SMS_SENDER_HANDLER,
    STRIPE_WEBHOOK_HANDLER,
)

OUR_HANDLERS = (
    INGEST_HANDLER,
    SCHEDULER_HANDLER,
    EMAIL_SENDER_HANDLER,
    SMS_SENDER_HANDLER,
    PORTAL_API_HANDLER,
    STRIPE_WEBHOOK_HANDLER,
    EMAIL_EVENTS_HANDLER,
    CHARGER_HANDLER,
    OPS_HANDLER,
    REPORTS_HANDLER,
)
# The reports function reads; it changes no account, so it writes no audit event.
ACCOUNT_WRITERS = tuple(handler for handler in OUR_HANDLERS if handler != REPORTS_HANDLER)
# What CDK's `grant_read_data` grants on a table.
DYNAMODB_READS = {
    "dynamodb:BatchGetItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:Query",
    "dynamodb:Scan",
}


def resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource.get("Properties", {})
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def ref(template: dict[str, Any], output_id: str) -> str:
    """The logical id of the resource an output refers to (Ref or GetAtt)."""
    value = template["Outputs"][output_id]["Value"]
    return value["Ref"] if "Ref" in value else value["Fn::GetAtt"][0]


def function_ids(template: dict[str, Any]) -> dict[str, str]:
    """Our functions' logical ids by handler (CDK adds functions of its own: S3 notifications, deployment)."""
    functions = resources(template, "AWS::Lambda::Function")
    return {props["Handler"]: logical_id for logical_id, props in functions.items() if props["Handler"] in OUR_HANDLERS}


def function_environment(template: dict[str, Any], handler: str) -> dict[str, Any]:
    return template["Resources"][function_ids(template)[handler]]["Properties"]["Environment"]["Variables"]


def arn_of(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_of(template: dict[str, Any], handler: str) -> str:
    return template["Resources"][function_ids(template)[handler]]["Properties"]["Role"]["Fn::GetAtt"][0]


def statements_of_role(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    statements = []
    for props in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in props.get("Roles", []):
            statements += props["PolicyDocument"]["Statement"]
    for policy in template["Resources"][role_id]["Properties"].get("Policies", []):
        statements += policy["PolicyDocument"]["Statement"]
    return statements


def statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for props in resources(template, "AWS::IAM::Policy").values():
        found += props["PolicyDocument"]["Statement"]
    for props in resources(template, "AWS::IAM::Role").values():
        for policy in props.get("Policies", []):
            found += policy["PolicyDocument"]["Statement"]
    return found


def mentions(value: Any, logical_id: str) -> bool:
    """Whether a CloudFormation value refers to the resource (Ref / GetAtt / inside a Join)."""
    text = json.dumps(value)
    return f'"Ref": "{logical_id}"' in text or f'["{logical_id}", ' in text


def unordered(items: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(item, sort_keys=True) for item in items)
