"""The simulation's moto shortcuts answer exactly what moto answers: queries on the key and on an index,
with ranges, filters, paging and order, and the item operations' JSON."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends, utilities
from moto.dynamodb.models.dynamo_type import DynamoType

from local.simulate import moto_speed
from tests.unit.simulate.helpers import create_indexed_table, key_schema


@pytest.fixture
def table() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_indexed_table(client, "t", "due", ("shard", "due"))
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


def _pages(client: Any, table: str, query: dict[str, Any]) -> list[Any]:
    pages, start = [], None
    while True:
        page = client.query(TableName=table, **query, **({"ExclusiveStartKey": start} if start else {}))
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
    answers: list[Any] = [_pages(client, "t", query) for query in QUERIES]
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
    # the validator's expression-only checks: passed for one set of names, they must still fail for another
    ("update_item", {"Key": {"pk": {"S": "c"}, "sk": {"S": "1"}}, "UpdateExpression": "SET #k = :v",
                     "ExpressionAttributeNames": {"#k": "w"}, "ExpressionAttributeValues": {":v": {"N": "7"}},
                     "ReturnValues": "ALL_OLD"}),
    ("update_item", {"Key": {"pk": {"S": "c"}, "sk": {"S": "1"}}, "UpdateExpression": "SET #k = :v",
                     "ExpressionAttributeNames": {"#k": "sk"}, "ExpressionAttributeValues": {":v": {"N": "7"}}}),
    ("update_item", {"Key": {"pk": {"S": "c"}, "sk": {"S": "1"}}, "UpdateExpression": "SET #k = :v, #j = :v",
                     "ExpressionAttributeNames": {"#k": "w", "#j": "x"},
                     "ExpressionAttributeValues": {":v": {"N": "8"}}, "ReturnValues": "UPDATED_OLD"}),
    ("update_item", {"Key": {"pk": {"S": "c"}, "sk": {"S": "1"}}, "UpdateExpression": "SET #k = :v, #j = :v",
                     "ExpressionAttributeNames": {"#k": "w", "#j": "w"},
                     "ExpressionAttributeValues": {":v": {"N": "7"}}}),
    ("update_item", {"Key": {"pk": {"S": "c"}, "sk": {"S": "1"}}, "UpdateExpression": "SET a = :v ADD a :v",
                     "ExpressionAttributeValues": {":v": {"N": "7"}}}),
    ("update_item", {"Key": {"pk": {"S": "c"}, "sk": {"S": "1"}}, "UpdateExpression": "SET m.#k = :v",
                     "ExpressionAttributeNames": {"#k": "w"}, "ExpressionAttributeValues": {":v": {"N": "7"}},
                     "ReturnValues": "UPDATED_OLD"}),
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
    assert sum("Error" in answer for answer in expected) >= 10  # failed conditions, an unused name, key updates
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


def test_a_queue_lists_the_messages_moto_lists_as_visible() -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sqs.models import Queue, sqs_backends

    # Given a queue holding messages visible, delayed, in flight, and made visible again
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="listed")["QueueUrl"]
        entries = [{"Id": str(n), "MessageBody": f"m{n}", "DelaySeconds": 30 if n % 3 == 0 else 0} for n in range(9)]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3, VisibilityTimeout=60)["Messages"]
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=received[0]["ReceiptHandle"], VisibilityTimeout=0)
        queue = sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_queue("listed")
        original = Queue.__dict__["messages"]

        # When moto_speed lists its visible messages, and moto does
        moto_speed.apply()
        try:
            assert Queue.__dict__["messages"] is not original
            listed = [message.body for message in queue.messages]
        finally:
            moto_speed.restore()
        expected = [message.body for message in queue.messages]

    # Then both list the same messages: neither the delayed nor the ones in flight
    assert listed == expected
    assert len(expected) == 9 - 3 - 2  # 3 delayed, 2 of the 3 received still in flight
    assert Queue.__dict__["messages"] is original


def _create_sparse(client: Any) -> None:
    """A table with a sparse keys-only due index (the accounts table's shape), an index without a range key and
    a local index: items enter and leave them as their attributes come and go."""
    if "s" in client.list_tables()["TableNames"]:
        client.delete_table(TableName="s")
    client.create_table(
        TableName="s",
        KeySchema=key_schema("pk", "sk"),
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "shard", "AttributeType": "S"},
            {"AttributeName": "due", "AttributeType": "S"},
            {"AttributeName": "group", "AttributeType": "N"},
            {"AttributeName": "rank", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "due",
                "KeySchema": key_schema("shard", "due"),
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
            {"IndexName": "group", "KeySchema": key_schema("group"), "Projection": {"ProjectionType": "ALL"}},
        ],
        LocalSecondaryIndexes=[
            {"IndexName": "rank", "KeySchema": key_schema("pk", "rank"), "Projection": {"ProjectionType": "ALL"}},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for n in range(80):
        item = {"pk": {"S": f"p{n % 5}"}, "sk": {"S": f"{n:03d}"}, "v": {"S": "x" * (n % 13)}}
        if n % 4:
            item |= {"shard": {"S": f"{n % 2:02d}"}, "due": {"S": f"2026-03-{1 + n % 9:02d}T{n % 24:02d}"}}
        if n % 3:
            item |= {"group": {"N": str(n % 4)}, "rank": {"N": str((n * 7) % 11)}}
        client.put_item(TableName="s", Item=item)


INDEX_QUERIES: list[dict[str, Any]] = [
    {"IndexName": "due", "KeyConditionExpression": "shard = :s AND due <= :d",
     "ExpressionAttributeValues": {":s": {"S": "01"}, ":d": {"S": "2026-03-05"}}},
    {"IndexName": "due", "KeyConditionExpression": "shard = :s AND due <= :d", "Limit": 3,
     "ExpressionAttributeValues": {":s": {"S": "00"}, ":d": {"S": "2026-03-06"}}},
    {"IndexName": "due", "KeyConditionExpression": "shard = :s AND due < :d", "Limit": 4, "ScanIndexForward": False,
     "ExpressionAttributeValues": {":s": {"S": "01"}, ":d": {"S": "2026-03-07"}}},
    {"IndexName": "due", "KeyConditionExpression": "shard = :s AND due >= :d", "Limit": 5,
     "ExpressionAttributeValues": {":s": {"S": "01"}, ":d": {"S": "2026-03-04"}}},
    {"IndexName": "due", "KeyConditionExpression": "shard = :s AND due > :d",
     "ExpressionAttributeValues": {":s": {"S": "00"}, ":d": {"S": "2026-03-08"}}},
    {"IndexName": "due", "KeyConditionExpression": "shard = :s AND due BETWEEN :a AND :b", "Limit": 2,
     "ExpressionAttributeValues": {":s": {"S": "01"}, ":a": {"S": "2026-03-03"}, ":b": {"S": "2026-03-06"}}},
    {"IndexName": "due", "KeyConditionExpression": "shard = :s AND begins_with(due, :p)", "Limit": 2,
     "ExpressionAttributeValues": {":s": {"S": "00"}, ":p": {"S": "2026-03-02"}}},
    {"IndexName": "due", "KeyConditionExpression": "shard = :s AND due = :d",
     "ExpressionAttributeValues": {":s": {"S": "01"}, ":d": {"S": "2026-03-02T01"}}},
    {"IndexName": "due", "KeyConditionExpression": "shard = :s", "Limit": 7,
     "ExpressionAttributeValues": {":s": {"S": "00"}}},
    {"IndexName": "due", "KeyConditionExpression": "shard = :s", "ExpressionAttributeValues": {":s": {"S": "07"}}},
    {"IndexName": "group", "KeyConditionExpression": "#g = :g", "Limit": 4, "FilterExpression": "size(v) > :z",
     "ExpressionAttributeNames": {"#g": "group"}, "ExpressionAttributeValues": {":g": {"N": "2"}, ":z": {"N": "3"}}},
    {"IndexName": "group", "KeyConditionExpression": "#g = :g", "ScanIndexForward": False,
     "ProjectionExpression": "pk, v", "ExpressionAttributeNames": {"#g": "group"},
     "ExpressionAttributeValues": {":g": {"N": "1.0"}}},
    {"IndexName": "rank", "KeyConditionExpression": "pk = :p AND #r >= :r", "Limit": 2,
     "ExpressionAttributeNames": {"#r": "rank"}, "ExpressionAttributeValues": {":p": {"S": "p2"}, ":r": {"N": "3"}}},
]  # fmt: skip


def _index_pages(client: Any) -> list[Any]:
    return [_pages(client, "s", query) for query in INDEX_QUERIES]


def _key(n: int) -> dict[str, Any]:
    return {"pk": {"S": f"p{n % 5}"}, "sk": {"S": f"{n:03d}"}}


def _index_script(client: Any) -> list[Any]:
    """Queries, then writes that move items into, out of and within the indexes by every write path, then the
    queries again, each time."""
    answers = [_index_pages(client)]
    writes: list[tuple[str, dict[str, Any]]] = [
        ("update_item", {"Key": _key(4), "UpdateExpression": "SET #h = :s, due = :d",  # enters the sparse index
                         "ExpressionAttributeNames": {"#h": "shard"},
                         "ExpressionAttributeValues": {":s": {"S": "01"}, ":d": {"S": "2026-03-01T00"}}}),
        ("update_item", {"Key": _key(5), "UpdateExpression": "REMOVE due"}),  # leaves it
        ("update_item", {"Key": _key(6), "UpdateExpression": "SET due = :d",  # moves within its shard
                         "ExpressionAttributeValues": {":d": {"S": "2026-03-09T23"}}}),
        ("update_item", {"Key": _key(7), "UpdateExpression": "SET #h = :s",  # moves to the other shard
                         "ExpressionAttributeNames": {"#h": "shard"},
                         "ExpressionAttributeValues": {":s": {"S": "00"}}}),
        ("update_item", {"Key": _key(10), "UpdateExpression": "SET #g = #g + :one, #r = :r",
                         "ExpressionAttributeNames": {"#g": "group", "#r": "rank"},
                         "ExpressionAttributeValues": {":one": {"N": "1"}, ":r": {"N": "0"}}}),
        ("update_item", {"Key": {"pk": {"S": "p9"}, "sk": {"S": "new"}},  # a new item, by an update
                         "UpdateExpression": "SET #h = :s, due = :d, #g = :g, v = :v",
                         "ExpressionAttributeNames": {"#g": "group", "#h": "shard"},
                         "ExpressionAttributeValues": {":s": {"S": "00"}, ":d": {"S": "2026-03-02T00"},
                                                       ":g": {"N": "2"}, ":v": {"S": "new"}}}),
        ("update_item", {"Key": _key(16), "UpdateExpression": "SET due = :d", "ConditionExpression": "v = :no",
                         "ExpressionAttributeValues": {":d": {"S": "2026-03-01T00"}, ":no": {"S": "no"}}}),
        ("put_item", {"Item": {**_key(11), "shard": {"S": "00"}, "due": {"S": "2026-03-03T03"}}}),  # overwrite
        ("put_item", {"Item": {**_key(12), "v": {"S": "gone from every index"}}}),
        ("delete_item", {"Key": _key(13)}),
        ("batch_write_item", {"RequestItems": {"s": [
            {"PutRequest": {"Item": {**_key(14), "shard": {"S": "01"}, "due": {"S": "2026-03-04T00"}}}},
            {"DeleteRequest": {"Key": _key(15)}},
            {"PutRequest": {"Item": {"pk": {"S": "p8"}, "sk": {"S": "b"}, "shard": {"S": "01"},
                                     "due": {"S": "2026-03-04T00"}, "group": {"N": "1"}, "v": {"S": ""}}}}]}}),
        ("transact_write_items", {"TransactItems": [
            {"Update": {"TableName": "s", "Key": _key(17), "UpdateExpression": "SET due = :d",
                        "ExpressionAttributeValues": {":d": {"S": "2026-03-01T05"}}}},
            {"Delete": {"TableName": "s", "Key": _key(18)}},
            {"Put": {"TableName": "s", "Item": {**_key(19), "shard": {"S": "00"}, "due": {"S": "2026-03-02T02"}}}}]}),
        ("transact_write_items", {"TransactItems": [  # cancelled: rolled back, the indexes as they were
            {"Update": {"TableName": "s", "Key": _key(21), "UpdateExpression": "REMOVE #h",
                        "ExpressionAttributeNames": {"#h": "shard"}}},
            {"Put": {"TableName": "s", "Item": {**_key(22)}, "ConditionExpression": "attribute_not_exists(pk)"}}]}),
    ]  # fmt: skip
    for method, call in writes:
        try:
            table = {} if method in ("batch_write_item", "transact_write_items") else {"TableName": "s"}
            getattr(client, method)(**table, **call)
        except client.exceptions.ClientError as exc:
            answers.append(exc.response["Error"]["Code"] + ": " + exc.response["Error"]["Message"])
        answers.append(_index_pages(client))
    return answers


def test_index_queries_page_filter_and_follow_writes_as_moto_s_own() -> None:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        _create_sparse(client)
        expected = _index_script(client)
        assert any(len(pages) > 1 for pages in expected[0])  # paged
        failures = [answer.split(":")[0] for answer in expected if isinstance(answer, str)]
        assert failures == ["ConditionalCheckFailedException", "TransactionCanceledException"]
        _create_sparse(client)
        moto_speed.apply()
        moto_speed.CHECK_INDEX = True  # each index query is also answered by moto's own walk and compared
        moto_speed.index_queries.clear()
        try:
            assert _index_script(client) == expected
            assert moto_speed.index_queries["walk"] == 0 and moto_speed.index_queries["view"] > 300
            # and the earliest due time the simulation's clock reads from the index is the table's
            table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_table("s")
            dues = [item.attrs["due"].value for item in table.all_items() if {"shard", "due"} <= set(item.attrs)]
            assert moto_speed.index_minimum(table, "due") == min(dues)
            client.update_item(TableName="s", Key=_key(4), UpdateExpression="SET due = :d",
                               ExpressionAttributeValues={":d": {"S": "2026-02-28"}})  # fmt: skip
            assert moto_speed.index_minimum(table, "due") == "2026-02-28"
        finally:
            moto_speed.CHECK_INDEX = False
            moto_speed.restore()


RAW_EMAILS = [
    "From: Lender <lender@example.com>\r\nTo: a@example.com,\r\n b@example.com\r\nCc: c@example.com\r\n"
    "Subject: reminder\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=x\r\n\r\n--x\r\n"
    "Content-Type: text/plain\r\n\r\nPay here\r\n--x\r\nContent-Type: text/html\r\n\r\n<p>Pay</p>\r\n--x--\r\n",
    "From: lender@example.com\r\nBcc: hidden@example.com\r\nSubject: no To\r\n\r\nbody",
    "From: stranger@example.com\r\nTo: a@example.com\r\n\r\nnot verified",
    "From: lender@example.com\r\nTo: not an address\r\n\r\nbad",
]


def _sent(ses: Any, sesv2: Any) -> list[Any]:
    from moto.ses.models import ses_backends

    answers = []
    for raw in RAW_EMAILS:
        data = {"Data": raw.encode()}
        for method, call in (
            (ses.send_raw_email, {"RawMessage": data}),
            (
                ses.send_raw_email,
                {"Source": "lender@example.com", "Destinations": ["x@example.com"], "RawMessage": data},
            ),
            (sesv2.send_email, {"FromEmailAddress": "lender@example.com", "Content": {"Raw": data}}),
        ):
            try:
                answer = method(**call)
                answers.append(sorted(key for key in answer if key != "ResponseMetadata"))
            except ses.exceptions.ClientError as exc:
                answers.append(exc.response["Error"])
    backend = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    answers.append([(m.source, m.destinations, m.raw_data) for m in backend.sent_messages])
    return answers


def test_raw_emails_are_accepted_refused_and_kept_as_moto_s_own() -> None:
    def run() -> list[Any]:
        with mock_aws():
            ses = boto3.client("ses", region_name="us-east-1")
            sesv2 = boto3.client("sesv2", region_name="us-east-1")
            ses.verify_email_identity(EmailAddress="lender@example.com")
            return _sent(ses, sesv2)

    expected = run()
    assert sum(isinstance(answer, dict) for answer in expected) >= 4  # refusals
    moto_speed.apply()
    try:
        assert run() == expected
    finally:
        moto_speed.restore()


def _sqs_script(sqs: Any) -> list[Any]:
    """Sends to a standard queue and to FIFO queues with and without content-based deduplication (duplicates
    dropped, group and deduplication ids required), then what each queue holds."""
    urls = [
        sqs.create_queue(QueueName="plain")["QueueUrl"],
        sqs.create_queue(QueueName="dedup.fifo", Attributes={"FifoQueue": "true",
                                                            "ContentBasedDeduplication": "true"})["QueueUrl"],
        sqs.create_queue(QueueName="ids.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"],
    ]  # fmt: skip
    answers: list[Any] = []
    sends: list[dict[str, Any]] = [
        {"MessageBody": "a"},
        {"MessageBody": "a", "MessageGroupId": "g"},
        {"MessageBody": "a", "MessageGroupId": "g", "MessageDeduplicationId": "d1"},
        {"MessageBody": "b", "MessageGroupId": "g", "MessageDeduplicationId": "d1"},
        {"MessageBody": "c", "DelaySeconds": 0, "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}},
    ]
    for url in urls:
        for send in sends:
            try:
                answer = sqs.send_message(QueueUrl=url, **send)
                answers.append(sorted(answer))
            except sqs.exceptions.ClientError as exc:
                answers.append(exc.response["Error"]["Code"])
        try:
            entries = [{"Id": "1", "MessageBody": "e", "MessageGroupId": "h"}]
            batch = sqs.send_message_batch(QueueUrl=url, Entries=entries)
            answers.append((len(batch.get("Successful", [])), [f["Code"] for f in batch.get("Failed", [])]))
        except sqs.exceptions.ClientError as exc:
            answers.append(exc.response["Error"]["Code"])
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
        answers.append(sorted((m["Body"], str(m.get("MessageAttributes"))) for m in received.get("Messages", [])))
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        answers.append({k: v for k, v in attributes.items() if not k.endswith("Timestamp") and k != "QueueArn"})
    return answers


def test_sends_to_standard_and_fifo_queues_are_moto_s_own() -> None:
    def run() -> list[Any]:
        with mock_aws():
            return _sqs_script(boto3.client("sqs", region_name="us-east-1"))

    expected = run()
    assert any(isinstance(answer, str) for answer in expected)  # refused sends
    moto_speed.apply()
    try:
        assert run() == expected
    finally:
        moto_speed.restore()


_SCALARS = st.one_of(
    st.builds(lambda s: {"S": s}, st.text(max_size=12)),
    st.builds(
        lambda n: {"N": str(n)},
        st.one_of(st.integers(-(10**12), 10**12), st.decimals(allow_nan=False, allow_infinity=False, places=3)),
    ),
    st.builds(lambda b: {"B": b}, st.binary(max_size=8)),
    st.builds(lambda b: {"B": base64.b64encode(b).decode()}, st.binary(max_size=8)),  # as the wire carries it
    st.builds(lambda b: {"BOOL": b}, st.booleans()),
    st.just({"NULL": True}),
    st.builds(lambda v: {"SS": sorted(v)}, st.sets(st.text(min_size=1, max_size=6), min_size=1, max_size=4)),
    st.builds(lambda v: {"NS": sorted(map(str, v))}, st.sets(st.integers(0, 999), min_size=1, max_size=4)),
    st.builds(lambda v: {"BS": sorted(v)}, st.sets(st.binary(min_size=1, max_size=4), min_size=1, max_size=3)),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.builds(lambda v: {"L": v}, st.lists(inner, max_size=4)),
        st.builds(lambda v: {"M": v}, st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_VALUES)
def test_an_item_s_size_and_json_are_moto_s_own(value: dict[str, Any]) -> None:
    def answers() -> tuple[Any, ...]:
        item = DynamoType(value)
        result = {"Items": [{"a": item, "k": DynamoType({"S": "x"})}], "Count": 1, "n": None, "r": 0.5}
        return item.size(), item.to_regular_json(), utilities.dynamo_to_dict(result)

    originals = DynamoType.size, DynamoType.to_regular_json, utilities.dynamo_to_dict
    expected = answers()
    moto_speed.apply()
    try:
        assert (DynamoType.size, DynamoType.to_regular_json, utilities.dynamo_to_dict) != originals
        assert answers() == expected
    finally:
        moto_speed.restore()
    assert (DynamoType.size, DynamoType.to_regular_json, utilities.dynamo_to_dict) == originals
