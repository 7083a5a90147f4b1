"""The Lambda functions: one code asset, one dependency layer, and each function's triggers and grants."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3_notifications
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from functions import names
from functions.store.manifests import MANIFEST_PREFIX
from infra import bundling
from infra.config import StageConfig
from infra.constructs.data import DataConstruct
from infra.constructs.messaging import MessagingConstruct
from infra.constructs.secrets import SecretsConstruct
from infra.constructs.storage import StorageConstruct
from infra.nag import acknowledge, acknowledge_resource, skip_checkov

RUNTIME = lambda_.Runtime.PYTHON_3_11
ARCHITECTURE = lambda_.Architecture.ARM_64
METRICS_NAMESPACE = "cleardue"  # functions.observability.METRICS_NAMESPACE (not imported: it starts Powertools)
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
SENDER_TIMEOUT = Duration.seconds(30)
INGEST_TIMEOUT = Duration.minutes(15)  # a chunk runs until 60 s before this, then queues the next one
API_TIMEOUT = Duration.seconds(10)  # the HTTP API gives up after 30 s; Stripe calls take a few hundred ms
# A batch of charge jobs: each is one Stripe call (a few hundred ms; the SDK retries a failed connection twice).
CHARGER_TIMEOUT = Duration.seconds(60)

# Entry points, as dotted paths into the `functions` package.
INGEST_HANDLER = "functions.ingest.handler.lambda_handler"
SCHEDULER_HANDLER = "functions.scheduler.handler.lambda_handler"
EMAIL_SENDER_HANDLER = "functions.sender.handler.email_handler"
SMS_SENDER_HANDLER = "functions.sender.handler.sms_handler"
PORTAL_API_HANDLER = "functions.portal_api.handler.handler"
STRIPE_WEBHOOK_HANDLER = "functions.webhooks.handler.stripe_handler"
EMAIL_EVENTS_HANDLER = "functions.webhooks.handler.events_handler"
CHARGER_HANDLER = "functions.charger.handler.lambda_handler"
OPS_HANDLER = "functions.ops.handler.handler"
REPORTS_HANDLER = "functions.reports.handler.lambda_handler"
REPORTS_TIMEOUT = Duration.minutes(15)  # every lender's report in one daily run (docs/reports.md: limits)


@dataclass(frozen=True)
class FunctionSpec:
    """A function's id in the stack, its entry point and its size."""

    construct_id: str
    handler: str
    service: str  # POWERTOOLS_SERVICE_NAME: the `service` dimension of the function's metrics
    timeout: Duration
    memory_size: int


# 1769 MB is one full vCPU: parsing and validating rows, and the reports' figures and charts, are CPU-bound.
# The portal API's 1024 MB are for the cold start of a debtor's first request: more memory is more CPU.
INGEST = FunctionSpec("Ingest", INGEST_HANDLER, "ingest", INGEST_TIMEOUT, 1769)
SCHEDULER = FunctionSpec("Scheduler", SCHEDULER_HANDLER, "scheduler", Duration.minutes(5), 512)
EMAIL_SENDER = FunctionSpec("EmailSender", EMAIL_SENDER_HANDLER, "sender", SENDER_TIMEOUT, 512)
SMS_SENDER = FunctionSpec("SmsSender", SMS_SENDER_HANDLER, "sender", SENDER_TIMEOUT, 512)
PORTAL_API = FunctionSpec("PortalApi", PORTAL_API_HANDLER, "portal_api", API_TIMEOUT, 1024)
STRIPE_WEBHOOKS = FunctionSpec("StripeWebhooks", STRIPE_WEBHOOK_HANDLER, "webhooks", API_TIMEOUT, 512)
EMAIL_EVENTS = FunctionSpec("EmailEvents", EMAIL_EVENTS_HANDLER, "webhooks", Duration.seconds(30), 512)
CHARGER = FunctionSpec("Charger", CHARGER_HANDLER, "charger", CHARGER_TIMEOUT, 512)
OPS = FunctionSpec("Ops", OPS_HANDLER, "ops", Duration.seconds(29), 1024)
REPORTS = FunctionSpec("Reports", REPORTS_HANDLER, "reports", REPORTS_TIMEOUT, 1769)

