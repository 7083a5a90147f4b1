"""The pay page and its API on one CloudFront origin: /api/* goes to the HTTP API uncached with the prefix
stripped at the edge, config.json says /api, and the CSP lets the page connect to its own origin only."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from functions import names
from infra.constructs.api import PORTAL_ROUTES
from infra.constructs.portal import API_PATH, CONFIG_FILE, PORTAL_DIR
from local.gateway import API_BASE
from tests.infra.helpers import mentions, resources

pytestmark = pytest.mark.infra

# CloudFront's managed policies, by the ids AWS documents for them.
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def csp_directives(template) -> dict[str, str]:
    (policy,) = resources(template, "AWS::CloudFront::ResponseHeadersPolicy").values()
    csp = policy["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]["ContentSecurityPolicy"]
    text = csp["ContentSecurityPolicy"]
    assert isinstance(text, str)  # a literal: nothing in it is resolved at deploy time
    return {name: value for name, _, value in (directive.partition(" ") for directive in text.split("; "))}


def api_behavior(template) -> dict:
    (distribution,) = resources(template, "AWS::CloudFront::Distribution").values()
    (behavior,) = [b for b in distribution["DistributionConfig"]["CacheBehaviors"] if b["PathPattern"] == "/api/*"]
    return behavior


def test_the_portal_api_is_served_under_api_on_the_pay_pages_distribution_uncached(template):
    (distribution,) = resources(template, "AWS::CloudFront::Distribution").values()
    (api_id,) = resources(template, "AWS::ApiGatewayV2::Api")
    origins = {origin["Id"]: origin for origin in distribution["DistributionConfig"]["Origins"]}
    behavior = api_behavior(template)
    origin = origins[behavior["TargetOriginId"]]

    assert mentions(origin["DomainName"], api_id) and ".execute-api." in json.dumps(origin["DomainName"])
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert origin["CustomOriginConfig"]["OriginSSLProtocols"] == ["TLSv1.2"]
    assert behavior["ViewerProtocolPolicy"] == "https-only"
    assert set(behavior["AllowedMethods"]) == {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
    assert behavior["CachePolicyId"] == CACHING_DISABLED  # answers carry a debtor's account: never cached
    # Every viewer header (Authorization included, which only an all-viewer policy forwards) but Host: API
    # Gateway routes on its own host name.
    assert behavior["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    assert (
        behavior["ResponseHeadersPolicyId"]
        == distribution["DistributionConfig"]["DefaultCacheBehavior"]["ResponseHeadersPolicyId"]
    )


def test_a_viewer_request_function_on_the_api_behavior_strips_the_prefix(template):
    functions = resources(template, "AWS::CloudFront::Function")
    (association,) = api_behavior(template)["FunctionAssociations"]
    function_id = association["FunctionARN"]["Fn::GetAtt"][0]

    assert association["EventType"] == "viewer-request"
    assert functions[function_id]["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    assert functions[function_id]["AutoPublish"] is True
    (distribution,) = resources(template, "AWS::CloudFront::Distribution").values()
    assert "FunctionAssociations" not in distribution["DistributionConfig"]["DefaultCacheBehavior"]  # page files


def _run_edge_function(code: str, uri: str, querystring: dict | None = None) -> dict:
    event = {
        "version": "1.0",
        "context": {"eventType": "viewer-request"},
        "viewer": {"ip": "198.51.100.7"},
        "request": {"method": "GET", "uri": uri, "querystring": querystring or {}, "headers": {}, "cookies": {}},
    }
    script = f"{code}\nprocess.stdout.write(JSON.stringify(handler(JSON.parse(process.argv[1]))));"
    node = shutil.which("node")
    assert node
    result = subprocess.run([node, "-e", script, json.dumps(event)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.skipif(shutil.which("node") is None, reason="node runs the CloudFront Function's code")
def test_the_function_maps_every_api_path_onto_the_http_apis_route(template):
    (function,) = resources(template, "AWS::CloudFront::Function").values()
    code = function["FunctionCode"]

    for _, path in PORTAL_ROUTES:
        assert _run_edge_function(code, f"/api{path}")["uri"] == path
    unsubscribe = _run_edge_function(
        code, "/api/unsubscribe", {"t": {"value": "v1.abc.1.sig"}, "c": {"value": "email"}}
    )
    assert unsubscribe["uri"] == "/unsubscribe"
    assert unsubscribe["querystring"] == {"t": {"value": "v1.abc.1.sig"}, "c": {"value": "email"}}
    assert _run_edge_function(code, "/api/")["uri"] == "/"
    assert _run_edge_function(code, "/api")["uri"] == "/"
    assert _run_edge_function(code, "/apiary/link")["uri"] == "/apiary/link"  # only the whole segment
    assert _run_edge_function(code, "/api/api/link")["uri"] == "/api/link"  # once, not repeatedly


def test_the_pay_page_is_deployed_with_a_config_pointing_at_api_on_its_own_origin(synthesized):
    (deployment,) = resources(synthesized.json, "Custom::CDKBucketDeployment").values()
    sources = [synthesized.outdir / f"asset.{key.removesuffix('.zip')}" for key in deployment["SourceObjectKeys"]]
    (config_source,) = [source for source in sources if (source / CONFIG_FILE).exists()]
    (page_source,) = [source for source in sources if source != config_source]

    assert json.loads((config_source / CONFIG_FILE).read_text()) == {"api": "/api"}
    assert API_PATH == API_BASE  # the same path as behind local/gateway.py, so index.html deploys unmodified
    assert (page_source / "index.html").exists() and not (page_source / CONFIG_FILE).exists()
    assert deployment.get("SourceMarkers", [{}, {}]) == [{}, {}]  # nothing filled in at deploy time
    assert deployment["DistributionPaths"] == ["/*"]


def test_the_csp_lets_the_page_connect_to_its_own_origin_only(template):
    directives = csp_directives(template)

    assert directives["connect-src"] == "'self'"
    assert "execute-api" not in json.dumps(directives)
    assert directives["default-src"] == "'self'" and directives["frame-ancestors"] == "'none'"
    assert "upgrade-insecure-requests" in directives


def test_the_committed_page_needs_no_other_connect_src_than_self():
    """The <meta> CSP index.html ships with is what the browser enforces next to CloudFront's header."""
    html = (PORTAL_DIR / "index.html").read_text()
    (meta,) = re.findall(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
    directives = {name: value for name, _, value in (d.strip().partition(" ") for d in meta.split(";"))}

    assert directives["connect-src"] == "'self'"  # so the API must be on the page's origin: /api


def test_stripe_and_the_messages_keep_using_the_apis_own_url(template):
    (api_id,) = resources(template, "AWS::ApiGatewayV2::Api")
    api_url = template["Outputs"][names.OUTPUT_API_URL]["Value"]

    assert mentions(api_url, api_id) and ".execute-api." in json.dumps(api_url)  # POST <ApiUrl>/webhooks/stripe
