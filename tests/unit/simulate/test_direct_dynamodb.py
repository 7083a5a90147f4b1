"""The simulation's direct DynamoDB path answers what botocore's normal path through moto answers: the same
operations, run once each way on a fresh moto, give the same responses (ResponseMetadata aside: request ids)
and the same errors (class, code, message, cancellation reasons, a failed condition's item), through boto3 and
through PynamoDB (its PutError / UpdateError / TransactWriteError with their causes)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException
from pynamodb.models import Model
from pynamodb.transactions import TransactGet, TransactWrite

from local import moto_tuning
from local.simulate import direct_dynamodb, moto_speed
from tests.unit.simulate.helpers import create_indexed_table, key_schema

REGION = "us-east-1"


@pytest.fixture(autouse=True)
def tuned_moto() -> Iterator[None]:
    """The simulation's moto: moto_tuning and moto_speed applied, as in a run."""
    moto_tuning.apply()
    moto_speed.apply()
    yield
    direct_dynamodb.uninstall()
    moto_speed.restore()


class Thing(Model):
    class Meta:
        table_name = "things"
        region = REGION

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    n = NumberAttribute(null=True)
    state = UnicodeAttribute(null=True)
    extra = MapAttribute[str, Any](null=True)


def _outcome(action: Callable[[], Any]) -> tuple[Any, ...]:
    try:
        answer = action()
    except PynamoDBException as exc:
        reasons = getattr(exc, "cancellation_reasons", None) or []
        return (
            "pynamodb-error",
            type(exc).__name__,
            exc.cause_response_code,
            exc.cause_response_message,
            [(r.code, r.message, r.raw_item) if r else None for r in reasons],
        )
    except Exception as exc:  # noqa: BLE001 - botocore's ClientError subclasses, compared by class and response
        response = dict(getattr(exc, "response", {}))
        response.pop("ResponseMetadata", None)
        return ("error", type(exc).__name__, str(exc), response)
    if isinstance(answer, dict):
        answer = {key: value for key, value in answer.items() if key != "ResponseMetadata"}
    elif isinstance(answer, Model):
        answer = answer.to_simple_dict()
    elif isinstance(answer, list):
        answer = [item.to_simple_dict() if isinstance(item, Model) else item for item in answer]
    return ("ok", answer)


