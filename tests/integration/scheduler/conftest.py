"""The scheduler's tests also have an SMS job queue (the shared `aws` fixture has only the email one)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from functions import names
from functions.scheduler import handler


@pytest.fixture(autouse=True)
def sms_queue(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = aws["sqs"].create_queue(QueueName="sms-jobs")["QueueUrl"]
    monkeypatch.setenv(names.ENV_SMS_QUEUE_URL, url)
    aws["sms_queue_url"] = url
    handler._runtime.cache_clear()
    yield url
    handler._runtime.cache_clear()


@pytest.fixture
def atomic_item_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB checks a write's condition and applies it atomically per item; moto in-process does not
    (check and write interleave across threads). Serialise moto's item writes, as DynamoDB behaves."""
    import threading

    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        original = getattr(DynamoDBBackend, name)

        def serialised(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, serialised)
