"""The HTTP API: the portal API's routes (docs/portal-api.md) and Stripe's webhook, throttled, CORS for the
pay page's origin only (when it is known before the API: see ClearDueStack), access-logged.

The pay page reaches the portal routes through its own CloudFront distribution under /api/* (same origin,
infra/constructs/portal.py); Stripe calls POST /webhooks/stripe on the API's own URL."""

from __future__ import annotations

import json

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.nag import acknowledge, acknowledge_resource

# The portal API's routes as docs/portal-api.md lists them (a test keeps the two equal). Unknown paths end
# at the gateway with a 404 and never reach a function.
PORTAL_ROUTES = (
    ("POST", "/link"),
    ("POST", "/session"),
    ("POST", "/unsubscribe"),
    ("GET", "/account"),
    ("POST", "/payments"),
    ("POST", "/plans"),
    ("POST", "/promises"),
    ("POST", "/disputes"),
    ("POST", "/hardship"),
    ("PUT", "/preferences"),
    ("GET", "/openapi.json"),
)
STRIPE_WEBHOOK_ROUTE = ("POST", "/webhooks/stripe")
# The ops API (docs/ops.md): signed with AWS credentials (SigV4) and authorized by IAM before the function runs.
OPS_ROUTES = (("GET", "/ops/{proxy+}"), ("POST", "/ops/{proxy+}"))
# Lender self-service on the same function and authorization (docs/ops.md, "Lenders").
LENDER_ROUTES = (("GET", "/lenders/{proxy+}"),)
# Across all callers: well above a portfolio's worth of debtors opening their links at once, well below
# what would exhaust the account's Lambda concurrency.
THROTTLE_RATE = 100
THROTTLE_BURST = 200
CORS_MAX_AGE = Duration.hours(1)

_ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "integrationLatency": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
}


class ApiConstruct(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        portal_origin: str | None,
        portal_api: lambda_.IFunction,
        stripe_webhooks: lambda_.IFunction,
        ops_api: lambda_.IFunction,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.http_api = self._build_api(portal_origin)
        self.stage = self._build_stage(key)
        self._add_routes(PORTAL_ROUTES, integrations.HttpLambdaIntegration("Portal", portal_api))
        self._add_routes((STRIPE_WEBHOOK_ROUTE,), integrations.HttpLambdaIntegration("Stripe", stripe_webhooks))
        ops_integration = integrations.HttpLambdaIntegration("Ops", ops_api)
        iam_authorizer = authorizers.HttpIamAuthorizer()
        self._add_routes(OPS_ROUTES, ops_integration, authorizer=iam_authorizer)
        self._add_routes(LENDER_ROUTES, ops_integration, authorizer=iam_authorizer)
        self.ops_invoke_policy, self.lender_invoke_policy = self._build_invoke_policies()
        acknowledge(
            self.http_api,
            "AwsSolutions-APIG4",
            "The routes authenticate their callers themselves: the portal with a signed, expiring pay link and the "
            "identity check behind it (then a session token), Stripe's webhook with its signature; the ops routes "
            "use IAM authorization (AWS_IAM, SigV4-signed requests).",
        )

    @property
    def domain_name(self) -> str:
        """The API's host (<id>.execute-api.<region>.amazonaws.com): the pay page's CloudFront origin for /api/*."""
        return f"{self.http_api.api_id}.execute-api.{Stack.of(self).region}.{Stack.of(self).url_suffix}"

    @property
    def url(self) -> str:
        """The API's base URL without a trailing slash (https://<id>.execute-api.<region>.amazonaws.com)."""
        return f"https://{self.domain_name}"

    def _build_api(self, portal_origin: str | None) -> apigw.HttpApi:
        # The page's calls are same-origin (through CloudFront), so they need no CORS; naming the page's origin
        # keeps any other origin's scripts from reading an answer should they call the API's own URL.
        cors = (
            apigw.CorsPreflightOptions(
                allow_origins=[portal_origin],
                allow_methods=[
                    apigw.CorsHttpMethod.GET,
                    apigw.CorsHttpMethod.POST,
                    apigw.CorsHttpMethod.PUT,
                    apigw.CorsHttpMethod.OPTIONS,
                ],
                allow_headers=["authorization", "content-type"],
                max_age=CORS_MAX_AGE,
            )
            if portal_origin
            else None
        )
        return apigw.HttpApi(
            self,
            "HttpApi",
            description="cleardue: the debtor's portal API and Stripe's webhook",
            create_default_stage=False,
            cors_preflight=cors,
        )

    def _build_invoke_policies(self) -> tuple[iam.ManagedPolicy, iam.ManagedPolicy]:
        """What to attach to the callers' roles: the ops team's (`cleardue-ops-*` roles: every ops and lender
        route) and a lender's (`cleardue-lender-<lender_id>` roles: the lender routes). Which lender a role sees
        is the ops function's decision, from the role's name (functions.ops.tenancy)."""
        ops = self._invoke_policy(
            "OpsInvokePolicy",
            "cleardue: call the ops API and every lender's self-service routes (cleardue-ops-* roles)",
            (("GET", "/ops/*"), ("POST", "/ops/*"), ("GET", "/lenders/*")),
        )
        lender = self._invoke_policy(
            "LenderInvokePolicy",
            "cleardue: a lender's self-service routes (cleardue-lender-<lender_id> roles)",
            (("GET", "/lenders/*"),),
        )
        return ops, lender

    def _invoke_policy(
        self, construct_id: str, description: str, routes: tuple[tuple[str, str], ...]
    ) -> iam.ManagedPolicy:
        stage = self.stage.stage_name
        policy = iam.ManagedPolicy(
            self,
            construct_id,
            description=description,
            statements=[
                iam.PolicyStatement(
                    actions=["execute-api:Invoke"],
                    resources=[self.http_api.arn_for_execute_api(method, path, stage) for method, path in routes],
                )
            ],
        )
        stack = Stack.of(self)
        api = stack.resolve(stack.get_logical_id(self.http_api.node.default_child))  # type: ignore[arg-type]
        for method, path in routes:
            arn = f"arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<{api}>/{stage}/{method}{path}"
            acknowledge_resource(
                policy,
                arn,
                "Invoke on the API's own routes under one path: the paths carry lender and account ids; the ops "
                "function scopes each request to the lenders the caller's role names.",
            )
        return policy

    def _build_stage(self, key: kms.IKey) -> apigw.HttpStage:
        stage = apigw.HttpStage(
            self,
            "DefaultStage",
            http_api=self.http_api,
            auto_deploy=True,
            throttle=apigw.ThrottleSettings(rate_limit=THROTTLE_RATE, burst_limit=THROTTLE_BURST),
        )
        access_logs = logs.LogGroup(self, "AccessLogs", retention=logs.RetentionDays.ONE_MONTH, encryption_key=key)
        cfn_stage: apigw.CfnStage = stage.node.default_child  # type: ignore[assignment]
        cfn_stage.access_log_settings = apigw.CfnStage.AccessLogSettingsProperty(
            destination_arn=access_logs.log_group_arn, format=json.dumps(_ACCESS_LOG_FORMAT)
        )
        return stage

    def _add_routes(
        self,
        routes: tuple[tuple[str, str], ...],
        integration: apigw.HttpRouteIntegration,
        authorizer: apigw.IHttpRouteAuthorizer | None = None,
    ) -> None:
        for method, path in routes:
            self.http_api.add_routes(
                path=path, methods=[apigw.HttpMethod(method)], integration=integration, authorizer=authorizer
            )
