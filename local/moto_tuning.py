"""Two costs of moto 5.2's DynamoDB that real DynamoDB does not have, removed with the same semantics, and
one guarantee it lacks, added.

- TransactWriteItems backs up *every table it touches* with `copy.deepcopy` before applying, so each
  transaction costs O(table size): the audit trail's appends and ingestion's conditional batches grow
  quadratically with the data. The replacement keeps moto's semantics (all-or-nothing, per-item
  cancellation reasons, the same validations) but backs up and restores only the touched items.
- Creating an item re-measures the whole item for the 400 KB limit after each attribute
  (O(attributes²), ~1.4 ms for a 25-attribute account). The replacement measures it once.
- A conditional write is not atomic across threads: UpdateItem evaluates its condition, then validates and
  applies the update expression, and another thread's write can land in between. Two optimistic-lock
  writes on the same version then both succeed and one is lost (the local stack, and the tests, run the
  webhooks on a server thread while the charger or a sender writes the same account). DynamoDB applies
  each item operation, and each transaction, atomically; here one lock serialises the backend's item
  operations (reads included, so a read never sees half an update).
Applied by the local stack and the test suite; tests/integration/store prove the rollback and the lock.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    ItemSizeTooLarge,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict, bytesize

_OPERATIONS = {"ConditionCheck", "Put", "Delete", "Update"}


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    touched: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []  # table, key, attributes before
    seen: set[tuple[str, str]] = set()
    errors: list[tuple[Any, Any, Any]] = []

    def rollback() -> None:
        for table_name, key, before in reversed(touched):
            if before is None:
                self.delete_item(table_name, key)
            else:
                self.put_item(table_name, before)

    for item in transact_items:
        if len(item) > 1:
            raise TransactWriteSingleOpException
        original_item = None
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in _OPERATIONS:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            if op_type == "Put":
                table = self.get_table(table_name)
                attrs = op["Item"]
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            marker = (str(table_name), str(dict(sorted(key.items()))))
            if marker in seen:
                raise MultipleTransactionsException()
            seen.add(marker)
            current = self.get_item(table_name, key)
            condition = op.get("ConditionExpression")
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            if condition is not None and not get_filter_expression(condition, names, values).expr(current):
                if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                    original_item = current.to_json()["Attributes"]
                raise ConditionalCheckFailed(item=original_item)
            if op_type != "ConditionCheck":
                touched.append((table_name, key, current.to_json()["Attributes"] if current else None))
            expression = {
                "condition_expression": condition,
                "expression_attribute_names": names,
                "expression_attribute_values": values,
            }
            if op_type == "Put":
                self.put_item(table_name, op["Item"], **expression)
            elif op_type == "Delete":
                self.delete_item(table_name, key, **expression)
            elif op_type == "Update":
                self.update_item(table_name, key, update_expression=op["UpdateExpression"], **expression)
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            rollback()
            raise
        except ConditionalCheckFailed as exc:
            errors.append(("ConditionalCheckFailed", str(exc.message), original_item))
        except Exception as exc:  # noqa: BLE001 - moto reports any other failure as the item's reason
            errors.append((type(exc).__name__, str(exc), original_item))
    if any(code is not None for code, _, _ in errors):
        rollback()
        raise TransactionCanceledException(errors)


_ITEM_SIZE_LIMIT = 405000  # moto's own figure for DynamoDB's 400 KB item limit


def _item_init(self: Item, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]) -> None:
    """moto's Item.__init__, measuring the item once instead of once per attribute."""
    self.hash_key = hash_key
    self.range_key = range_key
    converted = {key: DynamoType(value) for key, value in attrs.items()}
    if sum(bytesize(key) + value.size() for key, value in converted.items()) > _ITEM_SIZE_LIMIT:
        raise ItemSizeTooLarge
    self.attrs = LimitedSizeDict()
    dict.update(self.attrs, converted)


_ITEM_LOCK = threading.RLock()  # re-entrant: a transaction's items go through the locked put/update/delete
_SERIALISED = ("get_item", "put_item", "update_item", "delete_item", "query", "scan", "transact_write_items")


def _serialised(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        with _ITEM_LOCK:
            return method(self, *args, **kwargs)

    locked.serialised = True  # type: ignore[attr-defined]
    return locked


def apply() -> None:
    """Idempotent: swap all three in for every DynamoDB backend (in-process and server)."""
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
    Item.__init__ = _item_init  # type: ignore[method-assign]
    for name in _SERIALISED:
        method = getattr(DynamoDBBackend, name)
        if not getattr(method, "serialised", False):
            setattr(DynamoDBBackend, name, _serialised(method))
