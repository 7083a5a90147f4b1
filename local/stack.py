"""The local stack: moto in server mode with every table, bucket and queue the CDK stack deploys.

boto3 and pynamodb reach it through AWS_ENDPOINT_URL. If AWS_ENDPOINT_URL is already set (a moto
server a test or another shell started), the stack provisions into that one instead of starting its own.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets as secrets_module
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_string
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import boto3
import requests

from functions import names
from functions.store import tables
from functions.store.settings import StoreSettings

REGION = "us-east-1"
DEFAULT_SENDER = "reminders@cleardue.example.com"
VERIFICATION_KEY_SECRET = "cleardue/verification-key"
LINK_KEY_SECRET = "cleardue/link-key"
DEFAULT_PORTAL_URL = "http://127.0.0.1:8080"
PORTFOLIO_BUCKET = "cleardue-portfolios-local"
INGEST_NOTIFICATIONS_QUEUE = "cleardue-portfolio-notifications"  # stands in for S3 -> Lambda
# Locally a failed job is visible again after a few seconds instead of the deployed 6x function timeout.
LOCAL_VISIBILITY_TIMEOUT_S = 2

_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@dataclass
class Queues:
    url: str
    arn: str
    dlq_url: str


@dataclass
class LocalStack:
    state_dir: Path = Path(".local")
    endpoint: str | None = None
    settings: StoreSettings = field(default_factory=StoreSettings)
    _server: Any = None
    outputs: dict[str, str] = field(default_factory=dict)
    email: Queues | None = None
    sms: Queues | None = None
    ingest: Queues | None = None
    charges: Queues | None = None
    notifications_url: str = ""

    def start(self) -> str:
        """Start moto server on a free loopback port (unless AWS_ENDPOINT_URL names one); set the env."""
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # A previous run's outputs name a dead endpoint: gone until this stack is ready again.
        (self.state_dir / "outputs.json").unlink(missing_ok=True)
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        self.endpoint = self.endpoint or os.environ.get("AWS_ENDPOINT_URL")
        if not self.endpoint:
            from moto.server import ThreadedMotoServer

            from local import moto_tuning

            moto_tuning.apply()

            self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            self._server.start()
            host, port = self._server.get_host_and_port()
            self.endpoint = f"http://{host}:{port}"
        for key, value in _FAKE_CREDENTIALS.items():
            os.environ.setdefault(key, value)
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                **self.settings.table_environment(),
                names.ENV_DUE_SHARDS: str(self.settings.due_shards),
                names.ENV_PORTFOLIO_BUCKET: PORTFOLIO_BUCKET,
                names.ENV_DEFAULT_SENDER_EMAIL: DEFAULT_SENDER,
                names.ENV_VERIFICATION_KEY_SECRET: VERIFICATION_KEY_SECRET,
                names.ENV_LINK_KEY_SECRET: LINK_KEY_SECRET,
                # Where messages' links point; `cleardue up` replaces them with its gateway's address.
                names.ENV_PORTAL_URL: os.environ.get(names.ENV_PORTAL_URL, DEFAULT_PORTAL_URL),
                names.ENV_PORTAL_API_URL: os.environ.get(names.ENV_PORTAL_API_URL, f"{DEFAULT_PORTAL_URL}/api"),
                # The handlers run in this process: keep the console for the stack's own story
                # (their metrics go to <state_dir>/functions.log, see `function_output`).
                "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
            }
        )
        return self.endpoint

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def provision(self, *, publish: bool = True) -> dict[str, str]:
        """Create every resource (idempotent) and, with `publish`, write `.local/outputs.json`.

        outputs.json is the stack's "ready" signal for other processes (`cleardue upload`), so a caller
        that still has seeding to do passes `publish=False` and calls `publish()` when it is done.
        """
        settings = StoreSettings.from_env()
        tables.create_all_tables(settings, client=boto3.client("dynamodb"))
        sqs = boto3.client("sqs")
        self.email = self._job_queue(sqs, "cleardue-email-jobs")
        self.sms = self._job_queue(sqs, "cleardue-sms-jobs")
        self.ingest = self._job_queue(sqs, "cleardue-ingest-chunks")
        self.charges = self._job_queue(sqs, "cleardue-charge-jobs")
        self.notifications_url = sqs.create_queue(QueueName=INGEST_NOTIFICATIONS_QUEUE)["QueueUrl"]
        os.environ[names.ENV_EMAIL_QUEUE_URL] = self.email.url
        os.environ[names.ENV_SMS_QUEUE_URL] = self.sms.url
        os.environ[names.ENV_INGEST_QUEUE_URL] = self.ingest.url
        os.environ[names.ENV_CHARGE_QUEUE_URL] = self.charges.url
        self._bucket(sqs)
        self._verification_key()
        self.verify_sender(DEFAULT_SENDER)
        self.outputs = {
            names.OUTPUT_PORTFOLIO_BUCKET: PORTFOLIO_BUCKET,
            **settings.table_outputs(),
            names.OUTPUT_EMAIL_QUEUE_URL: self.email.url,
            names.OUTPUT_EMAIL_DLQ_URL: self.email.dlq_url,
            names.OUTPUT_SMS_QUEUE_URL: self.sms.url,
            names.OUTPUT_SMS_DLQ_URL: self.sms.dlq_url,
            names.OUTPUT_INGEST_QUEUE_URL: self.ingest.url,
            names.OUTPUT_INGEST_DLQ_URL: self.ingest.dlq_url,
            names.OUTPUT_CHARGE_QUEUE_URL: self.charges.url,
            names.OUTPUT_CHARGE_DLQ_URL: self.charges.dlq_url,
            names.OUTPUT_REGION: REGION,
            names.OUTPUT_AWS_ENDPOINT: self.endpoint or "",
        }
        if publish:
            self.publish()
        return self.outputs

    def publish(self) -> Path:
        """Write outputs.json atomically (write then rename), so a reader never sees half a file."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        target = self.state_dir / "outputs.json"
        partial = target.with_suffix(".json.partial")
        partial.write_text(json.dumps(self.outputs, indent=2) + "\n")
        partial.replace(target)
        return target

    def _job_queue(self, sqs: Any, name: str) -> Queues:
        dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        url = sqs.create_queue(
            QueueName=name,
            Attributes={
                "VisibilityTimeout": str(LOCAL_VISIBILITY_TIMEOUT_S),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(names.MAX_RECEIVE_COUNT)}
                ),
            },
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return Queues(url=url, arn=arn, dlq_url=dlq_url)

    def _verification_key(self) -> None:
        """The HMAC keys (identity facts, pay links); in AWS generated Secrets Manager secrets."""
        secrets = boto3.client("secretsmanager")
        for name in (VERIFICATION_KEY_SECRET, LINK_KEY_SECRET):
            try:
                secrets.describe_secret(SecretId=name)
            except secrets.exceptions.ResourceNotFoundException:
                secrets.create_secret(Name=name, SecretString=secrets_module.token_hex(32))

    def _bucket(self, sqs: Any) -> None:
        s3 = boto3.client("s3")
        existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
        if PORTFOLIO_BUCKET not in existing:
            s3.create_bucket(Bucket=PORTFOLIO_BUCKET)
        s3.put_bucket_versioning(Bucket=PORTFOLIO_BUCKET, VersioningConfiguration={"Status": "Enabled"})
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.notifications_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        s3.put_bucket_notification_configuration(
            Bucket=PORTFOLIO_BUCKET,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "Id": f"{prefix}{suffix}",
                        "QueueArn": queue_arn,
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {
                            "Key": {
                                "FilterRules": [
                                    {"Name": "prefix", "Value": prefix},
                                    {"Name": "suffix", "Value": suffix},
                                ]
                            }
                        },
                    }
                    for prefix, suffix in names.NOTIFIED_FILES
                ]
            },
        )

    def verify_sender(self, email: str) -> None:
        """SES refuses unverified senders; in AWS this is done once by ops (DNS records)."""
        boto3.client("ses").verify_domain_identity(Domain=email.rsplit("@", 1)[1])

    def sent_emails(self) -> list[dict[str, Any]]:
        """Every email SES accepted: `{"id", "source", "destinations", "subject", "body"}` each.

        The sender sends raw MIME (for the List-Unsubscribe headers): `body` is then the whole message."""
        if self._server is not None:
            # Our own server runs in this process: read its SES backend directly. Its HTTP inspection
            # API serialises the whole emulator state (seconds once S3 and SQS hold a few hundred items).
            from moto.core import DEFAULT_ACCOUNT_ID
            from moto.ses.models import ses_backends

            return [_email_entry(vars(m)) for m in ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages]
        data = requests.get(f"{self.endpoint}/moto-api/data.json", timeout=60).json()
        ses = data.get("ses", {})
        return [_email_entry(m) for m in (*ses.get("Message", []), *ses.get("RawMessage", []))]

    def sent_texts(self) -> list[dict[str, str]]:
        """Every SMS SNS accepted: `{"id", "phone", "message"}` each."""
        if self._server is not None:
            from moto.core import DEFAULT_ACCOUNT_ID
            from moto.sns.models import sns_backends

            backend = sns_backends[DEFAULT_ACCOUNT_ID][REGION]
            return [{"id": i, "phone": p, "message": m} for i, (p, m) in backend.sms_messages.items()]
        data = requests.get(f"{self.endpoint}/moto-api/data.json", timeout=60).json()
        return [
            {"id": str(i), "phone": str(entry[0]), "message": str(entry[1])}
            for i, entry in (data.get("sns", {}).get("SMS") or {}).items()
        ]

    @contextlib.contextmanager
    def function_output(self) -> Iterator[None]:
        """What a function prints (its EMF metrics) goes to <state_dir>/functions.log, as to CloudWatch Logs."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with (self.state_dir / "functions.log").open("a", encoding="utf-8") as log, contextlib.redirect_stdout(log):
            yield


def _email_entry(message: dict[str, Any]) -> dict[str, Any]:
    """One sent email, simple or raw MIME, as `{"id", "source", "destinations", "subject", "body"}`."""
    destinations = message.get("destinations")
    if "raw_data" not in message:
        return {
            "id": message.get("id"),
            "source": message.get("source"),
            "destinations": destinations,
            "subject": message.get("subject"),
            "body": message.get("body"),
        }
    mime = message_from_string(message["raw_data"])
    if isinstance(destinations, list):
        destinations = {"ToAddresses": list(dict.fromkeys(destinations))}  # moto lists header and envelope
    return {
        "id": message.get("id"),
        "source": message.get("source"),
        "destinations": destinations,
        "subject": str(make_header(decode_header(mime["Subject"] or ""))),
        "body": message["raw_data"],
    }


@contextlib.contextmanager
def running(state_dir: Path) -> Iterator[LocalStack]:
    """A started and provisioned local stack, stopped on the way out (benchmarks, scripts)."""
    stack = LocalStack(state_dir=state_dir)
    stack.start()
    try:
        stack.provision()
        yield stack
    finally:
        stack.stop()
