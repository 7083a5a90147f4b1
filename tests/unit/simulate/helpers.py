"""DynamoDB tables for the moto tests, created through boto3 as the scripts that then call them."""

from __future__ import annotations

from typing import Any


def key_schema(hash_key: str, range_key: str | None = None) -> list[dict[str, str]]:
    """A table's or an index's KeySchema: `hash_key`, then `range_key` if there is one."""
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return schema


def create_indexed_table(client: Any, name: str, index: str, index_keys: tuple[str, str]) -> None:
    """An on-demand table keyed by the strings pk and sk, with one global index `index` keyed by the strings
    `index_keys` (hash, range) that projects every attribute."""
    keys = dict.fromkeys(("pk", "sk", *index_keys))
    client.create_table(
        TableName=name,
        KeySchema=key_schema("pk", "sk"),
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key in keys],
        GlobalSecondaryIndexes=[
            {"IndexName": index, "KeySchema": key_schema(*index_keys), "Projection": {"ProjectionType": "ALL"}}
        ],
        BillingMode="PAY_PER_REQUEST",
    )
