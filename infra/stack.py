"""The cleardue stack: composes one construct per concern and publishes the outputs scripts rely on."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from functions import names
from infra.constructs.data import TABLE_BINDINGS, DataConstruct
from infra.constructs.functions import INGEST_TIMEOUT, SENDER_TIMEOUT, FunctionsConstruct
from infra.constructs.messaging import MessagingConstruct
from infra.constructs.schedules import SchedulesConstruct
from infra.constructs.secrets import SecretsConstruct
from infra.constructs.storage import StorageConstruct

DEFAULT_SENDER_EMAIL = "reminders@example.com"


class ClearDueStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        sender_email = self.node.try_get_context("senderEmail") or DEFAULT_SENDER_EMAIL
        self.data = DataConstruct(self, "Data")
        self.storage = StorageConstruct(self, "Storage", key=self.data.key)
        self.messaging = MessagingConstruct(
            self, "Messaging", consumer_timeout=SENDER_TIMEOUT, ingest_timeout=INGEST_TIMEOUT
        )
        self.secrets = SecretsConstruct(self, "Secrets", key=self.data.key)
        self.functions = FunctionsConstruct(
            self,
            "Functions",
            data=self.data,
            storage=self.storage,
            messaging=self.messaging,
            secrets=self.secrets,
            sender_email=sender_email,
        )
        self.schedules = SchedulesConstruct(self, "Schedules", scheduler=self.functions.scheduler)
        self._build_outputs()

    def _build_outputs(self) -> None:
        outputs = {
            **{TABLE_BINDINGS[field].output_id: table.table_name for field, table in self.data.tables.items()},
            names.OUTPUT_PORTFOLIO_BUCKET: self.storage.portfolio_bucket.bucket_name,
            names.OUTPUT_EMAIL_QUEUE_URL: self.messaging.email_queue.queue_url,
            names.OUTPUT_EMAIL_DLQ_URL: self.messaging.email_dead_letter_queue.queue_url,
            names.OUTPUT_SMS_QUEUE_URL: self.messaging.sms_queue.queue_url,
            names.OUTPUT_SMS_DLQ_URL: self.messaging.sms_dead_letter_queue.queue_url,
            names.OUTPUT_INGEST_QUEUE_URL: self.messaging.ingest_queue.queue_url,
            names.OUTPUT_INGEST_DLQ_URL: self.messaging.ingest_dead_letter_queue.queue_url,
            names.OUTPUT_REGION: self.region,
        }
        for output_id, value in outputs.items():
            CfnOutput(self, output_id, value=value)
