"""Pumps: what Lambda's S3 trigger and SQS event source mapping do, done by hand against moto.

Each pump receives from a queue, invokes the handler in-process with a real-shaped event, and deletes
what the handler did not report as failed. A failed message becomes visible again and, after
MAX_RECEIVE_COUNT receives, moto's redrive policy moves it to the DLQ, as SQS does in AWS.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from functions.core.clock import iso_utc
from local.lambda_events import LocalLambdaContext, sqs_record

Handler = Callable[[dict[str, Any], Any], Any]
log = logging.getLogger("cleardue.local")


@dataclass
class PumpResult:
    processed: int = 0
    failed: int = 0
    results: list[Any] = field(default_factory=list)


class _Pump:
    """A queue and the function its messages invoke."""

    def __init__(self, sqs: Any, queue_url: str, handler: Handler, function_name: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._handler = handler
        self._function_name = function_name

    def _invoke(self, event: dict[str, Any]) -> Any:
        return self._handler(event, LocalLambdaContext(self._function_name))


class SqsPump(_Pump):
    """An SQS event source mapping: batches of up to 10, partial batch failures honoured."""

    def __init__(self, sqs: Any, queue_url: str, queue_arn: str, handler: Handler, function_name: str) -> None:
        super().__init__(sqs, queue_url, handler, function_name)
        self._queue_arn = queue_arn

    def drain(self, now: datetime) -> PumpResult:
        """Deliver every visible message once; returns how many succeeded and failed."""
        result = PumpResult()
        while messages := self._receive():
            event = {"Records": [sqs_record(message, self._queue_arn, now) for message in messages]}
            try:
                response = self._invoke(event) or {}
                failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
            except Exception:  # a crashed invocation fails the whole batch, as in Lambda
                log.exception("%s failed a whole batch", self._function_name)
                failed = {message["MessageId"] for message in messages}
            done = [message for message in messages if message["MessageId"] not in failed]
            if done:
                self._sqs.delete_message_batch(
                    QueueUrl=self._queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                )
            result.processed += len(done)
            result.failed += len(failed)
        return result

    def _receive(self) -> list[dict[str, Any]]:
        response = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        )
        return response.get("Messages", [])


class S3NotificationPump(_Pump):
    """S3 ObjectCreated -> ingest. Moto delivers the bucket's notifications to a queue; this pump hands
    each S3 event to the handler as S3 would invoke it, stamped with the virtual clock."""

    def drain(self, now: datetime) -> PumpResult:
        result = PumpResult()
        while messages := self._sqs.receive_message(QueueUrl=self._queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in messages:
                event = json.loads(message["Body"])
                if "Records" in event:  # skip S3's s3:TestEvent
                    for record in event["Records"]:
                        record["eventTime"] = iso_utc(now)
                    try:
                        result.results.append(self._invoke(event))
                        result.processed += 1
                    except Exception:
                        log.exception("%s failed", self._function_name)
                        result.failed += 1
                        continue  # S3 retries asynchronous invocations: leave it on the queue
                self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
        return result
