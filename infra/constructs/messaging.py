"""The per-channel job queues and the installment charges queue (each with a dead-letter queue), the queue of
failed asynchronous invocations,
and e-mail events: the SES configuration set publishing to an SNS topic the webhooks function consumes."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from functions import names
from infra.nag import acknowledge, skip_checkov

# AWS's guidance for Lambda event sources: a visibility timeout of six times the consumer's timeout.
VISIBILITY_TO_CONSUMER_TIMEOUT = 6
DEAD_LETTER_RETENTION = Duration.days(14)  # SQS's maximum: two weeks to look at and redrive a failure

# What SES reports to the webhooks function (engagement, bounces, complaints, rendering problems). Not DELIVERY:
# the sender counts what it hands to SES as it claims the job; a receipt for nearly every email would cost an
# SNS publish, an invocation and a write each (functions/webhooks/feedback.py, Feedback.receipt).
PUBLISHED_EMAIL_EVENTS = (
    ses.EmailSendingEvent.BOUNCE,
    ses.EmailSendingEvent.COMPLAINT,
    ses.EmailSendingEvent.OPEN,
    ses.EmailSendingEvent.CLICK,
    ses.EmailSendingEvent.REJECT,
    ses.EmailSendingEvent.RENDERING_FAILURE,
)


def visibility_for(consumer_timeout: Duration) -> Duration:
    return Duration.seconds(consumer_timeout.to_seconds() * VISIBILITY_TO_CONSUMER_TIMEOUT)


class MessagingConstruct(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        sender_timeout: Duration,
        ingest_timeout: Duration,
        charger_timeout: Duration,
    ) -> None:
        super().__init__(scope, construct_id)
        # Every queue where failed work waits for a person, by a name for alarms and the dashboard.
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        self.email_queue, self.email_dead_letter_queue = self._build_job_queue("EmailJobs", sender_timeout)
        self.sms_queue, self.sms_dead_letter_queue = self._build_job_queue("SmsJobs", sender_timeout)
        # Chunks of portfolio uploads: `{"upload_id", "offset"}`, one per invocation.
        self.ingest_queue, self.ingest_dead_letter_queue = self._build_job_queue("IngestChunks", ingest_timeout)
        # Plan installments to charge off-session: one `core.installments.ChargeJob` per attempt (scheduler -> charger).
        self.charge_queue, self.charge_dead_letter_queue = self._build_job_queue("ChargeJobs", charger_timeout)
        self.failed_invocations = self._build_failed_invocations_queue()
        self.email_events_topic = self._build_email_events_topic(key)
        self.email_configuration_set = self._build_email_configuration_set(self.email_events_topic)

    def _build_dead_letter_queue(
        self, construct_id: str, encryption: sqs.QueueEncryption = sqs.QueueEncryption.KMS_MANAGED
    ) -> sqs.Queue:
        queue = sqs.Queue(
            self,
            construct_id,
            encryption=encryption,
            enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION,
        )
        acknowledge(queue, "AwsSolutions-SQS3", "This queue is itself a dead-letter queue (alarmed on its depth).")
        return queue

    def _build_job_queue(self, name: str, consumer_timeout: Duration) -> tuple[sqs.Queue, sqs.Queue]:
        dead_letter_queue = self._build_dead_letter_queue(f"{name}DeadLetters")
        queue = sqs.Queue(
            self,
            name,
            encryption=sqs.QueueEncryption.KMS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=visibility_for(consumer_timeout),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letter_queue, max_receive_count=names.MAX_RECEIVE_COUNT),
        )
        self.dead_letter_queues[name] = dead_letter_queue
        return queue, dead_letter_queue

    def _build_failed_invocations_queue(self) -> sqs.Queue:
        # Asynchronous invocations (S3 notifications, EventBridge ticks, SNS e-mail events) that still fail
        # after Lambda's retries land here instead of being dropped. SQS-managed encryption: EventBridge (a
        # service principal) cannot use the AWS-managed aws/sqs key that the job queues use.
        queue = self._build_dead_letter_queue("FailedInvocations", sqs.QueueEncryption.SQS_MANAGED)
        skip_checkov(
            queue,
            "CKV_AWS_27",
            "Encrypted at rest with SQS-managed keys (SSE-SQS), which this check does not recognise: EventBridge "
            "cannot write to a queue under the AWS-managed aws/sqs KMS key.",
        )
        self.dead_letter_queues["FailedInvocations"] = queue
        return queue

    def _build_email_events_topic(self, key: kms.IKey) -> sns.Topic:
        topic = sns.Topic(self, "EmailEvents", display_name="cleardue e-mail events", master_key=key, enforce_ssl=True)
        account = {"StringEquals": {"aws:SourceAccount": topic.stack.account}}
        # Two-way SMS (AWS End User Messaging) may deliver debtors' replies here too (docs/deploy.md).
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("sms-voice.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions=account,
            )
        )
        # SES (and SMS replies) publish to the encrypted topic: they need the data key, for this account only.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("ses.amazonaws.com"), iam.ServicePrincipal("sms-voice.amazonaws.com")],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],  # in a key policy "*" means this key
                conditions=account,
            )
        )
        return topic

    def _build_email_configuration_set(self, topic: sns.ITopic) -> ses.ConfigurationSet:
        configuration_set = ses.ConfigurationSet(
            self,
            "EmailConfigurationSet",
            reputation_metrics=True,
            tls_policy=ses.ConfigurationSetTlsPolicy.REQUIRE,
        )
        configuration_set.add_event_destination(
            "ToWebhooks",
            destination=ses.EventDestination.sns_topic(topic),
            events=list(PUBLISHED_EMAIL_EVENTS),
        )
        return configuration_set
