"""Least privilege, encryption, private buckets, the API's surface and the pay page's security headers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from functions import names
from infra.constructs.api import OPS_ROUTES, PORTAL_ROUTES, STRIPE_WEBHOOK_ROUTE
from infra.constructs.functions import (
    CHARGER_HANDLER,
    EMAIL_EVENTS_HANDLER,
    EMAIL_SENDER_HANDLER,
    INGEST_HANDLER,
    OPS_HANDLER,
    PORTAL_API_HANDLER,
    SMS_SENDER_HANDLER,
    STRIPE_WEBHOOK_HANDLER,
)
from tests.infra.helpers import (
    ACCOUNT_WRITERS,
    DYNAMODB_READS,
    OUR_HANDLERS,
    as_list,
    function_environment,
    function_ids,
    mentions,
    ref,
    resources,
    role_of,
    statements,
    statements_of_role,
)

pytestmark = pytest.mark.infra

DOCS = Path(__file__).resolve().parents[2] / "docs"
DATA_SERVICES = ("dynamodb", "s3", "sqs", "sns", "ses", "secretsmanager")


def _our_statements(template):
    return {handler: statements_of_role(template, role_of(template, handler)) for handler in OUR_HANDLERS}


def test_no_policy_grants_a_wildcard_action(template):
    actions = {action for statement in statements(template) for action in as_list(statement["Action"])}

    assert actions
    assert not {action for action in actions if action == "*" or action.endswith(":*")}


def test_our_functions_name_every_data_action(template):
    for handler, found in _our_statements(template).items():
        data_actions = {
            action
            for statement in found
            for action in as_list(statement["Action"])
            if action.split(":")[0] in DATA_SERVICES
        }
        assert data_actions, handler
        assert not {action for action in data_actions if "*" in action}, handler


def test_audit_trail_is_append_only_for_every_function(template):
    events_table = ref(template, names.OUTPUT_EVENTS_TABLE)

    for handler, found in _our_statements(template).items():
        actions = {
            action
            for statement in found
            if statement["Effect"] == "Allow" and mentions(statement["Resource"], events_table)
            for action in as_list(statement["Action"])
        }
        assert actions <= DYNAMODB_READS | {"dynamodb:PutItem"}, handler
    writers = {
        handler
        for handler, found in _our_statements(template).items()
        for statement in found
        if mentions(statement["Resource"], events_table) and "dynamodb:PutItem" in as_list(statement["Action"])
    }
    assert writers == set(ACCOUNT_WRITERS)  # every function that changes an account audits what it does


def test_only_the_email_sender_sends_email_and_only_through_its_account(template):
    senders = {
        handler: statement
        for handler, found in _our_statements(template).items()
        for statement in found
        if "ses:SendEmail" in as_list(statement["Action"])
    }

    assert set(senders) == {EMAIL_SENDER_HANDLER}
    assert "*" not in as_list(senders[EMAIL_SENDER_HANDLER]["Resource"])


@pytest.mark.parametrize("handler", [SMS_SENDER_HANDLER, EMAIL_EVENTS_HANDLER])
def test_texting_functions_may_text_phones_but_not_publish_to_topics(template, handler):
    found = statements_of_role(template, role_of(template, handler))
    publishing = [statement for statement in found if "sns:Publish" in as_list(statement["Action"])]

    assert {(statement["Effect"], json.dumps(statement["Resource"])) for statement in publishing} >= {("Allow", '"*"')}
    (deny,) = [statement for statement in publishing if statement["Effect"] == "Deny"]
    assert ":sns:*:*:*" in json.dumps(deny["Resource"])
    others = [h for h, s in _our_statements(template).items() if any("sns:Publish" in as_list(x["Action"]) for x in s)]
    assert set(others) == {SMS_SENDER_HANDLER, EMAIL_EVENTS_HANDLER}  # SMS jobs; answers to HELP/STOP replies


@pytest.mark.parametrize(
    ("secret_env", "readers"),
    [
        (names.ENV_VERIFICATION_KEY_SECRET, {INGEST_HANDLER, PORTAL_API_HANDLER}),
        (names.ENV_LINK_KEY_SECRET, {EMAIL_SENDER_HANDLER, SMS_SENDER_HANDLER, PORTAL_API_HANDLER}),
        (names.ENV_STRIPE_SECRET, {PORTAL_API_HANDLER, STRIPE_WEBHOOK_HANDLER, CHARGER_HANDLER}),
    ],
)
def test_each_secret_is_generated_retained_and_read_only_by_the_functions_that_need_it(template, secret_env, readers):
    (secret_id,) = {function_environment(template, handler)[secret_env]["Ref"] for handler in readers}
    secret = template["Resources"][secret_id]

    assert secret["DeletionPolicy"] == "Retain"
    assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    assert "KmsKeyId" in secret["Properties"]
    actual_readers = {
        handler
        for handler, found in _our_statements(template).items()
        for statement in found
        if "secretsmanager:GetSecretValue" in as_list(statement["Action"])
        and {"Ref": secret_id} in as_list(statement["Resource"])
    }
    assert actual_readers == readers
    # The SES-events entry point shares the webhooks' settings (the Stripe secret's id) but may not read it.
    named_by = {handler for handler in OUR_HANDLERS if secret_env in function_environment(template, handler)}
    assert named_by - readers <= {EMAIL_EVENTS_HANDLER}


def test_the_stripe_secret_starts_as_a_placeholder_the_operator_replaces(template):
    secret_id = ref(template, names.OUTPUT_STRIPE_SECRET)
    generated = template["Resources"][secret_id]["Properties"]["GenerateSecretString"]

    assert json.loads(generated["SecretStringTemplate"]) == {"api_key": "REPLACE_WITH_STRIPE_SECRET_KEY"}
    assert generated["GenerateStringKey"] == "webhook_secret"


def test_every_bucket_is_private_encrypted_versioned_tls_only_and_logged(template):
    buckets = resources(template, "AWS::S3::Bucket")
    policies = {props["Bucket"]["Ref"]: props for props in resources(template, "AWS::S3::BucketPolicy").values()}

    assert len(buckets) == 4  # portfolios, pay page, S3 access logs, CDN logs
    for logical_id, bucket in buckets.items():
        assert bucket["PublicAccessBlockConfiguration"] == dict.fromkeys(
            ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"], True
        )
        assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
        assert any(
            statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for statement in policies[logical_id]["PolicyDocument"]["Statement"]
        ), logical_id
    unlogged = [logical_id for logical_id, bucket in buckets.items() if "LoggingConfiguration" not in bucket]
    assert len(unlogged) == 1  # the access-log bucket itself
    logged_to = {
        bucket["LoggingConfiguration"]["DestinationBucketName"]["Ref"]
        for bucket in buckets.values()
        if "LoggingConfiguration" in bucket
    }
    assert logged_to == set(unlogged)


def test_portfolio_bucket_uses_the_stack_key_and_keeps_reports(template):
    bucket = template["Resources"][ref(template, names.OUTPUT_PORTFOLIO_BUCKET)]["Properties"]
    (key_id,) = resources(template, "AWS::KMS::Key")

    encryption = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert encryption["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]},
    }
    rules = {rule.get("Prefix"): rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    reports = rules[names.REPORTS_PREFIX]
    assert "ExpirationInDays" not in reports  # records of compliance are kept (Reg F 1006.100)
    assert reports["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30
    assert reports["Transitions"] == [{"StorageClass": "STANDARD_IA", "TransitionInDays": 90}]


def _documented_routes() -> set[tuple[str, str]]:
    """Every `METHOD /path` docs/portal-api.md names (its route tables and the OpenAPI document)."""
    text = (DOCS / "portal-api.md").read_text()
    return set(re.findall(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`?\s]*)", text))


def test_the_api_serves_exactly_the_documented_portal_routes_and_stripe_webhook(template):
    routes = resources(template, "AWS::ApiGatewayV2::Route")
    integrations = resources(template, "AWS::ApiGatewayV2::Integration")
    functions = function_ids(template)

    def handler_of(route):
        integration = integrations[route["Target"]["Fn::Join"][1][1]["Ref"]]
        return next(h for h, lid in functions.items() if mentions(integration["IntegrationUri"], lid))

    signed = ("/ops/", "/lenders/")  # the IAM-authorized routes (test below)
    public = {lid: route for lid, route in routes.items() if not route["RouteKey"].split(" ")[1].startswith(signed)}
    served = {tuple(route["RouteKey"].split(" ")): handler_of(route) for route in public.values()}
    assert set(PORTAL_ROUTES) == _documented_routes()
    assert served == {**dict.fromkeys(PORTAL_ROUTES, PORTAL_API_HANDLER), STRIPE_WEBHOOK_ROUTE: STRIPE_WEBHOOK_HANDLER}
    assert all(route.get("AuthorizationType", "NONE") == "NONE" for route in public.values())


def test_the_api_is_throttled_access_logged_and_grants_no_cross_origin_reads_without_a_portal_domain(template):
    (api,) = resources(template, "AWS::ApiGatewayV2::Api").values()
    (stage,) = resources(template, "AWS::ApiGatewayV2::Stage").values()
    (distribution_id,) = resources(template, "AWS::CloudFront::Distribution")

    # The page calls the API on its own origin (/api/* on its distribution), which depends on the API: the
    # gateway cannot name the distribution's origin, so it allows none (tests/infra/test_config.py: with a
    # portalDomain it allows exactly that one). The portal function itself still allows only PORTAL_URL.
    assert "CorsConfiguration" not in api
    assert function_environment(template, PORTAL_API_HANDLER)[names.ENV_PORTAL_URL] == {
        "Fn::Join": ["", ["https://", {"Fn::GetAtt": [distribution_id, "DomainName"]}]]
    }
    assert stage["StageName"] == "$default"
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] > 0
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] > 0
    log_format = json.loads(stage["AccessLogSettings"]["Format"])
    assert {"requestId", "routeKey", "status"} <= set(log_format)


def test_the_pay_page_bucket_is_reached_only_through_cloudfront_origin_access_control(template):
    (distribution,) = resources(template, "AWS::CloudFront::Distribution").values()
    (oac,) = resources(template, "AWS::CloudFront::OriginAccessControl").values()
    config = distribution["DistributionConfig"]
    (origin,) = [origin for origin in config["Origins"] if "S3OriginConfig" in origin]  # (and the API: /api/*)
    bucket_id = origin["DomainName"]["Fn::GetAtt"][0]
    policies = {props["Bucket"]["Ref"]: props for props in resources(template, "AWS::S3::BucketPolicy").values()}

    assert oac["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    assert "OriginAccessControlId" in origin
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert config["DefaultRootObject"] == "index.html"
    grants = [s for s in policies[bucket_id]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert grants and all(s["Principal"] == {"Service": "cloudfront.amazonaws.com"} for s in grants)
    assert all("AWS:SourceArn" in json.dumps(s["Condition"]) for s in grants)


def test_the_pay_page_is_served_with_strict_security_headers(template):
    (policy,) = resources(template, "AWS::CloudFront::ResponseHeadersPolicy").values()
    (distribution,) = resources(template, "AWS::CloudFront::Distribution").values()
    headers = policy["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    csp = json.dumps(headers["ContentSecurityPolicy"]["ContentSecurityPolicy"])

    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "connect-src 'self';" in csp  # the API is on the page's origin under /api (tests/infra/test_portal.py)
    hsts = headers["StrictTransportSecurity"]
    assert hsts["AccessControlMaxAgeSec"] >= 365 * 24 * 3600 and hsts["IncludeSubdomains"] is True
    assert headers["ContentTypeOptions"] == {"Override": True}
    assert headers["FrameOptions"]["FrameOption"] == "DENY"
    assert headers["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"
    behavior = distribution["DistributionConfig"]["DefaultCacheBehavior"]
    assert behavior["ResponseHeadersPolicyId"] == {
        "Ref": next(iter(resources(template, "AWS::CloudFront::ResponseHeadersPolicy")))
    }


AUDIT_REWRITES = {
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
    "dynamodb:DeleteTable",
    "dynamodb:RestoreTableFromBackup",
    "dynamodb:ImportTable",
}


def test_no_policy_in_the_template_lets_anything_rewrite_the_audit_trail(template):
    # Wider than the append-only test above: every policy of every role (CDK's own functions, functions
    # added later) and statements on "*" or on every table, which reach the events table too.
    events_table = ref(template, names.OUTPUT_EVENTS_TABLE)
    documents = [props["PolicyDocument"] for props in resources(template, "AWS::IAM::ManagedPolicy").values()]
    found = statements(template) + [statement for document in documents for statement in document["Statement"]]

    def reaches_events(resource) -> bool:
        text = json.dumps(resource)
        return mentions(resource, events_table) or resource == "*" or ":table/*" in text

    rewrites = [
        (action, statement["Resource"])
        for statement in found
        if statement["Effect"] == "Allow" and any(reaches_events(r) for r in as_list(statement["Resource"]))
        for action in as_list(statement["Action"])
        if action in AUDIT_REWRITES or action in ("dynamodb:*", "*")
    ]
    assert found and rewrites == []


def test_the_ops_routes_need_iam_authorization_and_the_portal_routes_do_not(template):
    routes = resources(template, "AWS::ApiGatewayV2::Route")
    integrations = resources(template, "AWS::ApiGatewayV2::Integration")
    ops_function = function_ids(template)[OPS_HANDLER]
    by_key = {route["RouteKey"]: route for route in routes.values()}

    ops_routes = {key: route for key, route in by_key.items() if key.split(" ")[1].startswith("/ops")}
    assert set(ops_routes) == {f"{method} {path}" for method, path in OPS_ROUTES}
    for route in ops_routes.values():
        assert route["AuthorizationType"] == "AWS_IAM"
        integration = integrations[route["Target"]["Fn::Join"][1][1]["Ref"]]
        assert mentions(integration["IntegrationUri"], ops_function)
    for method, path in (*PORTAL_ROUTES, STRIPE_WEBHOOK_ROUTE):
        assert by_key[f"{method} {path}"].get("AuthorizationType", "NONE") == "NONE"


def test_the_ops_function_reads_and_updates_accounts_appends_to_the_trail_and_reads_lenders(template):
    actions = {
        action
        for statement in statements_of_role(template, role_of(template, OPS_HANDLER))
        for action in as_list(statement["Action"])
        if action.startswith("dynamodb:")
    }
    assert {"dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:BatchGetItem"} <= actions
    assert not {"dynamodb:DeleteItem", "dynamodb:BatchWriteItem"} & actions


# --- lender self-service (docs/ops.md, "Lenders") ---------------------------------------------------


def test_the_lender_routes_need_iam_authorization_and_reach_the_ops_function(template):
    from infra.constructs.api import LENDER_ROUTES

    routes = {route["RouteKey"]: route for route in resources(template, "AWS::ApiGatewayV2::Route").values()}
    integrations = resources(template, "AWS::ApiGatewayV2::Integration")
    lender_routes = {key: route for key, route in routes.items() if key.split(" ")[1].startswith("/lenders")}
    assert set(lender_routes) == {f"{method} {path}" for method, path in LENDER_ROUTES} == {"GET /lenders/{proxy+}"}
    for route in lender_routes.values():
        assert route["AuthorizationType"] == "AWS_IAM"
        integration = integrations[route["Target"]["Fn::Join"][1][1]["Ref"]]
        assert mentions(integration["IntegrationUri"], function_ids(template)[OPS_HANDLER])


def test_the_ops_function_reads_only_the_reports_prefix_of_the_portfolio_bucket(template):
    bucket = ref(template, names.OUTPUT_PORTFOLIO_BUCKET)
    s3_statements = [
        statement
        for statement in statements_of_role(template, role_of(template, OPS_HANDLER))
        if any(action.startswith("s3:") for action in as_list(statement["Action"]))
    ]
    assert [as_list(statement["Action"]) for statement in s3_statements] == [["s3:GetObject"]]
    (resource,) = as_list(s3_statements[0]["Resource"])
    assert resource == {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/reports/*"]]}
    assert function_environment(template, OPS_HANDLER)[names.ENV_PORTFOLIO_BUCKET] == {"Ref": bucket}
    uploads = ref(template, names.OUTPUT_UPLOADS_TABLE)
    uploads_actions = {
        action
        for statement in statements_of_role(template, role_of(template, OPS_HANDLER))
        if any(mentions(r, uploads) for r in as_list(statement["Resource"]))
        for action in as_list(statement["Action"])
        if action.startswith("dynamodb:")
    }
    assert "dynamodb:Query" in uploads_actions
    assert not {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"} & uploads_actions


def test_the_callers_managed_policies_invoke_only_their_routes(template):
    policies = {
        props["Description"]: props["PolicyDocument"]["Statement"]
        for props in resources(template, "AWS::IAM::ManagedPolicy").values()
        if "Description" in props and props["Description"].startswith("cleardue:")
    }

    def paths(description_start):
        (found,) = [s for d, s in policies.items() if d.startswith(description_start)]
        (statement,) = found
        assert as_list(statement["Action"]) == ["execute-api:Invoke"]
        return {json.dumps(resource["Fn::Join"][1][-1]) for resource in as_list(statement["Resource"])}

    assert paths("cleardue: a lender's") == {'"/$default/GET/lenders/*"'}
    assert paths("cleardue: call the ops API") == {
        '"/$default/GET/ops/*"',
        '"/$default/POST/ops/*"',
        '"/$default/GET/lenders/*"',
    }


# --- message experiments (docs/experiments.md) -------------------------------------------------------


def _experiment_actions(template, handler: str) -> set[str]:
    table = ref(template, names.OUTPUT_EXPERIMENTS_TABLE)
    return {
        action
        for statement in statements_of_role(template, role_of(template, handler))
        if mentions(statement["Resource"], table)
        for action in as_list(statement["Action"])
        if action.startswith("dynamodb:")
    }


def test_the_experiment_statistics_are_read_by_the_scheduler_and_counted_by_the_senders_and_stripe_webhooks(
    template,
):
    from infra.constructs.functions import SCHEDULER_HANDLER

    scheduler = _experiment_actions(template, SCHEDULER_HANDLER)
    assert "dynamodb:Query" in scheduler and not {"dynamodb:UpdateItem", "dynamodb:PutItem"} & scheduler
    for sender in (EMAIL_SENDER_HANDLER, SMS_SENDER_HANDLER):
        assert "dynamodb:UpdateItem" in _experiment_actions(template, sender)  # exposures: atomic ADD
    webhooks = _experiment_actions(template, STRIPE_WEBHOOK_HANDLER)
    assert {"dynamodb:UpdateItem", "dynamodb:PutItem"} <= webhooks  # the reward and its once-only marker
    for handler in (SCHEDULER_HANDLER, EMAIL_SENDER_HANDLER, SMS_SENDER_HANDLER, STRIPE_WEBHOOK_HANDLER):
        assert not {"dynamodb:DeleteItem", "dynamodb:BatchWriteItem"} & _experiment_actions(template, handler)


def test_the_account_writers_open_the_pii_key_hierarchy_and_the_reports_function_cannot(template):
    (key_id,) = resources(template, "AWS::KMS::Key")
    keys_table = ref(template, names.OUTPUT_KEYS_TABLE)

    for handler, found in _our_statements(template).items():
        assert function_environment(template, handler)[names.ENV_PII_KEY_ID] == {"Fn::GetAtt": [key_id, "Arn"]}
        on_key = {
            action
            for statement in found
            if statement["Effect"] == "Allow" and mentions(statement["Resource"], key_id)
            for action in as_list(statement["Action"])
        }
        on_keys_table = {
            action
            for statement in found
            if statement["Effect"] == "Allow" and mentions(statement["Resource"], keys_table)
            for action in as_list(statement["Action"])
        }
        # A KEK is written once and never changed: no function may update or delete one.
        assert not on_keys_table & {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}, handler
        if handler in ACCOUNT_WRITERS:
            assert {"kms:Decrypt", "kms:GenerateDataKey"} <= on_key, handler
            assert {"dynamodb:GetItem", "dynamodb:PutItem"} <= on_keys_table, handler
        else:  # reports read a projection without the debtor's fields (functions/store/report_reader.py)
            assert not on_keys_table, handler


def test_the_send_time_priors_are_counted_by_the_webhooks_and_the_portal_and_read_by_the_scheduler(template):
    from infra.constructs.functions import EMAIL_EVENTS_HANDLER, PORTAL_API_HANDLER, SCHEDULER_HANDLER

    for handler in (EMAIL_EVENTS_HANDLER, STRIPE_WEBHOOK_HANDLER, PORTAL_API_HANDLER):
        assert "dynamodb:UpdateItem" in _experiment_actions(template, handler)  # docs/learning.md: one ADD
    for handler in (EMAIL_EVENTS_HANDLER, PORTAL_API_HANDLER):
        assert not {"dynamodb:DeleteItem", "dynamodb:PutItem"} & _experiment_actions(template, handler)
    assert "dynamodb:Query" in _experiment_actions(template, SCHEDULER_HANDLER)


def test_the_scheduler_reads_only_the_published_propensity_model(template):
    from infra.constructs.functions import SCHEDULER_HANDLER

    bucket = ref(template, names.OUTPUT_PORTFOLIO_BUCKET)
    location = function_environment(template, SCHEDULER_HANDLER)[names.ENV_PROPENSITY_MODEL]
    assert names.PROPENSITY_MODEL_KEY in json.dumps(location) and bucket in json.dumps(location)
    on_bucket = [
        statement
        for statement in statements_of_role(template, role_of(template, SCHEDULER_HANDLER))
        if mentions(statement["Resource"], bucket)
    ]
    assert [as_list(statement["Action"]) for statement in on_bucket] == [["s3:GetObject"]]
    (resource,) = as_list(on_bucket[0]["Resource"])
    assert json.dumps(resource).endswith(f'"/{names.PROPENSITY_MODEL_KEY}"]]}}') and "*" not in json.dumps(resource)
