"""The per-channel job queues (each with a dead-letter queue) and the SES configuration set."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from functions import names

# AWS's guidance for Lambda event sources: a visibility timeout of six times the consumer's timeout.
VISIBILITY_TO_CONSUMER_TIMEOUT = 6


def _visibility(consumer_timeout: Duration) -> Duration:
    return Duration.seconds(consumer_timeout.to_seconds() * VISIBILITY_TO_CONSUMER_TIMEOUT)


class MessagingConstruct(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, consumer_timeout: Duration, ingest_timeout: Duration
    ) -> None:
        super().__init__(scope, construct_id)
        visibility_timeout = _visibility(consumer_timeout)
        self.email_queue, self.email_dead_letter_queue = self._build_job_queue("EmailJobs", visibility_timeout)
        self.sms_queue, self.sms_dead_letter_queue = self._build_job_queue("SmsJobs", visibility_timeout)
        # Chunks of portfolio uploads: `{"upload_id", "offset"}`, one per invocation.
        self.ingest_queue, self.ingest_dead_letter_queue = self._build_job_queue(
            "IngestChunks", _visibility(ingest_timeout)
        )
        self.email_configuration_set = self._build_email_configuration_set()

    def _build_job_queue(self, name: str, visibility_timeout: Duration) -> tuple[sqs.Queue, sqs.Queue]:
        dead_letter_queue = sqs.Queue(
            self,
            f"{name}DeadLetters",
            encryption=sqs.QueueEncryption.KMS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        queue = sqs.Queue(
            self,
            name,
            encryption=sqs.QueueEncryption.KMS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=visibility_timeout,
            dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letter_queue, max_receive_count=names.MAX_RECEIVE_COUNT),
        )
        return queue, dead_letter_queue

    def _build_email_configuration_set(self) -> ses.ConfigurationSet:
        return ses.ConfigurationSet(self, "EmailConfigurationSet", reputation_metrics=True)
