"""Writes from two threads to one item stay atomic on moto, as they are on DynamoDB.

The local stack and the tests run the webhooks on a server thread while the charger or a sender writes the
same account under its version lock. moto's UpdateItem checks its condition and then applies the update in
separate steps, so without local/moto_tuning's lock two writers of the same version both succeeded and one
update was lost (a missed installment came back as scheduled). The window is widened here so that the
race, if it exists, happens on every run."""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb import models as dynamodb_models

from functions.store import accounts

THREADS = 4
INCREMENTS = 10


class _SlowValidator(dynamodb_models.UpdateExpressionValidator):  # type: ignore[misc, name-defined]
    """moto's validator with a pause: the gap between the condition check and the write, made wide."""

    def validate(self) -> Any:
        time.sleep(0.002)
        return super().validate()


def _increment(table: Any, account_id: str) -> int:
    """Optimistic increments (read the version, write only if it is unchanged); the conflicts met."""
    conflicts = done = 0
    while done < INCREMENTS:
        version = int(table.get_item(Key={"account_id": account_id}, ConsistentRead=True)["Item"]["n"])
        try:
            table.update_item(
                Key={"account_id": account_id},
                UpdateExpression="SET n = :next",
                ConditionExpression="n = :seen",
                ExpressionAttributeValues={":seen": version, ":next": version + 1},
            )
            done += 1
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            conflicts += 1
    return conflicts


def test_two_writers_of_the_same_version_cannot_both_succeed(aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dynamodb_models, "UpdateExpressionValidator", _SlowValidator)
    table = boto3.resource("dynamodb").Table(accounts.AccountModel.Meta.table_name)
    table.put_item(Item={"account_id": "acme#RACE-1", "n": 0})
    conflicts: list[int] = []
    threads = [
        threading.Thread(target=lambda: conflicts.append(_increment(table, "acme#RACE-1"))) for _ in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(conflicts) == THREADS  # every writer finished its increments
    assert sum(conflicts) > 0  # they did race for the same versions
    final = table.get_item(Key={"account_id": "acme#RACE-1"}, ConsistentRead=True)["Item"]["n"]
    assert final == THREADS * INCREMENTS  # and no success was lost
