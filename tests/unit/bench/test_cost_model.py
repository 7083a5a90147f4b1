"""bench.cost prices DynamoDB writes on the items as they are and on what each index actually holds."""

from __future__ import annotations

from typing import Any

from bench.cost import Units, item_size

TABLE = {
    "Table": {
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": "due",
                "KeySchema": [
                    {"AttributeName": "shard", "KeyType": "HASH"},
                    {"AttributeName": "at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
            {
                "IndexName": "everything",
                "KeySchema": [{"AttributeName": "shard", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
    }
}


class FakeTable:
    """DescribeTable and strongly consistent GetItem over one dict: what `Units` reads around a call."""

    def __init__(self, items: dict[str, dict[str, Any]]) -> None:
        self.items = items

    def __call__(self, operation: str, params: dict[str, Any]) -> Any:
        if operation == "DescribeTable":
            return TABLE
        item = self.items.get(params["Key"]["id"]["S"])
        return {"Item": item} if item is not None else {}


def big(**attributes: Any) -> dict[str, Any]:
    return {"id": {"S": "a"}, "blob": {"S": "x" * 1500}, **attributes}


def test_item_size_counts_names_and_values_as_dynamodb_does() -> None:
    assert item_size({"ab": {"S": "héllo"}}) == 2 + 6
    assert item_size({"n": {"N": "12345"}, "z": {"N": "100"}}) == (1 + 3 + 1) + (1 + 1 + 1)
    assert item_size({"l": {"L": [{"S": "ab"}, {"BOOL": True}]}, "m": {"M": {"k": {"S": "v"}}}}) == (1 + 3 + 3) + (
        1 + 3 + 2
    )


def test_an_update_moving_the_index_key_costs_a_delete_and_a_put_in_each_index_that_holds_it() -> None:
    table = FakeTable({"a": big(shard={"S": "01"}, at={"S": "t1"})})
    units = Units()
    params = {"TableName": "cleardue-accounts", "Key": {"id": {"S": "a"}}}
    units.before("dynamodb:UpdateItem", params, table)
    table.items["a"] = big(shard={"S": "01"}, at={"S": "t2"})
    units.observe("dynamodb:UpdateItem", params, {})
    assert dict(units.write) == {
        "scheduler: UpdateItem update accounts": 2,  # 1.5 KB item
        "scheduler: index accounts.due delete": 1,  # keys only: under 1 KB
        "scheduler: index accounts.due put": 1,
        "scheduler: index accounts.everything update": 2,  # its key did not move; a projected attribute did
    }


def test_a_transaction_doubles_the_table_writes_not_the_index_writes_and_an_untouched_index_costs_nothing() -> None:
    table = FakeTable({"a": big(shard={"S": "01"}, at={"S": "t1"}, n={"N": "1"}), "b": {"id": {"S": "b"}}})
    units = Units(phase="sender")
    params = {
        "TransactItems": [
            {"Update": {"TableName": "cleardue-accounts", "Key": {"id": {"S": "a"}}}},
            {"ConditionCheck": {"TableName": "cleardue-accounts", "Key": {"id": {"S": "b"}}}},
            {"Put": {"TableName": "cleardue-accounts", "Item": {"id": {"S": "c"}, "v": {"S": "new"}}}},
        ]
    }
    units.before("dynamodb:TransactWriteItems", params, table)
    table.items["a"] = big(shard={"S": "01"}, at={"S": "t1"}, n={"N": "2"})
    table.items["c"] = {"id": {"S": "c"}, "v": {"S": "new"}}
    units.observe("dynamodb:TransactWriteItems", params, {})
    assert dict(units.write) == {
        "sender: TransactWriteItems update accounts": 4,
        "sender: TransactWriteItems check accounts": 2,
        "sender: TransactWriteItems put accounts": 2,
        "sender: index accounts.everything update": 2,  # ALL: every attribute is projected
    }  # the keys-only index saw no key change: nothing; c is in no index (sparse)
