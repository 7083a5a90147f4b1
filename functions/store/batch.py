"""BatchWriteItem with the retry DynamoDB asks for: unprocessed items again, with exponential backoff."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from typing import Any

from pynamodb.exceptions import PynamoDBException
from pynamodb.models import Model

from functions.store import StoreError

BATCH_LIMIT = 25  # DynamoDB's maximum per BatchWriteItem call
MAX_ATTEMPTS = 8
BASE_DELAY_S = 0.05
MAX_DELAY_S = 5.0


def put_all(model: type[Model], items: Iterable[Model], sleep: Callable[[float], None] = time.sleep) -> int:
    """Write items 25 a call; returns the number of BatchWriteItem calls made.

    Items DynamoDB leaves unprocessed (throttling) are sent again after a full-jitter exponential
    backoff; after MAX_ATTEMPTS the batch fails with StoreError (the caller's checkpoint is not
    advanced, so the rows are written again by the retry)."""
    connection = model._get_connection()
    table = model.Meta.table_name
    pending: list[dict[str, Any]] = [item.serialize() for item in items]
    calls = 0
    while pending:
        batch, pending = pending[:BATCH_LIMIT], pending[BATCH_LIMIT:]
        for attempt in range(MAX_ATTEMPTS):
            try:
                response = connection.batch_write_item(put_items=batch)
            except PynamoDBException as exc:
                raise StoreError(f"batch write to {table} failed: {exc}") from exc
            calls += 1
            unprocessed = (response or {}).get("UnprocessedItems", {}).get(table, [])
            if not unprocessed:
                break
            batch = [request["PutRequest"]["Item"] for request in unprocessed]
            sleep(random.uniform(0, min(MAX_DELAY_S, BASE_DELAY_S * 2**attempt)))
        else:
            raise StoreError(f"batch write to {table}: {len(batch)} items still unprocessed after {MAX_ATTEMPTS} tries")
    return calls
