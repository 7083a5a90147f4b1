"""Costs of moto 5.2's DynamoDB that DynamoDB does not have, removed for the simulation's long runs (besides
local/moto_tuning.py's two): key and index queries (below), item responses' serialisation and the parse of
UpdateExpressions (further down). `apply()` installs them, `restore()` takes them out (tests).

A Query on a table's own key (no index) makes moto list and *sort every item of the table*, then keep those
with the hash key: O(table size · log) per query. The audit trail reads its last event before every append
(`store.events._last`), so a 90-day run's appends grow quadratically. Here `all_items` answers, during such a
query only, with the items under that hash key (in moto's own order), which is exactly what the filter that
follows keeps. An index query gets the items whose index hash attributes match, unsorted (moto sorts what it
keeps itself). Results, order, paging and filters are moto's unchanged; scans keep the whole-table walk.
"""

from __future__ import annotations

import functools
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
    index_name = bound.arguments.get("index_name")
    conditions = bound.arguments.get("hash_key_conditions") or []
    if index_name and conditions:
        only: tuple[Any, ...] = (self, None, tuple(conditions))
    elif not index_name and hash_key is not None:
        only = (self, hash_key, ())
    else:
        return _original_query(self, *args, **kwargs)
    previous = getattr(_scope, "only", None)
    _scope.only = only
    try:
        return _original_query(self, *args, **kwargs)
    finally:
        _scope.only = previous


def _equal(found: Any, expected: Any) -> bool:
    return found is not None and bool(found == expected)


def _all_items(self: Table) -> list[Any]:
    only = getattr(_scope, "only", None)
    if only is None or only[0] is not self:
        return _original_all_items(self)
    _, hash_key, conditions = only
    if hash_key is None:
        # An index query: moto keeps the items whose index hash attributes match, then sorts them itself;
        # only those are handed over, unsorted (the whole-table sort was the cost).
        found = []
        for bucket in list(self.items.values()):
            for item in list(bucket.values()) if self.range_key_attr else [bucket]:
                if all(_equal(item.attrs.get(name), value) for name, value in conditions):
                    found.append(item)
        return found
    bucket = self.items.get(hash_key)  # a defaultdict: .get never creates the key
    if bucket is None:
        return []
    if not self.range_key_attr:
        return [bucket]
    return sorted(bucket.values(), key=lambda item: item.range_key)


# -- update expressions ---------------------------------------------------------------------------------
# moto parses an UpdateExpression (tokenise + recursive descent) on every UpdateItem; its validator works on a
# deep copy of the tree (`Validator.__init__`), so the parsed tree is never changed and the same text can
# share one parse.
_original_make: Any = None


def _cached_make() -> Any:
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    make = UpdateExpressionParser.make.__func__  # type: ignore[attr-defined]

    @functools.lru_cache(maxsize=4096)
    def parsed(expression: str) -> Any:
        return make(UpdateExpressionParser, expression)

    return classmethod(lambda cls, expression: parsed(expression))


def apply() -> None:
    """Idempotent."""
    global _original_make
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    Table.query = _query  # type: ignore[method-assign]
    Table.all_items = _all_items  # type: ignore[method-assign]
    apply_serializer()
    if _original_make is None:
        _original_make = UpdateExpressionParser.__dict__["make"]
        UpdateExpressionParser.make = _cached_make()  # type: ignore[method-assign]


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
        try:
            resp["body"] = json.dumps(body, separators=(",", ":"))
        except TypeError:  # binary attributes (bytes): moto's own walk base64-encodes them
            return _original_serialize_result(self, resp, result)
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


def restore() -> None:
    """Put moto's own methods back (tests)."""
    global _original_serialize_result
    from moto.core.serialize import JSONSerializer

    Table.query = _original_query  # type: ignore[method-assign]
    Table.all_items = _original_all_items  # type: ignore[method-assign]
    if _original_serialize_result is not None:
        JSONSerializer._serialize_result = _original_serialize_result  # type: ignore[method-assign]
        _original_serialize_result = None
    global _original_make
    if _original_make is not None:
        from moto.dynamodb.parsing.expressions import UpdateExpressionParser

        UpdateExpressionParser.make = _original_make  # type: ignore[method-assign]
        _original_make = None