def _script() -> list[tuple[Any, ...]]:
    """The store's kinds of calls: conditional puts, updates with SET / ADD / REMOVE / if_not_exists, deletes,
    key and index queries with paging and filters, scans, batches, transactions, and their failures."""
    client = boto3.client("dynamodb", region_name=REGION)
    create_indexed_table(client, "things", "by_state", ("state", "sk"))
    key = {"pk": {"S": "a"}, "sk": {"S": "001"}}
    calls: list[Callable[[], Any]] = [
        lambda: client.put_item(TableName="things", Item={**key, "n": {"N": "1"}, "state": {"S": "open"}},
                                ReturnConsumedCapacity="TOTAL"),
        lambda: client.put_item(TableName="things", Item=key, ConditionExpression="attribute_not_exists(pk)",
                                ReturnValuesOnConditionCheckFailure="ALL_OLD"),
        lambda: client.put_item(TableName="things", Item={**key, "n": {"N": "2"}, "state": {"S": "open"}},
                                ReturnValues="ALL_OLD"),
        lambda: client.update_item(TableName="things", Key=key,
                                   UpdateExpression="SET m = if_not_exists(m, :empty), tags = :tags ADD n :one",
                                   ExpressionAttributeValues={":empty": {"M": {}}, ":one": {"N": "1"},
                                                              ":tags": {"L": [{"S": "x"}, {"NULL": True}]}},
                                   ReturnValues="ALL_NEW"),
        lambda: client.update_item(TableName="things", Key=key, UpdateExpression="SET m.#k = :v REMOVE tags",
                                   ExpressionAttributeNames={"#k": "opens"},
                                   ExpressionAttributeValues={":v": {"N": "3"}}, ReturnValues="UPDATED_OLD"),
        lambda: client.update_item(TableName="things", Key=key, UpdateExpression="SET n = :n",
                                   ConditionExpression="n = :was",
                                   ExpressionAttributeValues={":n": {"N": "9"}, ":was": {"N": "100"}},
                                   ReturnValuesOnConditionCheckFailure="ALL_OLD"),
        lambda: client.update_item(TableName="things", Key=key, UpdateExpression="ADD n :one SET m.x = :v",
                                   ExpressionAttributeValues={":one": {"N": "1"}, ":v": {"S": "q"}}),
        lambda: client.update_item(TableName="things", Key=key, UpdateExpression="SET = :m",
                                   ExpressionAttributeValues={":m": {"S": "x"}}),
        lambda: client.get_item(TableName="things", Key=key, ConsistentRead=True),
        lambda: client.get_item(TableName="things", Key=key, ProjectionExpression="#n, m.opens",
                                ExpressionAttributeNames={"#n": "n"}),
        lambda: client.get_item(TableName="things", Key={"pk": {"S": "nobody"}, "sk": {"S": "0"}}),
        lambda: client.get_item(TableName="missing", Key=key),
        lambda: client.get_item(TableName="things", Key={"pk": {"S": "a"}}),
        lambda: client.batch_write_item(RequestItems={"things": [
            {"PutRequest": {"Item": {"pk": {"S": f"b{n % 3}"}, "sk": {"S": f"{n:03d}"}, "n": {"N": str(n)},
                                     **({"state": {"S": "due"}} if n % 2 else {})}}} for n in range(20)]}),
        lambda: client.batch_get_item(RequestItems={"things": {"Keys": [
            {"pk": {"S": f"b{n % 3}"}, "sk": {"S": f"{n:03d}"}} for n in range(0, 20, 4)], "ConsistentRead": True}}),
        lambda: client.query(TableName="things", KeyConditionExpression="pk = :p",
                             ExpressionAttributeValues={":p": {"S": "b1"}}),
        lambda: client.query(TableName="things", KeyConditionExpression="pk = :p AND sk > :s",
                             FilterExpression="n > :n", ScanIndexForward=False, Limit=3,
                             ExpressionAttributeValues={":p": {"S": "b2"}, ":s": {"S": "002"}, ":n": {"N": "4"}}),
        lambda: client.query(TableName="things", IndexName="by_state", KeyConditionExpression="#s = :s",
                             ExpressionAttributeNames={"#s": "state"}, ExpressionAttributeValues={":s": {"S": "due"}},
                             Limit=4, ExclusiveStartKey={"pk": {"S": "b0"}, "sk": {"S": "003"}, "state": {"S": "due"}}),
        lambda: client.query(TableName="things", KeyConditionExpression="pk = :p", Select="COUNT",
                             ExpressionAttributeValues={":p": {"S": "b0"}}),
        lambda: client.scan(TableName="things", Limit=5),
        lambda: client.scan(TableName="things", FilterExpression="attribute_exists(m)"),
        lambda: client.delete_item(TableName="things", Key={"pk": {"S": "b0"}, "sk": {"S": "000"}},
                                   ReturnValues="ALL_OLD"),
        lambda: client.delete_item(TableName="things", Key={"pk": {"S": "b0"}, "sk": {"S": "003"}},
                                   ConditionExpression="n = :n", ExpressionAttributeValues={":n": {"N": "0"}}),
        lambda: client.transact_write_items(TransactItems=[
            {"Put": {"TableName": "things", "Item": {"pk": {"S": "t"}, "sk": {"S": "1"}},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Update": {"TableName": "things", "Key": key, "UpdateExpression": "ADD n :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}}}},
            {"Delete": {"TableName": "things", "Key": {"pk": {"S": "b1"}, "sk": {"S": "001"}}}},
        ]),
        lambda: client.transact_write_items(TransactItems=[
            {"Put": {"TableName": "things", "Item": {"pk": {"S": "t"}, "sk": {"S": "2"}}}},
            {"ConditionCheck": {"TableName": "things", "Key": key, "ConditionExpression": "n = :x",
                                "ExpressionAttributeValues": {":x": {"N": "-1"}},
                                "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
        ]),
        lambda: client.transact_write_items(TransactItems=[
            {"Put": {"TableName": "things", "Item": key}},
            {"Delete": {"TableName": "things", "Key": key}},
        ]),
        lambda: client.transact_get_items(TransactItems=[
            {"Get": {"TableName": "things", "Key": key}},
            {"Get": {"TableName": "things", "Key": {"pk": {"S": "t"}, "sk": {"S": "2"}}}},
        ]),
        # PynamoDB, as the store calls it
        lambda: Thing("p", "1", n=1, state="open").save(Thing.pk.does_not_exist()),
        lambda: Thing("p", "1", n=5).save(Thing.pk.does_not_exist()),
        lambda: Thing("p", "1").update([Thing.n.add(2), Thing.extra["k"].set("v")]),
        lambda: Thing("p", "1").update([Thing.n.set(0)], condition=Thing.n == 99),
        lambda: Thing.get("p", "1", consistent_read=True),
        lambda: Thing.get("p", "none"),
        lambda: list(Thing.query("b1", Thing.sk.between("000", "010"), scan_index_forward=False)),
        lambda: [thing.to_simple_dict() for thing in Thing.scan(Thing.n > 5, page_size=4)],
        lambda: list(Thing.batch_get([("b1", "001"), ("b2", "002"), ("p", "1")])),
        lambda: _transact_write_fails(),
        lambda: _transact_get(),
        lambda: Thing("p", "1").delete(Thing.n == 3),
    ]  # fmt: skip
    return [_outcome(call) for call in calls]


def _transact_write_fails() -> None:
    with TransactWrite(connection=Connection(region=REGION)) as transaction:
        transaction.save(Thing("p", "2", n=1))
        transaction.condition_check(Thing, "p", "1", condition=Thing.n == 123)


def _transact_get() -> list[Any]:
    with TransactGet(connection=Connection(region=REGION)) as transaction:
        found = [transaction.get(Thing, "p", "1"), transaction.get(Thing, "b2", "002")]
    return [item.get().to_simple_dict() for item in found]


def _run(direct: bool) -> tuple[list[tuple[Any, ...]], int]:
    with mock_aws():
        if direct:
            direct_dynamodb.install()
        before = direct_dynamodb.direct_calls
        try:
            outcomes = _script()
        finally:
            direct_dynamodb.uninstall()
        return outcomes, direct_dynamodb.direct_calls - before


def test_the_direct_path_answers_and_fails_as_the_normal_path() -> None:
    # Given the store's kinds of DynamoDB calls, when they run through botocore and moto's HTTP layer
    normal, _ = _run(direct=False)
    # and, on a fresh moto, through the direct path
    direct, taken = _run(direct=True)

    # Then every answer and every error is the same, and the direct path did take them
    assert taken >= 35
    assert [o[0] for o in normal].count("ok") >= 20
    assert {o[1] for o in normal if o[0] != "ok"} >= {
        "ConditionalCheckFailedException",
        "TransactionCanceledException",
        "ClientError",  # ValidationException
        "ResourceNotFoundException",
        "PutError",
        "UpdateError",
        "TransactWriteError",
        "DeleteError",
    }
    for number, (expected, found) in enumerate(zip(normal, direct, strict=True)):
        assert found == expected, f"call {number}"


def _direct_client_with_table(name: str) -> Any:
    """Inside mock_aws: the direct path installed, a DynamoDB client, and a table keyed on `pk`."""
    direct_dynamodb.install()
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName=name,
        KeySchema=key_schema("pk"),
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


def test_binary_attributes_take_the_normal_path_with_the_same_answer() -> None:
    with mock_aws():
        client = _direct_client_with_table("b")
        before = direct_dynamodb.direct_calls
        client.put_item(TableName="b", Item={"pk": {"S": "x"}, "blob": {"B": b"\x00\xff"}})
        assert direct_dynamodb.direct_calls == before  # bytes: botocore's path encodes them
        item = client.get_item(TableName="b", Key={"pk": {"S": "x"}})["Item"]  # direct; botocore parses the body
        assert direct_dynamodb.direct_calls == before + 1
        assert item == {"pk": {"S": "x"}, "blob": {"B": b"\x00\xff"}}


def _sqs_script() -> list[tuple[Any, ...]]:
    """What the pumps and handlers do with SQS: batches sent with attributes and delays, received with their
    system attributes, deleted (one receipt stale), visibility changed, and a queue that does not exist."""
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    received: dict[str, Any] = {}

    def receive() -> dict[str, Any]:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"],
                                     MessageAttributeNames=["All"])  # fmt: skip
        received["messages"] = answer.get("Messages", [])
        return {"bodies": sorted((m["Body"], m.get("MessageAttributes")) for m in received["messages"]),
                "counts": sorted(m["Attributes"]["ApproximateReceiveCount"] for m in received["messages"])}  # fmt: skip

    calls: list[Callable[[], Any]] = [
        lambda: sqs.send_message(QueueUrl=url, MessageBody="one",
                                 MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}}),
        lambda: [sorted(e["Id"] for e in sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(n), "MessageBody": f"m{n}", **({"DelaySeconds": 600} if n == 2 else {})} for n in range(4)
        ])["Successful"])],
        receive,
        lambda: sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=received["messages"][0]["ReceiptHandle"],
                                              VisibilityTimeout=0),
        lambda: {k: v for k, v in sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(received["messages"][1:])
        ]).items() if k != "ResponseMetadata"},
        receive,
        lambda: sqs.delete_message(QueueUrl=url, ReceiptHandle=received["messages"][0]["ReceiptHandle"]),
        lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed",
                                                                       "VisibilityTimeout"]),
        lambda: sqs.delete_message_batch(QueueUrl=url, Entries=[]),
        lambda: sqs.receive_message(QueueUrl=url.replace("jobs", "nope")),
        lambda: sqs.send_message(QueueUrl=url.replace("jobs", "nope"), MessageBody="x"),
    ]  # fmt: skip
    return [_outcome(call) for call in calls]


