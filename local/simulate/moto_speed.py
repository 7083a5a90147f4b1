"""One more cost of moto 5.2's DynamoDB that DynamoDB does not have, removed for the simulation's long runs.

A Query on a table's own key (no index) makes moto list and *sort every item of the table*, then keep those
with the hash key: O(table size · log) per query. The audit trail reads its last event before every append
(`store.events._last`), so a 90-day run's appends grow quadratically. Here `all_items` answers, during such a
query only, with the items under that hash key (in moto's own order), which is exactly what the filter that
follows keeps. Results, order, paging and filters are moto's unchanged. Index queries and scans keep the
whole-table walk (as DynamoDB's GSIs need their own data structure, which moto does not have).
"""

from __future__ import annotations

import inspect
import json
import threading
from typing import Any

from moto.dynamodb.models.table import Table

_scope = threading.local()
_original_query = Table.query
_original_all_items = Table.all_items


_SIGNATURE = inspect.signature(_original_query)


def _query(self: Table, *args: Any, **kwargs: Any) -> Any:
    bound = _SIGNATURE.bind(self, *args, **kwargs)
    hash_key = bound.arguments.get("hash_key")
    if bound.arguments.get("index_name") or hash_key is None:
        return _original_query(self, *args, **kwargs)
    previous = getattr(_scope, "only", None)
    _scope.only = (self, hash_key)
    try:
        return _original_query(self, *args, **kwargs)
    finally:
        _scope.only = previous


def _all_items(self: Table) -> list[Any]:
    only = getattr(_scope, "only", None)
    if only is None or only[0] is not self:
        return _original_all_items(self)
    bucket = self.items.get(only[1]) if only[1] in self.items else None  # a defaultdict: never create a key
    if bucket is None:
        return []
    if not self.range_key_attr:
        return [bucket]
    return sorted(bucket.values(), key=lambda item: item.range_key)


def apply() -> None:
    """Idempotent."""
    Table.query = _query  # type: ignore[method-assign]
    Table.all_items = _all_items  # type: ignore[method-assign]
    apply_serializer()


# -- DynamoDB responses ---------------------------------------------------------------------------------
# moto 5.2 serialises every response by walking the operation's output shape member by member (about 5 ms
# for an account item of 30 attributes). The item operations' results are already in DynamoDB's JSON wire
# form (`dynamo_to_dict`), so for those the body is the same JSON dumped directly.
_ITEM_OPERATIONS = frozenset(
    "GetItem PutItem UpdateItem DeleteItem Query Scan BatchGetItem BatchWriteItem TransactGetItems "
    "TransactWriteItems".split()
)
_original_serialize_result: Any = None
CHECK_FAST_PATH = False  # tests: compare the fast body with moto's own


def _serialize_result(self: Any, resp: Any, result: Any) -> Any:
    operation = self.operation_model
    if (
        operation.name in _ITEM_OPERATIONS
        and operation.service_model.service_name == "dynamodb"
        and isinstance(result, dict)
    ):
        members = operation.output_shape.members if operation.output_shape is not None else {}
        body = {key: value for key, value in result.items() if key in members and value is not None}
        resp["body"] = json.dumps(body, separators=(",", ":"))
        resp["headers"]["Content-Type"] = self._get_protocol_specific_content_type()
        if CHECK_FAST_PATH:
            expected = _original_serialize_result(self, self._create_default_response(), result)
            if json.loads(expected["body"] or "{}") != body:
                raise AssertionError(f"{operation.name}: {expected['body'][:300]} != {resp['body'][:300]}")
        return resp
    return _original_serialize_result(self, resp, result)


def apply_serializer() -> None:
    global _original_serialize_result
    from moto.core.serialize import JSONSerializer

    if _original_serialize_result is None:
        _original_serialize_result = JSONSerializer._serialize_result
        JSONSerializer._serialize_result = _serialize_result  # type: ignore[method-assign]
