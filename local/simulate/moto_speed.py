"""Costs of moto 5.2's DynamoDB and SQS that AWS does not have, removed for the simulation's long runs (besides
local/moto_tuning.py's two): key and index queries (below), item responses' serialisation, the parse of
UpdateExpressions and its copy per call, the AST walks of the update validator, the parse of ConditionExpressions,
and SQS's retention check (further down). `apply()` installs them, `restore()` takes them out (tests); each keeps
moto's answers (tests/unit/simulate/test_moto_speed.py compares them with moto's own).

A Query on a table's own key (no index) makes moto list and *sort every item of the table*, then keep those
with the hash key: O(table size · log) per query. The audit trail reads its last event before every append
(`store.events._last`), so a 90-day run's appends grow quadratically. Here `all_items` answers, during such a
query only, with the items under that hash key (in moto's own order), which is exactly what the filter that
follows keeps. An index query gets the items whose index hash attributes match, unsorted (moto sorts what it
keeps itself). Results, order, paging and filters are moto's unchanged; scans keep the whole-table walk.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import json
import pickle
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
        tree = make(UpdateExpressionParser, expression)
        with contextlib.suppress(Exception):  # a tree pickle cannot carry is deep-copied, as moto does
            _pickled[id(tree)] = (tree, pickle.dumps(tree, protocol=pickle.HIGHEST_PROTOCOL))
        return tree

    return classmethod(lambda cls, expression: parsed(expression))


# The validator deep-copies the (shared) parsed tree on every UpdateItem (`Validator.__init__`); a tree parsed
# above is copied from its pickle instead (the same object graph, parents included, about 5x faster).
_pickled: dict[int, tuple[Any, bytes]] = {}


def _copy_tree(tree: Any, memo: Any = None) -> Any:
    entry = _pickled.get(id(tree))
    if entry is not None and entry[0] is tree:
        return pickle.loads(entry[1])
    return copy.deepcopy(tree, memo)


# -- the update validator's AST walks --------------------------------------------------------------------
# Each of the validator's ten processors walks the whole tree, rebuilding its processing map (a dict of bound
# methods) twice per node. The same walk, with the map built once per traversal.
_original_traverse: Any = None


def _traverse(self: Any, node: Any) -> Any:
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node  # type: ignore[attr-defined]

    types = self.nodes_to_be_processed()
    processors = tuple(self._processing_map().items())
    own_process = type(self).process is DepthFirstTraverser.process
    pre = self.pre_processing_of_child
    plain_pre = type(self).pre_processing_of_child is DepthFirstTraverser.pre_processing_of_child

    def walk(node: Any, child_id: int) -> Any:
        if isinstance(node, Node):
            parent_node = node.parent
            if node.children is not None:
                for i, child_node in enumerate(node.children):
                    if not plain_pre:
                        pre(node, i)
                    walk(child_node, i)
            if isinstance(node, types):
                if own_process:
                    for class_key, processor in processors:
                        if isinstance(node, class_key):
                            node = processor(node)
                            break
                    else:
                        node = None
                else:
                    node = self.process(node)
                node.parent = parent_node
                if parent_node:
                    parent_node.children[child_id] = node
        return node

    return walk(node, -1)


# -- condition expressions ------------------------------------------------------------------------------
# moto lexes and parses a ConditionExpression (with its names and values) on every call, twice for a PutItem
# (the response validates it, the backend evaluates it). The parse is a pure function of the three: the tree
# (`Op`s, evaluated against an item without being changed) is shared per (expression, names, values), and the
# names and values found are reported as moto's parser reports them.
_original_condition_parse: Any = None


@functools.lru_cache(maxsize=8192)
def _condition(expression: str, names: str, values: str) -> tuple[Any, list[str], list[str]]:
    from moto.dynamodb.comparisons import ConditionExpressionParser

    parser = ConditionExpressionParser(expression, json.loads(names), json.loads(values))
    op = _original_condition_parse(parser)
    return op, list(parser.expr_attr_names_found), list(parser.expr_attr_values_found)


def _condition_parse(self: Any) -> Any:
    if not self.condition_expression:
        return _original_condition_parse(self)
    try:
        names = json.dumps(self.expression_attribute_names, sort_keys=True)
        values = json.dumps(self.expression_attribute_values, sort_keys=True)
    except TypeError:  # binary values: parsed as moto does
        return _original_condition_parse(self)
    op, names_found, values_found = _condition(self.condition_expression, names, values)
    self.expr_attr_names_found.extend(names_found)
    self.expr_attr_values_found.extend(values_found)
    return op


# -- SQS ------------------------------------------------------------------------------------------------
# Every received message is checked against the queue's retention period through `get_queue_attributes`, which
# builds all the queue's attributes three times (each walking every message for the approximate counts). The
# same check, reading the one attribute.
_original_retention_check: Any = None


def _retention_check(self: Any, queue_name: str, message: Any) -> bool:
    from moto.core.utils import unix_time

    retention_period = self.get_queue(queue_name).message_retention_period
    retain_until = retention_period + message.sent_timestamp / 1000
    return not retain_until <= unix_time()


def apply() -> None:
    """Idempotent."""
    global _original_make, _original_traverse, _original_condition_parse, _original_retention_check
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser  # type: ignore[attr-defined]
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser
    from moto.sqs.models import SQSBackend

    Table.query = _query  # type: ignore[method-assign]
    Table.all_items = _all_items  # type: ignore[method-assign]
    apply_serializer()
    if _original_make is None:
        _original_make = UpdateExpressionParser.__dict__["make"]
        UpdateExpressionParser.make = _cached_make()  # type: ignore[method-assign]
        validators.deepcopy = _copy_tree  # type: ignore[assignment]
    if _original_traverse is None:
        _original_traverse = DepthFirstTraverser.traverse
        DepthFirstTraverser.traverse = _traverse  # type: ignore[method-assign]
    if _original_condition_parse is None:
        _original_condition_parse = ConditionExpressionParser.parse
        ConditionExpressionParser.parse = _condition_parse  # type: ignore[method-assign]
    if _original_retention_check is None:
        _original_retention_check = SQSBackend.is_message_valid_based_on_retention_period
        SQSBackend.is_message_valid_based_on_retention_period = _retention_check  # type: ignore[method-assign]


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
    global _original_make, _original_traverse, _original_condition_parse, _original_retention_check
    if _original_make is not None:
        from moto.dynamodb.parsing import validators
        from moto.dynamodb.parsing.expressions import UpdateExpressionParser

        UpdateExpressionParser.make = _original_make  # type: ignore[method-assign]
        validators.deepcopy = copy.deepcopy  # type: ignore[attr-defined]
        _original_make = None
        _pickled.clear()
    if _original_traverse is not None:
        from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser  # type: ignore[attr-defined]

        DepthFirstTraverser.traverse = _original_traverse  # type: ignore[method-assign]
        _original_traverse = None
    if _original_condition_parse is not None:
        from moto.dynamodb.comparisons import ConditionExpressionParser

        ConditionExpressionParser.parse = _original_condition_parse  # type: ignore[method-assign]
        _original_condition_parse = None
        _condition.cache_clear()
    if _original_retention_check is not None:
        from moto.sqs.models import SQSBackend

        SQSBackend.is_message_valid_based_on_retention_period = _original_retention_check  # type: ignore[method-assign]
        _original_retention_check = None
