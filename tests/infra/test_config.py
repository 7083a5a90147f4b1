"""Deployment configuration through CDK context: stage, sender identity, SMS sender id, portal domain, alarms."""

from __future__ import annotations

import json

import pytest

from functions import names
from infra.config import StageConfig
from infra.constructs.functions import EMAIL_SENDER_HANDLER, SMS_SENDER_HANDLER
from tests.infra.conftest import synthesize
from tests.infra.helpers import function_environment, resources

pytestmark = pytest.mark.infra

CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0f0e0d0c-1111-2222-3333-444455556666"
PROD = {
    "stage": "prod",
    "senderEmail": "help@acme-recoveries.example",
    "smsSenderId": "ACME",
    "portalDomain": "pay.acme-recoveries.example",
    "portalCertificateArn": CERTIFICATE,
    "alarmEmail": "oncall@acme-recoveries.example",
    "xraySdk": "true",
}


@pytest.fixture(scope="module")
def prod(tmp_path_factory):
    # A known account and region, as `cdk synth` through the CLI has: cdk-nag's findings then name literal ARNs,
    # and the acknowledgments must still match them.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CDK_DEFAULT_ACCOUNT", "123456789012")
        patch.setenv("CDK_DEFAULT_REGION", "eu-west-1")
        return synthesize(tmp_path_factory.mktemp("cdk.out.prod"), PROD)


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"stage": "Prod_1"}, "stage"),
        ({"senderEmail": "nobody"}, "senderEmail"),
        ({"smsSenderId": "TOO-LONG-SENDER-ID"}, "smsSenderId"),
        ({"smsSenderId": "12345"}, "smsSenderId"),
        ({"portalDomain": "pay.example.com"}, "portalCertificateArn"),
    ],
)
def test_bad_configuration_is_refused_with_the_key_to_fix(context, message):
    with pytest.raises(ValueError, match=message):
        StageConfig(
            stage=context.get("stage", "dev"),
            sender_email=context.get("senderEmail", "a@example.com"),
            sms_sender_id=context.get("smsSenderId", ""),
            portal_domain=context.get("portalDomain"),
        )


def test_a_stage_deploys_its_own_named_stack(prod, synthesized):
    manifest = json.loads((prod.outdir / "manifest.json").read_text())
    default_manifest = json.loads((synthesized.outdir / "manifest.json").read_text())

    def stack_name(m):
        return next(a for a in m["artifacts"].values() if a["type"] == "aws:cloudformation:stack")["properties"][
            "stackName"
        ]

    assert stack_name(manifest) == "cleardue-prod"
    assert stack_name(default_manifest) == "cleardue-dev"
    prod_stack = next(a for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack")
    assert prod_stack["properties"]["terminationProtection"] is True
    (dashboard,) = resources(prod.json, "AWS::CloudWatch::Dashboard").values()
    assert dashboard["DashboardName"] == "cleardue-prod"


def test_the_xray_sdk_is_off_by_default_and_on_with_its_context_key(prod, template):
    """Lambda's active tracing always; the SDK's subsegments (and its cold-start cost) only with -c xraySdk=true."""
    for handler in (EMAIL_SENDER_HANDLER, SMS_SENDER_HANDLER):
        assert function_environment(template, handler)["POWERTOOLS_TRACE_DISABLED"] == "true"
        assert function_environment(prod.json, handler)["POWERTOOLS_TRACE_DISABLED"] == "false"


def test_sender_identities_reach_the_senders(prod):
    assert function_environment(prod.json, EMAIL_SENDER_HANDLER)[names.ENV_DEFAULT_SENDER_EMAIL] == PROD["senderEmail"]
    assert function_environment(prod.json, SMS_SENDER_HANDLER)[names.ENV_SMS_SENDER_ID] == PROD["smsSenderId"]


def test_with_a_portal_domain_cors_names_exactly_that_origin_and_the_csp_stays_self(prod):
    origin = f"https://{PROD['portalDomain']}"
    (api_id,) = resources(prod.json, "AWS::ApiGatewayV2::Api")
    (policy,) = resources(prod.json, "AWS::CloudFront::ResponseHeadersPolicy").values()
    (distribution,) = resources(prod.json, "AWS::CloudFront::Distribution").values()
    csp = policy["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]["ContentSecurityPolicy"]
    config = distribution["DistributionConfig"]
    cors = prod.json["Resources"][api_id]["Properties"]["CorsConfiguration"]

    assert cors["AllowOrigins"] == [origin]
    assert set(cors["AllowMethods"]) == {"GET", "POST", "PUT", "OPTIONS"}
    assert "connect-src 'self';" in csp["ContentSecurityPolicy"] and "execute-api" not in json.dumps(csp)
    assert [behavior["PathPattern"] for behavior in config["CacheBehaviors"]] == ["/api/*"]
    assert config["Aliases"] == [PROD["portalDomain"]]
    assert config["ViewerCertificate"]["AcmCertificateArn"] == CERTIFICATE
    assert config["ViewerCertificate"]["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert prod.json["Outputs"][names.OUTPUT_PORTAL_URL]["Value"] == origin


def test_the_alarm_email_is_subscribed_to_the_alarm_topic(prod, synthesized):
    def email_subscriptions(template):
        return [s for s in resources(template, "AWS::SNS::Subscription").values() if s["Protocol"] == "email"]

    (subscription,) = email_subscriptions(prod.json)
    assert subscription["Endpoint"] == PROD["alarmEmail"]
    assert email_subscriptions(synthesized.json) == []
