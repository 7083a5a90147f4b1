"""The Lambda functions: one code asset, one dependency layer, and each function's triggers and grants."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3_notifications
from constructs import Construct

from functions import names
from functions.store.manifests import MANIFEST_PREFIX
from infra import bundling
from infra.constructs.data import DataConstruct
from infra.constructs.messaging import MessagingConstruct
from infra.constructs.secrets import SecretsConstruct
from infra.constructs.storage import StorageConstruct

RUNTIME = lambda_.Runtime.PYTHON_3_11
ARCHITECTURE = lambda_.Architecture.ARM_64
SENDER_TIMEOUT = Duration.seconds(30)
INGEST_TIMEOUT = Duration.minutes(15)  # a chunk runs until 60 s before this, then queues the next one

INGEST_HANDLER = "functions.ingest.handler.lambda_handler"
SCHEDULER_HANDLER = "functions.scheduler.handler.lambda_handler"
SENDER_HANDLER = "functions.sender.handler.lambda_handler"


class FunctionsConstruct(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        data: DataConstruct,
        storage: StorageConstruct,
        messaging: MessagingConstruct,
        secrets: SecretsConstruct,
        sender_email: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self._data = data
        self._code = bundling.functions_code()
        self.dependencies = self._build_dependencies_layer()
        self.ingest = self._build_ingest(storage.portfolio_bucket, secrets, messaging)
        self.scheduler = self._build_scheduler(messaging)
        self.sender = self._build_sender(messaging, sender_email)

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
        name: str,
        handler: str,
        *,
        timeout: Duration,
        memory_size: int,
        environment: dict[str, str] | None = None,
        retry_attempts: int | None = None,
    ) -> lambda_.Function:
        log_group = logs.LogGroup(self, f"{name.capitalize()}Logs", retention=logs.RetentionDays.ONE_MONTH)
        return lambda_.Function(
            self,
            name.capitalize(),
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=self._code,
            handler=handler,
            layers=[self.dependencies],
            timeout=timeout,
            memory_size=memory_size,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            retry_attempts=retry_attempts,
            environment={
                **self._data.table_environment(),
                names.ENV_DUE_SHARDS: str(names.DEFAULT_DUE_SHARDS),
                "POWERTOOLS_SERVICE_NAME": name,
                "POWERTOOLS_METRICS_NAMESPACE": "cleardue",
                "LOG_LEVEL": "INFO",
                **(environment or {}),
            },
        )

    def _build_ingest(
        self, bucket: s3.Bucket, secrets: SecretsConstruct, messaging: MessagingConstruct
    ) -> lambda_.Function:
        function = self._build_function(
            "ingest",
            INGEST_HANDLER,
            timeout=INGEST_TIMEOUT,
            memory_size=1769,  # one full vCPU: parsing and validating rows is CPU-bound
            environment={
                names.ENV_PORTFOLIO_BUCKET: bucket.bucket_name,
                names.ENV_VERIFICATION_KEY_SECRET: secrets.verification_key.secret_arn,
                names.ENV_INGEST_QUEUE_URL: messaging.ingest_queue.queue_url,
            },
        )
        secrets.verification_key.grant_read(function)
        for prefix in (names.PORTFOLIO_PREFIX, names.POLICY_PREFIX, MANIFEST_PREFIX, names.REPORTS_PREFIX):
            bucket.grant_read(function, f"{prefix}*")
        for prefix in (names.REPORTS_PREFIX, MANIFEST_PREFIX):
            bucket.grant_put(function, f"{prefix}*")
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
        data.grant_read_update(data.accounts, function)
        # New accounts: BatchWriteItem on a lender's first upload, conditional puts in transactions after.
        data.accounts.grant(function, "dynamodb:PutItem", "dynamodb:BatchWriteItem")
        data.grant_append(data.events, function)
        data.uploads.grant_read_write_data(function)
        data.lenders.grant_read_data(function)
        data.lenders.grant(function, "dynamodb:PutItem")  # policy files
        return function

    def _build_scheduler(self, messaging: MessagingConstruct) -> lambda_.Function:
        function = self._build_function(
            "scheduler",
            SCHEDULER_HANDLER,
            timeout=Duration.minutes(5),
            memory_size=512,
            environment={
                names.ENV_EMAIL_QUEUE_URL: messaging.email_queue.queue_url,
                names.ENV_SMS_QUEUE_URL: messaging.sms_queue.queue_url,
            },
            # The next tick, 15 minutes later, is the retry: a retried tick would plan with a stale "now".
            retry_attempts=0,
        )
        messaging.email_queue.grant_send_messages(function)
        messaging.sms_queue.grant_send_messages(function)
        data = self._data
        data.grant_read_update(data.accounts, function)
        data.grant_append(data.events, function)
        data.lenders.grant_read_data(function)
        return function

    def _build_sender(self, messaging: MessagingConstruct, sender_email: str) -> lambda_.Function:
        configuration_set = messaging.email_configuration_set
        function = self._build_function(
            "sender",
            SENDER_HANDLER,
            timeout=SENDER_TIMEOUT,
            memory_size=512,
            environment={
                names.ENV_DEFAULT_SENDER_EMAIL: sender_email,
                names.ENV_SES_CONFIGURATION_SET: configuration_set.configuration_set_name,
            },
        )
        function.add_event_source(
            event_sources.SqsEventSource(
                messaging.email_queue, batch_size=10, report_batch_item_failures=True, max_concurrency=5
            )
        )
        stack = Stack.of(self)
        iam.Grant.add_to_principal(
            grantee=function,
            actions=["ses:SendEmail", "ses:SendRawEmail"],
            resource_arns=[
                stack.format_arn(service="ses", resource="identity", resource_name="*"),
                stack.format_arn(
                    service="ses", resource="configuration-set", resource_name=configuration_set.configuration_set_name
                ),
            ],
        )
        data = self._data
        data.grant_read_update(data.accounts, function)
        data.grant_append(data.events, function)
        data.lenders.grant_read_data(function)
        data.idempotency.grant_read_write_data(function)
        return function