def _scrub(value: Any) -> Any:
    """Without the ids moto draws at random (message ids)."""
    if isinstance(value, dict):
        return {key: _scrub(item) for key, item in value.items() if key != "MessageId"}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(item) for item in value)
    return value


def _both_paths(script: Callable[[], list[tuple[Any, ...]]]) -> tuple[tuple[list[Any], int], tuple[list[Any], int]]:
    """`script` on a fresh moto through botocore's normal path, then through the direct path: each run's
    outcomes (random message ids scrubbed) and how many calls took the direct path."""
    outcomes = []
    for direct in (False, True):
        with mock_aws():
            direct_dynamodb.install(direct=direct)
            before = direct_dynamodb.direct_calls
            try:
                outcomes.append(([_scrub(outcome) for outcome in script()], direct_dynamodb.direct_calls - before))
            finally:
                direct_dynamodb.uninstall()
    return outcomes[0], outcomes[1]


def test_the_direct_path_sends_receives_and_fails_on_sqs_as_the_normal_path() -> None:
    (normal, _), (direct, taken) = _both_paths(_sqs_script)
    assert taken >= 10
    assert {o[1] for o in normal if o[0] != "ok"} >= {"QueueDoesNotExist", "EmptyBatchRequest"}
    for number, (expected, found) in enumerate(zip(normal, direct, strict=True)):
        assert found == expected, f"call {number}"


