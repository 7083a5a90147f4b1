"""The scheduler's tests also have an SMS job queue (the shared `aws` fixture has only the email one)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pytest

from functions import names
from functions.scheduler import handler
from tests.events.factories import scheduled_event


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
    # moto's UpdateItem response deep-copies the item before calling the backend, outside its lock: a copy
    # taken while the other run's write changes the item fails ("dictionary changed size during iteration").
    from moto.dynamodb.responses import DynamoHandler

    original_update = DynamoHandler.update_item

    def update_item(self: Any) -> Any:
        with lock:
            return original_update(self)

    monkeypatch.setattr(DynamoHandler, "update_item", update_item)


@pytest.fixture
def overlapping_runs(atomic_item_writes: None, context: Any) -> Callable[[datetime], list[dict[str, Any]]]:
    """Two scheduler runs for the same tick, released together (a schedule delivered twice, a slow run still
    going when the next starts); returns both summaries."""

    def run(tick: datetime) -> list[dict[str, Any]]:
        barrier = threading.Barrier(2)

        def one(_: int) -> dict[str, Any]:
            barrier.wait()
            return handler.lambda_handler(scheduled_event(tick), context)

        with ThreadPoolExecutor(max_workers=2) as pool:
            return list(pool.map(one, range(2)))

    return run
