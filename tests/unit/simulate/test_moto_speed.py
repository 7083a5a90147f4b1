"""The simulation's moto shortcuts answer exactly what moto answers: queries on the key and on an index,
with ranges, filters, paging and order, and the item operations' JSON."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.simulate import moto_speed


@pytest.fixture
def table() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "shard", "due")
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "due",
                    "KeySchema": [
                        {"AttributeName": "shard", "KeyType": "HASH"},
                        {"AttributeName": "due", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for n in range(60):
            item = {"pk": {"S": f"a{n % 7}"}, "sk": {"S": f"{n:03d}"}, "n": {"N": str(n)}}
            if n % 3:
                item |= {"shard": {"S": f"{n % 2:02d}"}, "due": {"S": f"2026-03-{1 + n % 28:02d}"}}
            client.put_item(TableName="t", Item=item)
        yield client


QUERIES: list[dict[str, Any]] = [
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "a3"}}},
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "a3"}}, "ScanIndexForward": False,
     "Limit": 3},
    {"KeyConditionExpression": "pk = :p AND sk > :s",
     "ExpressionAttributeValues": {":p": {"S": "a1"}, ":s": {"S": "020"}}},
    {"KeyConditionExpression": "pk = :p", "FilterExpression": "n > :n",
     "ExpressionAttributeValues": {":p": {"S": "a2"}, ":n": {"N": "20"}}},
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "nobody"}}},
    {"IndexName": "due", "KeyConditionExpression": "shard = :s AND due <= :d",
     "ExpressionAttributeValues": {":s": {"S": "01"}, ":d": {"S": "2026-03-15"}}},
    {"IndexName": "due", "KeyConditionExpression": "shard = :s", "ExpressionAttributeValues": {":s": {"S": "00"}},
     "Limit": 4},
]  # fmt: skip


def _pages(client: Any, query: dict[str, Any]) -> list[Any]:
    pages, start = [], None
    while True:
        page = client.query(TableName="t", **query, **({"ExclusiveStartKey": start} if start else {}))
        page.pop("ResponseMetadata", None)
        pages.append(page)
        start = page.get("LastEvaluatedKey")
        if not start:
            return pages


UPDATES: list[dict[str, Any]] = [
    {"Key": {"pk": {"S": "a1"}, "sk": {"S": "001"}},
     "UpdateExpression": "SET #c = if_not_exists(#c, :z) + :one, m = if_not_exists(m, :m0)",
     "ExpressionAttributeNames": {"#c": "count"},
     "ExpressionAttributeValues": {":z": {"N": "0"}, ":one": {"N": "1"}, ":m0": {"M": {}}}},
    {"Key": {"pk": {"S": "a1"}, "sk": {"S": "001"}}, "UpdateExpression": "ADD m.#k :one REMOVE due",
     "ExpressionAttributeNames": {"#k": "x"}, "ExpressionAttributeValues": {":one": {"N": "1"}},
     "ConditionExpression": "attribute_exists(pk)"},
    {"Key": {"pk": {"S": "new"}, "sk": {"S": "000"}}, "UpdateExpression": "SET n = :n, m = :m",
     "ExpressionAttributeValues": {":n": {"N": "5"}, ":m": {"M": {"x": {"N": "0"}}}}, "ReturnValues": "ALL_NEW"},
]  # fmt: skip


def _updated(client: Any) -> list[Any]:
    answers = []
    for _ in range(2):  # the same expression text twice: a shared parse must not carry state between calls
        for update in UPDATES:
            answer = client.update_item(TableName="t", **update)
            answer.pop("ResponseMetadata", None)
            answers.append(answer)
    for key in ({"pk": {"S": "a1"}, "sk": {"S": "001"}}, {"pk": {"S": "new"}, "sk": {"S": "000"}}):
        answers.append(client.get_item(TableName="t", Key=key)["Item"])
        client.delete_item(TableName="t", Key=key)
    return answers


def _answers(client: Any) -> list[Any]:
    """Every query's pages, an item, then the updates (which leave the table as they found it)."""
    answers: list[Any] = [_pages(client, query) for query in QUERIES]
    answers.append(client.get_item(TableName="t", Key={"pk": {"S": "a2"}, "sk": {"S": "002"}})["Item"])
    return [*answers, *_updated(client)]


def test_queries_updates_and_item_answers_are_moto_s_own(table: Any) -> None:
    expected = _answers(table)
    original = {
        "pk": {"S": "a1"},
        "sk": {"S": "001"},
        "n": {"N": "1"},
        "shard": {"S": "01"},
        "due": {"S": "2026-03-02"},
    }
    table.put_item(TableName="t", Item=original)  # as the fixture wrote it, before the updates changed it
    moto_speed.apply()
    moto_speed.CHECK_FAST_PATH = True  # each fast item response is compared with moto's own serialisation
    try:
        assert _answers(table) == expected
    finally:
        moto_speed.CHECK_FAST_PATH = False
        moto_speed.restore()