# At most this many concurrent senders per channel: SES and SNS send quotas are per second, and the
# rest of the account's Lambda concurrency stays free for the portal and webhooks.
EMAIL_MAX_CONCURRENCY = 5
SMS_MAX_CONCURRENCY = 2
SENDER_BATCH_SIZE = 10
# Off-session charges: SQS's smallest max concurrency keeps them far below Stripe's rate limits (100/s live).
CHARGER_MAX_CONCURRENCY = 2
CHARGER_BATCH_SIZE = 10

_NO_VPC = (
    "No resource of the stack lives in a VPC (DynamoDB, S3, SQS, SES, SNS, Secrets Manager are reached over "
    "TLS with IAM); a VPC would add NAT gateways and cold-start cost and protect nothing."
)
_CONCURRENCY = (
    "Concurrency is bounded where it matters, per channel on the SQS event sources (max concurrency) and by "
    "the HTTP API's throttling; reserved concurrency would fail deployment in new accounts (limit 10)."
)


class FunctionsConstruct(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        key: kms.IKey,
        data: DataConstruct,
        storage: StorageConstruct,
        messaging: MessagingConstruct,
        secrets: SecretsConstruct,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._key = key
        self._data = data
        self._messaging = messaging
        self._secrets = secrets
        self._code = bundling.functions_code()
        # Every function by its construct id (alarms, dashboard), in the order they are built.
        self.all: dict[str, lambda_.Function] = {}
        self.dependencies = self._build_dependencies_layer()
        self.ingest = self._build_ingest(storage.portfolio_bucket)
        self.scheduler = self._build_scheduler(storage.portfolio_bucket)
        self.email_sender = self._build_email_sender()
        self.sms_sender = self._build_sms_sender()
        self.portal_api = self._build_portal_api()
        self.stripe_webhooks = self._build_stripe_webhooks()
        self.email_events = self._build_email_events()
        self.charger = self._build_charger()
        self.ops = self._build_ops(storage.portfolio_bucket)
        self.reports = self._build_reports(storage.portfolio_bucket)

    def link_to_portal(self, *, portal_url: str, api_url: str) -> None:
        """The URLs messages and the portal API put in front of debtors (known once the API and CDN exist)."""
        for function in (self.email_sender, self.sms_sender, self.portal_api, self.stripe_webhooks):
            function.add_environment(names.ENV_PORTAL_URL, portal_url)
            function.add_environment(names.ENV_PORTAL_API_URL, api_url)

    def _build_dependencies_layer(self) -> lambda_.LayerVersion:
        return lambda_.LayerVersion(
            self,
            "Dependencies",
            code=bundling.dependencies_code(RUNTIME, ARCHITECTURE),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="cleardue runtime dependencies (pyproject.toml [project].dependencies)",
        )

    def _build_function(
        self,
        spec: FunctionSpec,
        *,
        environment: dict[str, str] | None = None,
        retry_attempts: int | None = None,
        failures: sqs.IQueue | None = None,
        layers: list[lambda_.ILayerVersion] | None = None,
    ) -> lambda_.Function:
        log_group = logs.LogGroup(self, f"{spec.construct_id}Logs", retention=LOG_RETENTION, encryption_key=self._key)
        function = lambda_.Function(
            self,
            spec.construct_id,
            description=f"cleardue {self._config.stage}: {spec.handler}",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=self._code,
            handler=spec.handler,
            layers=layers or [self.dependencies],
            timeout=spec.timeout,
            memory_size=spec.memory_size,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            retry_attempts=retry_attempts,
            dead_letter_queue=failures,
            environment_encryption=self._key,
            environment={
                **self._data.table_environment(),
                names.ENV_DUE_SHARDS: str(names.DEFAULT_DUE_SHARDS),
                # Debtor PII is sealed under per-debtor keys wrapped by KEKs this key wraps (functions/store/pii.py).
                names.ENV_PII_KEY_ID: self._key.key_arn,
                "POWERTOOLS_SERVICE_NAME": spec.service,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": "INFO",
                "POWERTOOLS_TRACE_DISABLED": "false" if self._config.xray_sdk else "true",
                "LOG_LEVEL": "INFO",
                **(environment or {}),
            },
        )
        self._acknowledge_common_findings(function)
        skip_checkov(function, "CKV_AWS_117", _NO_VPC)
        skip_checkov(function, "CKV_AWS_115", _CONCURRENCY)
        if failures is None:
            skip_checkov(
                function,
                "CKV_AWS_116",
                "Invoked synchronously (HTTP API) or by an SQS event source, whose queue has its own dead-letter "
                "queue: a function dead-letter queue would never receive anything.",
            )
        # The role's only managed policy is AWSLambdaBasicExecutionRole (its own logs); data access is granted.
        acknowledge(
            function,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "AWS's minimal Lambda execution policy: writes to the function's own log streams only.",
        )
        self.all[spec.construct_id] = function
        return function

    def _grant_pii_keys(self, function: lambda_.Function) -> None:
        """The PII key hierarchy (functions/store/pii.py): a KEK is a KMS data key stored wrapped in the keys
        table, decrypted once per container; a tenant's first one is generated (GenerateDataKey once, ever) and
        written once (PutItem, never changed)."""
        self._key.grant(function, "kms:Decrypt", "kms:GenerateDataKey")
        self._data.keys.grant_read_data(function)
        self._data.keys.grant(function, "dynamodb:PutItem")

    def _grant_account_writer(self, function: lambda_.Function) -> None:
        """What every function that changes an account needs: accounts read/update, audit append, policies,
        and the PII keys that open the debtor's fields."""
        data = self._data
        self._grant_pii_keys(function)
        data.grant_read_update(data.accounts, function)
        data.grant_append(data.events, function)
        data.lenders.grant_read_data(function)

    def _build_ingest(self, bucket: s3.Bucket) -> lambda_.Function:
        messaging, secrets = self._messaging, self._secrets
        function = self._build_function(
            INGEST,
            environment={
                names.ENV_PORTFOLIO_BUCKET: bucket.bucket_name,
                names.ENV_VERIFICATION_KEY_SECRET: secrets.verification_key.secret_arn,
                names.ENV_INGEST_QUEUE_URL: messaging.ingest_queue.queue_url,
            },
            failures=messaging.failed_invocations,  # S3 notifications are asynchronous invocations
        )
        secrets.verification_key.grant_read(function)
        self._grant_bucket_access(function, bucket)
        for prefix, suffix in names.NOTIFIED_FILES:
            bucket.add_event_notification(
                s3.EventType.OBJECT_CREATED,
                s3_notifications.LambdaDestination(function),
                s3.NotificationKeyFilter(prefix=prefix, suffix=suffix),
            )
        messaging.ingest_queue.grant_send_messages(function)
        function.add_event_source(
            event_sources.SqsEventSource(messaging.ingest_queue, batch_size=1, report_batch_item_failures=True)
        )
        data = self._data
        self._grant_pii_keys(function)
        data.grant_read_update(data.accounts, function)
        # New accounts: BatchWriteItem on a lender's first upload, conditional puts in transactions after.
        data.accounts.grant(function, "dynamodb:PutItem", "dynamodb:BatchWriteItem")
        data.grant_append(data.events, function)
        data.uploads.grant_read_write_data(function)
        data.lenders.grant_read_data(function)
        data.lenders.grant(function, "dynamodb:PutItem")  # policy files
        return function

    def _grant_bucket_access(self, function: lambda_.Function, bucket: s3.Bucket) -> None:
        """Named actions only (no s3:GetObject*): read the lenders' files, write reports and manifests."""
        readable = (names.PORTFOLIO_PREFIX, names.POLICY_PREFIX, MANIFEST_PREFIX, names.REPORTS_PREFIX)
        writable = (names.REPORTS_PREFIX, MANIFEST_PREFIX)
        function.add_to_role_policy(
            iam.PolicyStatement(
                # GetObjectVersion: an upload is read at the version S3 announced, even if replaced since.
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[bucket.arn_for_objects(f"{prefix}*") for prefix in readable],
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[bucket.arn_for_objects(f"{p}*") for p in writable])
        )
        # Listing: a report's parts, and a missing manifest answers 404 rather than 403.
        function.add_to_role_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn]))
        logical_id = self._logical_id(bucket)
        for prefix in readable:
            acknowledge_resource(
                function,
                f"<{logical_id}.Arn>/{prefix}*",
                f"Objects under {prefix} only: the files are named by lenders and uploads, unknown until they arrive.",
            )

    def _logical_id(self, construct: Construct) -> str:
        stack = Stack.of(self)
        return str(stack.resolve(stack.get_logical_id(construct.node.default_child)))  # type: ignore[arg-type]

    def _acknowledge_common_findings(self, function: lambda_.Function) -> None:
        acknowledge_resource(
            function,
            "*",
            "X-Ray's PutTraceSegments/PutTelemetryRecords (active tracing) have no resource ARN: IAM requires '*'.",
        )
        for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*"):
            acknowledge(
                function,
                f"AwsSolutions-IAM5[Action::{action}]",
                "CDK's encrypt grant on the stack's one customer-managed key (the tables' and bucket's encryption); "
                "no data action is a wildcard.",
            )
        acknowledge_resource(
            function,
            f"<{self._logical_id(self._data.accounts)}.Arn>/index/*",
            "Queries on the accounts table's own indexes (due, by_lender, by_link), which only its grants reach.",
        )
        acknowledge_resource(
            function,
            f"<{self._logical_id(self._data.uploads)}.Arn>/index/*",
            "Queries on the uploads table's own index (by_lender), which only its grants reach.",
        )
        acknowledge(
            function,
            "AwsSolutions-L1",
            "Python 3.11 is the version the code, its tests and the dependency layer are built and verified with "
            "(pyproject requires-python); moving to a newer runtime is a tested change of RUNTIME, not a default.",
        )

    def _build_scheduler(self, bucket: s3.Bucket) -> lambda_.Function:
        messaging = self._messaging
        function = self._build_function(
            SCHEDULER,
            environment={
                names.ENV_EMAIL_QUEUE_URL: messaging.email_queue.queue_url,
                names.ENV_SMS_QUEUE_URL: messaging.sms_queue.queue_url,
                names.ENV_CHARGE_QUEUE_URL: messaging.charge_queue.queue_url,
                names.ENV_PROPENSITY_MODEL: f"s3://{bucket.bucket_name}/{names.PROPENSITY_MODEL_KEY}",
            },
            # The next tick, 15 minutes later, is the retry: a retried tick would plan with a stale "now".
            retry_attempts=0,
            failures=messaging.failed_invocations,
        )
        messaging.email_queue.grant_send_messages(function)
        messaging.sms_queue.grant_send_messages(function)
        messaging.charge_queue.grant_send_messages(function)
        self._grant_account_writer(function)
        self._data.experiments.grant_read_data(function)  # the message experiments' standings, send-time priors
        # The propensity model `cleardue train --bucket` publishes (absent: the shipped default), read per container.
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[bucket.arn_for_objects(names.PROPENSITY_MODEL_KEY)]
            )
        )
        self._data.key.grant_decrypt(function)  # the bucket's objects are encrypted with the stack's key
        return function

    def _build_sender(
        self, spec: FunctionSpec, queue: sqs.IQueue, max_concurrency: int, environment: dict[str, str]
    ) -> lambda_.Function:
        function = self._build_function(
            spec, environment={names.ENV_LINK_KEY_SECRET: self._secrets.link_key.secret_arn, **environment}
        )
        function.add_event_source(
            event_sources.SqsEventSource(
                queue,
                batch_size=SENDER_BATCH_SIZE,
                report_batch_item_failures=True,
                max_concurrency=max_concurrency,
            )
        )
        self._secrets.link_key.grant_read(function)  # pay links in the messages
        self._grant_account_writer(function)
        self._data.idempotency.grant_read_write_data(function)  # the batch claims (store.events.ClaimModel)
        self._data.grant_read_update(self._data.experiments, function)  # exposures: atomic ADD
        return function

    def _build_email_sender(self) -> lambda_.Function:
        configuration_set = self._messaging.email_configuration_set
        function = self._build_sender(
            EMAIL_SENDER,
            self._messaging.email_queue,
            EMAIL_MAX_CONCURRENCY,
            {
                names.ENV_DEFAULT_SENDER_EMAIL: self._config.sender_email,
                names.ENV_SES_CONFIGURATION_SET: configuration_set.configuration_set_name,
            },
        )
        stack = Stack.of(self)
        identity = stack.format_arn(service="ses", resource="identity", resource_name="*")
        iam.Grant.add_to_principal(
            grantee=function,
            actions=["ses:SendEmail", "ses:SendRawEmail"],
            resource_arns=[
                identity,
                stack.format_arn(
                    service="ses", resource="configuration-set", resource_name=configuration_set.configuration_set_name
                ),
            ],
        )
        acknowledge_resource(
            function,
            "arn:<AWS::Partition>:ses:<AWS::Region>:<AWS::AccountId>:identity/*",
            "Each lender sends from its own verified SES identity (an address or a domain), added after deployment; "
            "the action is SendEmail only, within this account and region.",
        )
        return function

    def _build_sms_sender(self) -> lambda_.Function:
        function = self._build_sender(
            SMS_SENDER,
            self._messaging.sms_queue,
            SMS_MAX_CONCURRENCY,
            {names.ENV_SMS_SENDER_ID: self._config.sms_sender_id},
        )
        self._grant_text_messages(function)
        return function

    def _grant_text_messages(self, function: lambda_.Function) -> None:
        """SMS to phone numbers only."""
        # Publishing to a phone number has no resource ARN: IAM only accepts "*" for it. Topics are denied,
        # so the function can text a debtor and do nothing else with SNS.
        function.add_to_role_policy(iam.PolicyStatement(actions=["sns:Publish"], resources=["*"]))
        function.add_to_role_policy(
            iam.PolicyStatement(
                effect=iam.Effect.DENY,
                actions=["sns:Publish"],
                resources=[Stack.of(self).format_arn(service="sns", region="*", account="*", resource="*")],
            )
        )
        skip_checkov(
            function.role.node.find_child("DefaultPolicy"),  # type: ignore[union-attr]
            "CKV_AWS_111",
            "sns:Publish to a phone number (an SMS) has no resource ARN; publishing to any topic is denied.",
        )
        acknowledge_resource(
            function,
            "*",
            "sns:Publish to a phone number (an SMS) and X-Ray's trace writes have no resource ARN, so IAM requires "
            "'*'; publishing to any topic is explicitly denied.",
        )

    def _build_portal_api(self) -> lambda_.Function:
        secrets = self._secrets
        function = self._build_function(
            PORTAL_API,
            environment={
                names.ENV_LINK_KEY_SECRET: secrets.link_key.secret_arn,
                names.ENV_VERIFICATION_KEY_SECRET: secrets.verification_key.secret_arn,
                names.ENV_STRIPE_SECRET: secrets.stripe.secret_arn,
            },
        )
        for secret in (secrets.link_key, secrets.verification_key, secrets.stripe):
            secret.grant_read(function)
        self._grant_account_writer(function)
        self._data.idempotency.grant_read_write_data(function)
        self._data.experiments.grant(function, "dynamodb:UpdateItem")  # a visit's send-time prior: atomic ADD
        return function

    def _build_stripe_webhooks(self) -> lambda_.Function:
        messaging = self._messaging
        function = self._build_function(STRIPE_WEBHOOKS, environment=self._webhooks_environment())
        self._secrets.stripe.grant_read(function)
        messaging.email_queue.grant_send_messages(function)  # receipts
        messaging.sms_queue.grant_send_messages(function)
        self._grant_account_writer(function)
        self._data.idempotency.grant_read_write_data(function)
        # Rewards: a once-only marker (PutItem) and the atomic ADD (UpdateItem) in one transaction.
        self._data.grant_read_update(self._data.experiments, function)
        self._data.experiments.grant(function, "dynamodb:PutItem")
        return function

    def _webhooks_environment(self) -> dict[str, str]:
        messaging = self._messaging
        return {
            names.ENV_STRIPE_SECRET: self._secrets.stripe.secret_arn,
            names.ENV_EMAIL_QUEUE_URL: messaging.email_queue.queue_url,
            names.ENV_SMS_QUEUE_URL: messaging.sms_queue.queue_url,
            names.ENV_SMS_SENDER_ID: self._config.sms_sender_id,
        }

    def _build_email_events(self) -> lambda_.Function:
        messaging = self._messaging
        function = self._build_function(
            EMAIL_EVENTS,
            # Both webhook entry points share one settings model; this one never reads the Stripe secret.
            environment=self._webhooks_environment(),
            failures=messaging.failed_invocations,  # SNS invokes asynchronously
        )
        messaging.email_events_topic.add_subscription(subscriptions.LambdaSubscription(function))
        self._grant_text_messages(function)  # answers to HELP / STOP replies
        self._grant_account_writer(function)
        self._data.idempotency.grant_read_write_data(function)
        self._data.experiments.grant(function, "dynamodb:UpdateItem")  # responses' send-time priors: atomic ADD
        return function

    def _build_charger(self) -> lambda_.Function:
        """Plan installments charged off-session; Stripe's answer comes back through the webhooks function."""
        function = self._build_function(CHARGER, environment={names.ENV_STRIPE_SECRET: self._secrets.stripe.secret_arn})
        function.add_event_source(
            event_sources.SqsEventSource(
                self._messaging.charge_queue,
                batch_size=CHARGER_BATCH_SIZE,
                report_batch_item_failures=True,
                max_concurrency=CHARGER_MAX_CONCURRENCY,
            )
        )
        self._secrets.stripe.grant_read(function)
        self._grant_account_writer(function)
        return function

    def _build_ops(self, bucket: s3.Bucket) -> lambda_.Function:
        """The ops API (behind IAM authorization on the HTTP API): reads a lender's accounts and their trails,
        changes an account's state and flags (UpdateItem), offers a settlement, appends the audit event; for
        lender self-service, reads the lenders' uploads and their reports (and pre-signs downloads of them)."""
        function = self._build_function(OPS, environment={names.ENV_PORTFOLIO_BUCKET: bucket.bucket_name})
        self._grant_account_writer(function)
        self._data.uploads.grant_read_data(function)
        # Reports only (a pre-signed URL carries the signer's permission: GetObject on reports/*, nothing else).
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"{names.REPORTS_PREFIX}*")]
            )
        )
        acknowledge_resource(
            function,
            f"<{self._logical_id(bucket)}.Arn>/{names.REPORTS_PREFIX}*",
            "Objects under reports/ only: named by lender and upload; the function builds each key from the "
            "caller's authorized lender and an upload of that lender.",
        )
        return function

    def _build_reports(self, bucket: s3.Bucket) -> lambda_.Function:
        """The daily lender reports (functions/reports): read a lender's accounts (by_lender, then BatchGetItem of
        non-personal attributes), their trails, policies, experiment standings and send-time priors, and the
        published propensity model; write reports/<lender>/<date>/.
        Its own layer (matplotlib for the charts, without the libraries it never imports): the shared layer plus
        matplotlib would pass Lambda's 250 MB unzipped limit."""
        self.reports_dependencies = lambda_.LayerVersion(
            self,
            "ReportsDependencies",
            code=bundling.reports_dependencies_code(RUNTIME, ARCHITECTURE),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="cleardue reports function dependencies (the runtime ones it imports + matplotlib)",
        )
        function = self._build_function(
            REPORTS,
            environment={
                names.ENV_PORTFOLIO_BUCKET: bucket.bucket_name,
                "MPLCONFIGDIR": "/tmp/matplotlib",  # matplotlib's font cache: /tmp is Lambda's only writable place
                # The propensity model the scheduler uses, for the report's "what cleardue learned" section.
                names.ENV_PROPENSITY_MODEL: f"s3://{bucket.bucket_name}/{names.PROPENSITY_MODEL_KEY}",
            },
            retry_attempts=0,  # EventBridge retries the scheduled invocation (its rule's target)
            failures=self._messaging.failed_invocations,
            layers=[self.reports_dependencies],
        )
        data = self._data
        for table in (data.accounts, data.events, data.experiments, data.lenders):
            table.grant_read_data(function)
        data.key.grant_encrypt_decrypt(function)  # the bucket's objects are encrypted with the stack's key
        reports = bucket.arn_for_objects(f"{names.REPORTS_PREFIX}*")
        function.add_to_role_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[reports]))
        # Reads only the latest.json pointers (is a later day's report already there?).
        pointers = bucket.arn_for_objects(f"{names.REPORTS_PREFIX}*/latest.json")
        function.add_to_role_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[pointers]))
        # ... and the published propensity model (the scheduler's: its version and evaluation go in the report).
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[bucket.arn_for_objects(names.PROPENSITY_MODEL_KEY)]
            )
        )
        logical_id = self._logical_id(bucket)
        acknowledge_resource(
            function,
            f"<{logical_id}.Arn>/{names.REPORTS_PREFIX}*",
            "Writes objects under reports/ only: reports/<lender>/<date>/ for each lender, unknown until the run.",
        )
        acknowledge_resource(
            function,
            f"<{logical_id}.Arn>/{names.REPORTS_PREFIX}*/latest.json",
            "Reads each lender's latest.json pointer only (the lender is known at run time).",
        )
        return function