def _ses_script() -> list[tuple[Any, ...]]:
    """The sender's SendEmail: raw MIME with tags, from a verified and an unverified address; then what SES kept
    of each message."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    ses = boto3.client("sesv2", region_name=REGION)
    ses.create_email_identity(EmailIdentity="lender.example")
    raw = "From: Lender <billing@lender.example>\r\nTo: dana@example.com\r\nSubject: =?utf-8?q?=C3=91?=\r\n\r\nHi\r\n"

    def send(sender: str) -> Any:
        return ses.send_email(
            FromEmailAddress=sender,
            Destination={"ToAddresses": ["dana@example.com"]},
            Content={"Raw": {"Data": raw.encode()}},
            EmailTags=[{"Name": "job_id", "Value": "j-1"}],
        )

    outcomes = [_outcome(lambda: send("billing@lender.example")), _outcome(lambda: send("x@unverified.example"))]
    kept = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
    return [*outcomes, ("kept", [(m.source, m.destinations, m.raw_data) for m in kept])]


def test_the_direct_path_sends_and_refuses_email_as_the_normal_path() -> None:
    (normal, normal_taken), (direct, taken) = _both_paths(_ses_script)
    assert (normal_taken, taken) == (0, 2)
    assert normal[0] == ("ok", {}) and normal[1][:2] == ("error", "MessageRejected")
    assert normal[2][1][0][2].endswith("Hi\r\n")
    assert direct == normal


def _busy(seconds: float) -> None:
    until = time.thread_time() + seconds
    while time.thread_time() < until:
        pass


def test_the_time_inside_aws_calls_is_counted_by_service_and_once() -> None:
    # Given the direct path installed, and a table
    with mock_aws():
        client = _direct_client_with_table("t")
        real_route = direct_dynamodb._route

        def slow(self: Any, service: str, operation: str, params: dict[str, Any]) -> Any:
            if operation in ("DescribeTable", "GetItem"):  # 50 ms of CPU each
                _busy(0.05)
            if operation == "DescribeTable":  # and a call made while answering this one
                client.get_item(TableName="t", Key={"pk": {"S": "inner"}})
            return real_route(self, service, operation, params)

        direct_dynamodb._route = slow  # type: ignore[assignment]
        try:
            before, calls_before = Counter(direct_dynamodb.seconds), Counter(direct_dynamodb.calls)
            started = time.perf_counter()
            client.describe_table(TableName="t")  # when a call takes 100 ms, 50 of them in a call it makes
            spent = time.perf_counter() - started
        finally:
            direct_dynamodb._route = real_route  # type: ignore[assignment]
        inside = Counter(direct_dynamodb.seconds)
        inside.subtract(before)
        made = Counter(direct_dynamodb.calls)
        made.subtract(calls_before)

    # Then its time is counted under its service, the inner call's within it and not twice; both calls are counted
    assert made[("dynamodb", "DescribeTable")] == 1 and made[("dynamodb", "GetItem")] == 1
    assert 0.1 <= inside["dynamodb"] <= spent
    assert set(+inside) == {"dynamodb"}
