"""The pay page (static_portal/): a private bucket served by CloudFront through origin access control, and
the portal API on the same distribution under /api/* (the HTTP API as origin, never cached, the /api prefix
removed by a CloudFront Function), with a response headers policy (strict CSP, HSTS, nosniff, no framing, no
referrer) on every response.

Same origin is what lets the committed index.html (its <meta> CSP says `connect-src 'self'`, and a page
obeys its meta policy and the header policy both) talk to the API unmodified: config.json is {"api": "/api"}
here as it is behind local/gateway.py."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3_deployment
from constructs import Construct

from infra.bundling import REPO_ROOT
from infra.config import StageConfig
from infra.nag import acknowledge, skip_checkov

PORTAL_DIR = REPO_ROOT / "static_portal"
CONFIG_FILE = "config.json"  # {"api": API_PATH}: where the page's scripts send their calls
API_PATH = "/api"  # the portal API's prefix on the page's own origin (local/gateway.py uses the same)
API_PATH_PATTERN = f"{API_PATH}/*"
# Viewer request: /api/link -> /link, so the HTTP API's routes (infra/constructs/api.py) match unchanged. The
# behaviour's pattern sends only /api/... here (a bare /api, were it to arrive, would become /: a 404 at the
# gateway). The query string is not part of event.request.uri and goes through untouched.
STRIP_API_PREFIX_JS = f"""function handler(event) {{
  var request = event.request;
  var prefix = "{API_PATH}";
  if (request.uri === prefix || request.uri.indexOf(prefix + "/") === 0) {{
    request.uri = request.uri.substring(prefix.length) || "/";
  }}
  return request;
}}
"""
HSTS_MAX_AGE = Duration.days(365 * 2)


def content_security_policy() -> str:
    """Only the page's own files run and load; it connects only to its own origin (files and /api); nobody may
    frame it."""
    return "; ".join(
        [
            "default-src 'self'",
            "connect-src 'self'",
            "img-src 'self' data:",
            "script-src 'self'",
            "style-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "upgrade-insecure-requests",
        ]
    )


class PortalSiteConstruct(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        api_domain: str,
        access_logs: s3.IBucket,
        cdn_logs: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self.bucket = self._build_bucket(access_logs)
        self.headers_policy = self._build_headers_policy()
        self.distribution = self._build_distribution(cdn_logs)
        self.strip_api_prefix = self._build_api_behavior(api_domain)

    @property
    def origin(self) -> str:
        """The pay page's origin (https://<domain>), for CORS and the links in messages."""
        return f"https://{self._config.portal_domain or self.distribution.distribution_domain_name}"

    def deploy(self) -> s3_deployment.BucketDeployment:
        """Upload static_portal/ and a config.json pointing at /api (this origin), then invalidate the CDN's
        copies."""
        return s3_deployment.BucketDeployment(
            self,
            "Deployment",
            destination_bucket=self.bucket,
            sources=[
                s3_deployment.Source.asset(str(PORTAL_DIR), exclude=[CONFIG_FILE]),
                s3_deployment.Source.json_data(CONFIG_FILE, {"api": API_PATH}),
            ],
            distribution=self.distribution,
            distribution_paths=["/*"],
            prune=True,
            memory_limit=256,
        )

    def _build_bucket(self, access_logs: s3.IBucket) -> s3.Bucket:
        return s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,  # the page's public code: nothing secret at rest
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="s3/portal/",
            lifecycle_rules=[s3.LifecycleRule(id="ExpireOldVersions", noncurrent_version_expiration=Duration.days(30))],
            # Retained: CloudFormation cannot delete a bucket with objects (and versions) in it, and emptying it
            # would take another custom resource. It holds only the page's public code.
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _build_headers_policy(self) -> cloudfront.ResponseHeadersPolicy:
        return cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment="cleardue pay page: CSP, HSTS, nosniff, no framing, no referrer",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=content_security_policy(), override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=HSTS_MAX_AGE, include_subdomains=True, preload=True, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
            ),
        )

    def _build_distribution(self, cdn_logs: s3.IBucket) -> cloudfront.Distribution:
        config = self._config
        certificate = (
            acm.Certificate.from_certificate_arn(self, "Certificate", config.portal_certificate_arn)
            if config.portal_certificate_arn
            else None
        )
        distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"cleardue {config.stage} pay page",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self.headers_policy,
                compress=True,
            ),
            domain_names=[config.portal_domain] if config.portal_domain else None,
            certificate=certificate,
            # Only with a certificate of our own: CloudFront's default certificate fixes its own TLS floor.
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 if certificate else None,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            enable_logging=True,
            log_bucket=cdn_logs,
            log_file_prefix="cloudfront/portal/",
        )
        if certificate is None:
            reason = (
                "Without a portalDomain the page is served on CloudFront's own *.cloudfront.net certificate, whose "
                "TLS floor CloudFront sets; with -c portalDomain/portalCertificateArn the floor is TLS 1.2 (2021)."
            )
            acknowledge(distribution, "AwsSolutions-CFR4", reason)
            skip_checkov(distribution, "CKV_AWS_174", reason)
        waf = (
            "A static page and, under /api/*, the portal API, which is throttled at the gateway and authenticates "
            "every call (signed expiring link, identity check with a lock after 5 failures, then a session). Add a "
            "WAF web ACL (us-east-1) if the deployment needs one: this is an accessory until then."
        )
        acknowledge(distribution, "AwsSolutions-CFR2", waf)
        skip_checkov(distribution, "CKV_AWS_68", waf)
        geo = "Debtors live where the lenders' portfolios say; no country may be excluded up front."
        acknowledge(distribution, "AwsSolutions-CFR1", geo)
        skip_checkov(distribution, "CKV_AWS_374", geo)
        skip_checkov(
            distribution,
            "CKV_AWS_310",
            "One origin per path (the page's bucket, the regional HTTP API under /api/*), each a regional managed "
            "service with its own redundancy; there is no second copy to fail over to.",
        )
        return distribution

    def _build_api_behavior(self, api_domain: str) -> cloudfront.Function:
        """/api/* goes to the HTTP API: HTTPS only, every method, never cached, every viewer header but Host
        (API Gateway routes on its own host name; CloudFront forwards `Authorization`, the session, only with
        all viewer headers or in a cache key, per its guide's "HTTP 401" page), the prefix stripped at the
        edge."""
        strip_api_prefix = cloudfront.Function(
            self,
            "StripApiPrefix",
            comment="cleardue pay page: /api/<route> -> /<route> for the HTTP API",
            code=cloudfront.FunctionCode.from_inline(STRIP_API_PREFIX_JS),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
        )
        self.distribution.add_behavior(
            API_PATH_PATTERN,
            origins.HttpOrigin(
                api_domain,
                protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
                origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
            ),
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
            cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
            origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            response_headers_policy=self.headers_policy,
            compress=False,  # CloudFront compresses only what it may cache
            function_associations=[
                cloudfront.FunctionAssociation(
                    function=strip_api_prefix, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                )
            ],
        )
        return strip_api_prefix