CONDITIONAL: list[tuple[str, dict[str, Any]]] = [
    ("put_item", {"Item": {"pk": {"S": "c"}, "sk": {"S": "1"}, "v": {"N": "1"}},
                  "ConditionExpression": "attribute_not_exists(pk)"}),
    ("put_item", {"Item": {"pk": {"S": "c"}, "sk": {"S": "1"}, "v": {"N": "9"}},
                  "ConditionExpression": "attribute_not_exists(pk)", "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}),
    ("update_item", {"Key": {"pk": {"S": "c"}, "sk": {"S": "1"}}, "UpdateExpression": "SET v = :new",
                     "ConditionExpression": "v = :old AND (attribute_not_exists(#s) OR #s IN (:a, :b))",
                     "ExpressionAttributeNames": {"#s": "state"},
                     "ExpressionAttributeValues": {":new": {"N": "2"}, ":old": {"N": "1"}, ":a": {"S": "x"},
                                                   ":b": {"S": "y"}}, "ReturnValues": "ALL_NEW"}),
    ("update_item", {"Key": {"pk": {"S": "c"}, "sk": {"S": "1"}}, "UpdateExpression": "SET v = :new",
                     "ConditionExpression": "v = :old AND (attribute_not_exists(#s) OR #s IN (:a, :b))",
                     "ExpressionAttributeNames": {"#s": "state"},
                     "ExpressionAttributeValues": {":new": {"N": "3"}, ":old": {"N": "1"}, ":a": {"S": "x"},
                                                   ":b": {"S": "y"}}}),
    ("update_item", {"Key": {"pk": {"S": "c"}, "sk": {"S": "1"}}, "UpdateExpression": "SET v = v + :one",
                     "ConditionExpression": "v BETWEEN :lo AND :hi AND size(pk) > :z",
                     "ExpressionAttributeValues": {":one": {"N": "1"}, ":lo": {"N": "0"}, ":hi": {"N": "5"},
                                                   ":z": {"N": "0"}}, "ReturnValues": "UPDATED_NEW"}),
    ("delete_item", {"Key": {"pk": {"S": "c"}, "sk": {"S": "1"}}, "ConditionExpression": "begins_with(pk, :p)",
                     "ExpressionAttributeValues": {":p": {"S": "z"}}}),
    ("update_item", {"Key": {"pk": {"S": "c"}, "sk": {"S": "1"}}, "UpdateExpression": "SET v = :v",
                     "ConditionExpression": "v = :v", "ExpressionAttributeNames": {"#unused": "x"},
                     "ExpressionAttributeValues": {":v": {"N": "1"}}}),
    ("delete_item", {"Key": {"pk": {"S": "c"}, "sk": {"S": "1"}}, "ConditionExpression": "v = :v",
                     "ExpressionAttributeValues": {":v": {"N": "4"}}, "ReturnValues": "ALL_OLD"}),
]  # fmt: skip


def _conditional(client: Any) -> list[Any]:
    """Each call twice (the second time from the shared parse), the failures with their error and item."""
    answers = []
    for _ in range(2):
        for method, call in CONDITIONAL:
            try:
                answer = getattr(client, method)(TableName="t", **call)
                answer.pop("ResponseMetadata", None)
            except client.exceptions.ClientError as exc:
                answer = {key: value for key, value in exc.response.items() if key != "ResponseMetadata"}
            answers.append(answer)
    return answers


def test_conditions_pass_and_fail_as_moto_s_own(table: Any) -> None:
    expected = _conditional(table)
    assert sum("Error" in answer for answer in expected) >= 6  # failed conditions, an unused name
    moto_speed.apply()
    try:
        assert _conditional(table) == expected
    finally:
        moto_speed.restore()


def _received(sqs: Any) -> list[Any]:
    url = sqs.create_queue(QueueName=f"q{len(sqs.list_queues().get('QueueUrls', []))}")["QueueUrl"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": f"m{n}"} for n in range(6)])
    bodies = []
    for _ in range(3):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=4).get("Messages", [])
        bodies.append(sorted(message["Body"] for message in messages))
    return bodies


def test_sqs_receives_what_moto_delivers() -> None:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        expected = _received(sqs)
        moto_speed.apply()
        try:
            assert _received(sqs) == expected
        finally:
            moto_speed.restore()
