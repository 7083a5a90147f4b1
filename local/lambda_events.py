"""Real-shaped Lambda events and contexts, stamped with the local stack's virtual clock.

Lambda's event source mappings build these from S3, SQS and EventBridge; the local pumps build the
same shapes so the handlers cannot tell the difference."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functions.core.clock import iso_utc, to_epoch_millis

ACCOUNT_ID = "123456789012"


@dataclass
class LocalLambdaContext:
    """What Powertools reads from Lambda's context object."""

    function_name: str
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"

    def __post_init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:{self.function_name}"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def scheduled_event(at: datetime, rule_arn: str, region: str = "us-east-1") -> dict[str, Any]:
    """An EventBridge "Scheduled Event" for the tick at `at`."""
    return {
        "version": "0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{rule_arn}/{iso_utc(at)}")),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": iso_utc(at),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


def sqs_record(message: dict[str, Any], queue_arn: str, now: datetime, region: str = "us-east-1") -> dict[str, Any]:
    """One SQS record as Lambda delivers it, from a ReceiveMessage message."""
    attributes = dict(message.get("Attributes", {}))
    millis = str(to_epoch_millis(now))
    attributes.update({"SentTimestamp": millis, "ApproximateFirstReceiveTimestamp": millis})
    attributes.setdefault("ApproximateReceiveCount", "1")
    attributes.setdefault("SenderId", ACCOUNT_ID)
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
