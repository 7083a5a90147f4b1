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

import base64
import bisect
import contextlib
import copy
import email
import email.parser
import functools
import inspect
import json
import pickle
import threading
from collections import Counter
from typing import Any

from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import GlobalSecondaryIndex, Table

_scope = threading.local()
_original_query = Table.query
_original_all_items = Table.all_items


_SIGNATURE = inspect.signature(_original_query)


def _query(self: Table, *args: Any, **kwargs: Any) -> Any:
    bound = _SIGNATURE.bind(self, *args, **kwargs)
    arguments = bound.arguments
    hash_key = arguments.get("hash_key")
    index_name = arguments.get("index_name")
    conditions = arguments.get("hash_key_conditions") or []
    if index_name and conditions:
        try:
            with _lock:
                handed = _index_candidates(self, arguments)
        except Exception:  # noqa: BLE001 - moto's own walk answers (or fails) as moto does
            handed = None
        index_queries["walk" if handed is None else "view"] += 1
        only: tuple[Any, ...] = (self, None, tuple(conditions), handed)
    elif not index_name and hash_key is not None:
        only = (self, hash_key, (), None)
    else:
        return _original_query(self, *args, **kwargs)
    previous = getattr(_scope, "only", None)
    _scope.only = only
    try:
        answer = _original_query(self, *args, **kwargs)
    finally:
        _scope.only = previous
    if CHECK_INDEX and only[3] is not None:
        expected = _original_query(self, *args, **kwargs)
        if _comparable(answer) != _comparable(expected):
            raise AssertionError(f"index query {arguments}: {_comparable(answer)} != {_comparable(expected)}")
    return answer


def _comparable(answer: Any) -> Any:
    items, scanned, last_key = answer
    return [item.to_json() for item in items], scanned, last_key


def _equal(found: Any, expected: Any) -> bool:
    return found is not None and bool(found == expected)


def _all_items(self: Table) -> list[Any]:
    only = getattr(_scope, "only", None)
    if only is None or only[0] is not self:
        return _original_all_items(self)
    _, hash_key, conditions, handed = only
    if handed is not None:
        return list(handed)
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


# -- index queries --------------------------------------------------------------------------------------
# moto answers an index Query by walking every item of the table, sorting those under the hash value (with
# DynamoType comparisons), stepping over the previous pages item by item, and measuring every item it passes
# (`Item.size()`, a walk of the item) whether or not it matches the range condition. The scheduler's due-index
# Query does that per shard per tick. Here each index keeps, per hash value, the sorted list of its items'
# sort keys (moto's own sort attributes, as their cast values: moto orders DynamoTypes by their cast values),
# brought up to date for the one key each write touches (`Table.put_item`, `Table.delete_item`, the backend's
# `update_item`, which changes an item in place; transactions and batch writes go through these). A Query then
# hands moto's own loop only the items it could act on: the first one after the exclusive start key (found by
# bisection with moto's own "comes before" test), the items matching the range condition (moto's comparison
# function on the same cast values), and the item at which moto stops (the page's limit, or the 1 MB page size
# that only an item it measures could cross: an item is at most moto's 405,000 bytes, so a non-matching item
# is measured only when the page is within that of 1 MB). moto sorts, pages, filters, projects and counts them
# as before; an index or a hash value with a key of another type than S or N, several key attributes per
# role, or anything unexpected takes moto's walk.
_MAX_ITEM_SIZE = 405000  # moto's item size limit (Item creation, LimitedSizeDict)
_RESULT_SIZE_LIMIT = 1000000  # moto's page size (moto.dynamodb.models.table.RESULT_SIZE_LIMIT)
_lock = threading.RLock()
_generation = 0  # apply() and restore() start a new one: views built before are stale
CHECK_INDEX = False  # tests: every index Query answered both ways and compared
index_queries: Counter[str] = Counter()  # "view": answered from an index view; "walk": moto's walk


def _native(value: Any) -> Any:
    """A key attribute's cast value (how moto orders and compares it), or None for types kept out."""
    kind = value.type
    if kind == "S":
        return value.value
    if kind == "N":
        return value.cast_value
    return None


class _IndexView:
    """One index of one table: per hash value (type, cast value), its items' sort keys in moto's order."""

    def __init__(self, table: Table, index: Any) -> None:
        hashes = [key["AttributeName"] for key in index.schema if key["KeyType"] == "HASH"]
        ranges = [key["AttributeName"] for key in index.schema if key["KeyType"] == "RANGE"]
        if len(hashes) != 1 or len(ranges) > 1:
            raise ValueError("multi-attribute index keys take moto's walk")
        self.items_ref = table.items
        self.generation = _generation
        self.hash_attr = hashes[0]
        self.range_attr = ranges[0] if ranges else None
        if ranges:
            range_attrs: list[str | None] = [ranges[0], table.range_key_attr]
        elif table.range_key_attr and isinstance(index, GlobalSecondaryIndex):
            range_attrs = [table.range_key_attr, table.range_key_attr]
        else:
            range_attrs = [table.hash_key_attr, table.range_key_attr]
        self.hash_attrs = [self.hash_attr, table.hash_key_attr]
        self.range_attrs = range_attrs
        sort_attrs = table._generate_attr_to_sort_by(self.hash_attrs, range_attrs)
        if sort_attrs[0] != self.hash_attr:
            raise ValueError("unexpected sort order")
        self.sort_attrs = sort_attrs[1:]  # the hash attribute is the bucket's
        self.comparison_attr = self.range_attr
        self.types: tuple[str, ...] | None = None
        self.broken = False
        self.entries: dict[Any, tuple[Any, tuple[Any, ...]]] = {}  # table key -> (bucket, sort key)
        self.buckets: dict[Any, list[tuple[Any, ...]]] = {}
        self.keys: dict[tuple[Any, tuple[Any, ...]], Any] = {}  # (bucket, sort key) -> the item's table key
        for item in _original_all_items_unsorted(table):
            self.refresh_item(self._key(item), item)

    @staticmethod
    def _key(item: Any) -> Any:
        return (item.hash_key, item.range_key)

    def _entry(self, item: Any) -> tuple[Any, tuple[Any, ...]] | None:
        attrs = item.attrs
        hash_value = attrs.get(self.hash_attr)
        if hash_value is None or (self.range_attr is not None and attrs.get(self.range_attr) is None):
            return None
        bucket = _native(hash_value)
        values = [attrs[name] for name in self.sort_attrs]
        types = tuple(value.type for value in values)
        if bucket is None or any(kind not in ("S", "N") for kind in types):
            self.broken = True
            return None
        if self.types is None:
            self.types = types
        elif types != self.types:
            self.broken = True  # mixed key types: moto's own comparisons decide (or fail)
        return (hash_value.type, bucket), tuple(_native(value) for value in values)

    def refresh_item(self, key: Any, item: Any) -> None:
        new = self._entry(item) if item is not None else None
        old = self.entries.get(key)
        if old == new:
            return
        if old is not None:
            bucket = self.buckets[old[0]]
            position = bisect.bisect_left(bucket, old[1])
            if position < len(bucket) and bucket[position] == old[1]:
                del bucket[position]
            else:
                self.broken = True
            self.keys.pop(old, None)
            del self.entries[key]
        if new is not None:
            bisect.insort(self.buckets.setdefault(new[0], []), new[1])
            self.keys[new] = key
            self.entries[key] = new

    def item(self, table: Table, bucket: Any, sort_key: tuple[Any, ...]) -> Any:
        hash_key, range_key = self.keys[(bucket, sort_key)]
        found = table.items.get(hash_key)
        return found.get(range_key) if table.range_key_attr is not None and found is not None else found


def _original_all_items_unsorted(table: Table) -> list[Any]:
    if table.range_key_attr:
        return [item for bucket in list(table.items.values()) for item in list(bucket.values())]
    return list(table.items.values())


def _view(table: Table, index_name: str) -> _IndexView | None:
    views: dict[str, _IndexView | None] | None = table.__dict__.get("_moto_speed_views")
    if views is None:
        views = table.__dict__["_moto_speed_views"] = {}
    view = views.get(index_name)
    if view is not None and (view.items_ref is not table.items or view.generation != _generation):
        view = None  # the table's items were replaced (a restore), or written while the hooks were out: rebuilt
        views.pop(index_name)
    if view is None and index_name not in views:
        try:
            index = table.get_index(index_name)
            view = _IndexView(table, index)
        except Exception:  # noqa: BLE001 - an index this does not model: moto's walk
            view = None
        views[index_name] = view
    return None if view is None or view.broken else view


def _touched(table: Table, hash_key: Any, range_key: Any) -> None:
    """A write to one key: bring the table's index views up to date for it."""
    views = table.__dict__.get("_moto_speed_views")
    if not views:
        return
    with _lock:
        key = (hash_key, range_key if table.range_key_attr is not None else None)
        found = table.items.get(hash_key)
        item = found.get(range_key) if table.range_key_attr is not None and found is not None else found
        for view in views.values():
            if view is not None and view.items_ref is table.items and view.generation == _generation:
                view.refresh_item(key, item)


def index_minimum(table: Table, index_name: str) -> Any:
    """The smallest range-key value (its cast value) in an index with a range key, or None when it is empty;
    raises LookupError when the index is not modelled here (read it from the table)."""
    with _lock:
        view = _view(table, index_name)
        if view is None or view.range_attr is None:
            raise LookupError(index_name)
        firsts = [bucket[0][0] for bucket in view.buckets.values() if bucket]
        return min(firsts) if firsts else None


def _index_candidates(table: Table, arguments: dict[str, Any]) -> list[Any] | None:
    """The items moto's index Query loop would act on, in its order (see above); None: moto's walk."""
    if arguments.get("filter_kwargs"):
        return None
    conditions = arguments.get("hash_key_conditions") or []
    range_conditions = arguments.get("range_key_conditions") or []
    if len(conditions) != 1 or len(range_conditions) > 1:
        return None
    limit = arguments.get("limit")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        return None
    view = _view(table, arguments["index_name"])
    if view is None or conditions[0][0] != view.hash_attr:
        return None
    comparison = arguments.get("range_comparison")
    objects = arguments.get("range_objs") or []
    if comparison:
        attribute = range_conditions[-1][0] if range_conditions else view.range_attr
        if attribute is None or attribute != view.range_attr:
            return None
        from moto.dynamodb.comparisons import get_comparison_func

        matches = get_comparison_func(comparison)
        values = [value.cast_value for value in objects]
    hash_value = conditions[0][1]
    bucket_key = (hash_value.type, _native(hash_value))
    sort_keys = view.buckets.get(bucket_key, [])
    forward = arguments.get("scan_index_forward") is not False
    order = sort_keys if forward else sort_keys[::-1]

    def item(position: int) -> Any:
        return view.item(table, bucket_key, order[position])

    start = 0
    exclusive_start_key = arguments.get("exclusive_start_key")
    if exclusive_start_key is not None:
        low, high = 0, len(order)
        while low < high:  # the first item moto's "comes before" test lets through (it holds for a prefix)
            middle = (low + high) // 2
            if table._item_comes_before_dct(
                item(middle), exclusive_start_key, view.hash_attrs, view.range_attrs, forward
            ):
                low = middle + 1
            else:
                high = middle
        start = low
    handed: list[Any] = []
    count, size = 0, 0
    for position in range(start, len(order)):
        if limit is not None and count == limit:
            handed.append(item(position))  # moto stops here with the last result as the LastEvaluatedKey
            break
        matched = not comparison or bool(matches(order[position][0], *values))
        if matched or size + _MAX_ITEM_SIZE > _RESULT_SIZE_LIMIT or position == start:
            found = item(position)
            measured = found.size()
            handed.append(found)
            if size + measured > _RESULT_SIZE_LIMIT:
                break  # moto stops at this item (the page is full)
            if matched:
                count += 1
                size += measured
    return handed


# The writes that change which items an index holds, or their keys: each brings the views up to date for its key.
_original_put_item: Any = None
_original_delete_item: Any = None
_original_update_item: Any = None


def _put_item(self: Table, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return _original_put_item(self, item_attrs, *args, **kwargs)
    finally:
        if self.__dict__.get("_moto_speed_views"):
            _touched_attrs(self, item_attrs)


def _touched_attrs(table: Table, key: dict[str, Any]) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    with contextlib.suppress(Exception):  # a key moto rejected: nothing was written
        hash_key = DynamoType(key[table.hash_key_attr])
        range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr is not None else None
        _touched(table, hash_key, range_key)


def _delete_item(self: Table, hash_key: Any, range_key: Any) -> Any:
    try:
        return _original_delete_item(self, hash_key, range_key)
    finally:
        if self.__dict__.get("_moto_speed_views"):
            _touched(self, hash_key, range_key)


def _update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
    table = self.tables.get(table_name)
    previous = getattr(_scope, "unstreamed", False)
    _scope.unstreamed = table is not None and table.stream_shard is None
    try:
        return _original_update_item(self, table_name, key, *args, **kwargs)
    finally:  # moto changes the item in place (or creates it), and may fail half way: the key is looked at again
        _scope.unstreamed = previous
        if table is not None and table.__dict__.get("_moto_speed_views"):
            _touched_attrs(table, key)


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
# methods) twice per node and asking `isinstance` of abstract classes (slow) several times per node. The same walk,
# with the map built once per traversal and each node class's answers (a Node? processed? by which processor?)
# asked once per traversal.
_original_traverse: Any = None
_NOT_A_NODE, _KEPT, _PROCESS = -3, -2, -1


def _traverse(self: Any, node: Any) -> Any:
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node  # type: ignore[attr-defined]

    types = self.nodes_to_be_processed()
    processors = tuple(self._processing_map().items())
    own_process = type(self).process is DepthFirstTraverser.process
    pre = self.pre_processing_of_child
    plain_pre = type(self).pre_processing_of_child is DepthFirstTraverser.pre_processing_of_child

    kinds: dict[type, int] = {}  # per node class, for this walk: _NOT_A_NODE, _KEPT, _PROCESS or a processor's index
    count = len(processors)

    def kind(node: Any) -> int:
        if not isinstance(node, Node):
            found = _NOT_A_NODE
        elif not isinstance(node, types):
            found = _KEPT
        elif not own_process:
            found = _PROCESS
        else:
            found = next((i for i, (class_key, _) in enumerate(processors) if isinstance(node, class_key)), count)
        kinds[type(node)] = found
        return found

    def walk(node: Any, child_id: int) -> Any:
        found = kinds.get(type(node))
        if found is None:
            found = kind(node)
        if found == _NOT_A_NODE:
            return node
        parent_node = node.parent
        if node.children is not None:
            for i, child_node in enumerate(node.children):
                if not plain_pre:
                    pre(node, i)
                walk(child_node, i)
        if found != _KEPT:
            node = self.process(node) if found == _PROCESS else (processors[found][1](node) if found < count else None)
            node.parent = parent_node
            if parent_node:
                parent_node.children[child_id] = node
        return node

    return walk(node, -1)


# -- the update validator's expression-only checks --------------------------------------------------------
# The first three of the validator's processors (ActionCountValidator, OverlappingPathsValidator,
# UpdateHashRangeKeyValidator) read only the expression's tree, its attribute names and the table's key attributes;
# they raise or hand the tree back unchanged. Once they passed for a (tree, names, key attributes), they pass again:
# their three walks are skipped for it (the other seven, which read the values and the item, always run).
_EXPRESSION_ONLY = ("ActionCountValidator", "OverlappingPathsValidator", "UpdateHashRangeKeyValidator")
_checked: set[tuple[bytes, str, tuple[str, ...]]] = set()
_original_validator_init: Any = None


def _validator_init(
    self: Any,
    expression: Any,
    expression_attribute_names: Any,
    expression_attribute_values: Any,
    item: Any,
    table: Any,
) -> None:
    _original_validator_init(self, expression, expression_attribute_names, expression_attribute_values, item, table)
    entry = _pickled.get(id(expression))
    if entry is not None and entry[0] is expression:
        with contextlib.suppress(TypeError, ValueError):
            names = json.dumps(expression_attribute_names, sort_keys=True)
            self._moto_speed_key = (entry[1], names, tuple(table.table_key_attrs))


def _validate(self: Any) -> Any:
    key = self.__dict__.get("_moto_speed_key")
    processors = self.processors
    pure = tuple(type(processor).__name__ for processor in processors[:3]) == _EXPRESSION_ONLY
    skip = 3 if key is not None and pure and key in _checked else 0
    node = self.node_to_validate
    for index, processor in enumerate(processors[skip:], start=skip):
        node = processor.traverse(node)
        if index == 2 and key is not None and pure:
            if len(_checked) > 8192:
                _checked.clear()
            _checked.add(key)
    return node


# -- the item copies of UpdateItem ----------------------------------------------------------------------------
# moto deep-copies the item twice per UpdateItem: the response handler to report the attributes before the update
# (it only reads `to_json()` of the copy, and `to_json` builds fresh containers, so the live item's `to_json()`
# taken at that moment is the same value), and the backend for the table's stream (`orig_item`, unused when the
# table has no stream). Those two modules' `copy` answer these two without the copy; everything else is copied.
class _Attributes:
    """What the response handler reads of its copy of the item: `to_json()`, taken before the update."""

    def __init__(self, item: Any) -> None:
        self._json = item.to_json()["Attributes"]

    def to_json(self, root_attr_name: str = "Attributes") -> dict[str, Any]:
        return {root_attr_name: self._json}


class _CopyModule:
    def __init__(self, responses: bool) -> None:
        self._responses = responses

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.dynamo_type import Item

        if type(value) is Item:
            if self._responses:
                return _Attributes(value)
            if getattr(_scope, "unstreamed", False):
                return value  # `orig_item`: only the stream reads it, and this table has none
        return copy.deepcopy(value, memo)


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


# -- SES ------------------------------------------------------------------------------------------------
# moto's `send_raw_email` parses the whole MIME message (`email.message_from_string`: every part of the HTML and text
# bodies) to read four headers (From, To, Cc, Bcc); it keeps the raw text, not the parse. The same parser reading
# the headers only (`headersonly=True`, the same compat32 policy) gives those headers as they were.
class _HeadersOnly:
    def __getattr__(self, name: str) -> Any:
        return getattr(email, name)

    @staticmethod
    def message_from_string(text: str, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs:
            return email.message_from_string(text, *args, **kwargs)
        return email.parser.Parser().parsestr(text, headersonly=True)


# -- moto's dispatch -------------------------------------------------------------------------------------
# `BaseResponse.call_action` lists the response class's methods with `inspect.getmembers` on every call (~1 ms) and
# converts the action's name with regular expressions. Both are functions of their argument: answered once each.
_original_method_names: Any = None
_original_camel: Any = None


@functools.cache
def _method_names_of(clazz: type) -> tuple[str, ...]:
    return tuple(_original_method_names(clazz))


def _method_names(clazz: type) -> list[str]:
    return list(_method_names_of(clazz))


@functools.lru_cache(maxsize=4096)
def _camel(argument: str) -> str:
    return _original_camel(argument)  # type: ignore[no-any-return]


# -- SQS ------------------------------------------------------------------------------------------------
# Every received message is checked against the queue's retention period through `get_queue_attributes`, which
# builds all the queue's attributes three times (each walking every message for the approximate counts). The
# same check, reading the one attribute.
_original_retention_check: Any = None


def _retention_check(self: Any, queue_name: str, message: Any) -> bool:
    from moto.sqs import models  # its clock, as moto's own check reads it (the simulation's may stand in)

    retention_period = self.get_queue(queue_name).message_retention_period
    retain_until = retention_period + message.sent_timestamp / 1000
    return not retain_until <= models.unix_time()


# Every ReceiveMessage lists the queue's visible messages (`Queue.messages`), asking each message whether it is
# visible and whether it is delayed: two reads of the clock per message in the queue, in-flight ones included (7 % of
# a 5,000-account baseline run early on, its queues holding a tick's ~1,700 jobs). The same list, the clock read once.
_original_queue_messages: Any = None


def _queue_messages(self: Any) -> list[Any]:
    from moto.sqs import models

    now = models.unix_time_millis()
    return [message for message in self._messages if now > message.visible_at and not now < message.delayed_until]


# Every SendMessage reads the queue's ContentBasedDeduplication through `Queue.attributes`, a property that builds
# every attribute, the approximate message counts included (each a walk of the queue's messages, two of them calling
# the clock per message): quadratic in the queue's length (11 % of a 5,000-account run). While a message is sent,
# that property answers `.get("ContentBasedDeduplication")` as it would (FIFO queues only, booleans as "true" /
# "false"), and anything else with the full build.
_original_queue_attributes: Any = None
_original_send_message: Any = None


class _SendingAttributes:
    def __init__(self, queue: Any) -> None:
        self._queue = queue

    def get(self, name: str, default: Any = None) -> Any:
        if name != "ContentBasedDeduplication":
            return _original_queue_attributes.fget(self._queue).get(name, default)
        if not self._queue.fifo_queue:
            return default
        value = self._queue.content_based_deduplication
        return str(value).lower() if isinstance(value, bool) else value


def _queue_attributes(self: Any) -> Any:
    if getattr(_scope, "sending", False):
        return _SendingAttributes(self)
    return _original_queue_attributes.fget(self)


def _send_message(self: Any, *args: Any, **kwargs: Any) -> Any:
    previous = getattr(_scope, "sending", False)
    _scope.sending = True
    try:
        return _original_send_message(self, *args, **kwargs)
    finally:
        _scope.sending = previous


def apply() -> None:
    """Idempotent."""
    global _original_make, _original_traverse, _original_condition_parse, _original_retention_check
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser  # type: ignore[attr-defined]
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser
    from moto.sqs.models import SQSBackend

    global _generation, _original_put_item, _original_delete_item, _original_update_item
    from moto.dynamodb.models import DynamoDBBackend

    Table.query = _query  # type: ignore[method-assign]
    Table.all_items = _all_items  # type: ignore[method-assign]
    if _original_put_item is None:
        _generation += 1
        _original_put_item = Table.put_item
        _original_delete_item = Table.delete_item
        _original_update_item = DynamoDBBackend.update_item
        Table.put_item = _put_item  # type: ignore[method-assign]
        Table.delete_item = _delete_item  # type: ignore[method-assign]
        DynamoDBBackend.update_item = _update_item  # type: ignore[method-assign]
    apply_serializer()
    if _original_make is None:
        _original_make = UpdateExpressionParser.__dict__["make"]
        UpdateExpressionParser.make = _cached_make()  # type: ignore[method-assign]
        validators.deepcopy = _copy_tree  # type: ignore[assignment]
    global _original_validator_init
    if _original_validator_init is None:
        from moto.dynamodb import models, responses
        from moto.dynamodb.parsing.validators import UpdateExpressionValidator, Validator

        _original_validator_init = Validator.__init__
        UpdateExpressionValidator.__init__ = _validator_init  # type: ignore[method-assign]
        UpdateExpressionValidator.validate = _validate  # type: ignore[method-assign]
        responses.copy = _CopyModule(responses=True)  # type: ignore[assignment]
        models.copy = _CopyModule(responses=False)  # type: ignore[assignment]
    if _original_traverse is None:
        _original_traverse = DepthFirstTraverser.traverse
        DepthFirstTraverser.traverse = _traverse  # type: ignore[method-assign]
    if _original_condition_parse is None:
        _original_condition_parse = ConditionExpressionParser.parse
        ConditionExpressionParser.parse = _condition_parse  # type: ignore[method-assign]
    from moto.ses import models as ses_models

    ses_models.email = _HeadersOnly()  # type: ignore[assignment]
    global _original_method_names, _original_camel
    if _original_method_names is None:
        from moto.core import responses as core_responses

        _original_method_names = core_responses.method_names_from_class
        _original_camel = core_responses.camelcase_to_underscores
        core_responses.method_names_from_class = _method_names  # type: ignore[assignment]
        core_responses.camelcase_to_underscores = _camel  # type: ignore[assignment]
    global _original_queue_attributes, _original_send_message
    if _original_send_message is None:
        from moto.sqs.models import Queue

        _original_queue_attributes = Queue.__dict__["attributes"]
        _original_send_message = SQSBackend.send_message
        Queue.attributes = property(_queue_attributes)  # type: ignore[assignment,method-assign]
        SQSBackend.send_message = _send_message  # type: ignore[method-assign]
    if _original_retention_check is None:
        _original_retention_check = SQSBackend.is_message_valid_based_on_retention_period
        SQSBackend.is_message_valid_based_on_retention_period = _retention_check  # type: ignore[method-assign]
    global _original_queue_messages
    if _original_queue_messages is None:
        from moto.sqs.models import Queue

        _original_queue_messages = Queue.__dict__["messages"]
        Queue.messages = property(_queue_messages)  # type: ignore[assignment,method-assign]
    global _original_size, _original_regular_json, _original_to_dict
    if _original_size is None:
        from moto.dynamodb import responses
        from moto.dynamodb.models import utilities

        _original_size, _original_regular_json = DynamoType.size, DynamoType.to_regular_json
        _original_to_dict = utilities.dynamo_to_dict
        DynamoType.size = _size  # type: ignore[method-assign]
        DynamoType.to_regular_json = _regular_json  # type: ignore[method-assign]
        utilities.dynamo_to_dict = responses.dynamo_to_dict = _to_dict


# -- item sizes ----------------------------------------------------------------------------------------
# moto measures an item on every top-level attribute it sets (LimitedSizeDict: the whole item, each time) and
# its size() wraps every map member in a new DynamoType (which re-wraps its children) just to measure it.
# The same sum, read from the values as they are.
_original_size: Any = None
_original_regular_json: Any = None


def _utf8(value: Any) -> int:
    return len(value if isinstance(value, bytes) else value.encode("utf-8"))


def _size(self: Any) -> int:
    kind, value = self.type, self.value
    if kind == "S" or kind == "B":
        return 1 if isinstance(value, bool) else _utf8(value)
    if kind == "N":
        return len(str(value))
    if kind == "M":
        return sum(_utf8(key) + (_size(member) if type(member) is DynamoType else DynamoType(member).size())
                   for key, member in value.items())  # fmt: skip
    if kind == "L":
        return sum(member.size() for member in value)
    if kind == "SS" or kind == "BS":
        return sum(_utf8(member) for member in value)
    if kind == "NS":
        return sum(len(str(member)) for member in value)
    return 1 if isinstance(value, bool) else _utf8(value)  # BOOL and NULL (True)


def _regular_json(self: Any) -> dict[str, Any]:
    """DynamoType.to_regular_json without the deep copy of the whole subtree at every level of it."""
    value = self.value
    if isinstance(value, dict):
        value = {key: _regular_json(member) if isinstance(member, DynamoType) else copy.deepcopy(member)
                 for key, member in value.items()}  # fmt: skip
    elif isinstance(value, list):
        value = [_regular_json(member) if isinstance(member, DynamoType) else copy.deepcopy(member) for member in value]
    else:
        value = copy.deepcopy(value)
    if self.type == "B" and isinstance(value, str):
        value = base64.b64decode(value)
    return {self.type: value}


_original_to_dict: Any = None


def _to_dict(obj: Any) -> Any:
    """moto's dynamo_to_dict, answering the plain JSON it walks through (most of a result) without its checks."""
    kind = type(obj)
    if kind is dict:
        return {key: _to_dict(value) for key, value in obj.items()}
    if kind is list:
        return [_to_dict(value) for value in obj]
    if kind is str or kind is int or kind is bool or kind is float or obj is None:
        return obj
    if kind is DynamoType and obj.type != "B" and obj.type != "BS":
        return {obj.type: _to_dict(obj.value)}
    return _original_to_dict(obj)  # its own recursion comes back here (the module's name is patched)


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

    global _generation, _original_put_item, _original_delete_item, _original_update_item
    Table.query = _original_query  # type: ignore[method-assign]
    Table.all_items = _original_all_items  # type: ignore[method-assign]
    if _original_put_item is not None:
        from moto.dynamodb.models import DynamoDBBackend

        _generation += 1
        Table.put_item = _original_put_item  # type: ignore[method-assign]
        Table.delete_item = _original_delete_item  # type: ignore[method-assign]
        DynamoDBBackend.update_item = _original_update_item  # type: ignore[method-assign]
        _original_put_item = _original_delete_item = _original_update_item = None
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
    global _original_validator_init
    if _original_validator_init is not None:
        from moto.dynamodb import models, responses
        from moto.dynamodb.parsing.validators import UpdateExpressionValidator

        del UpdateExpressionValidator.__init__, UpdateExpressionValidator.validate
        responses.copy = copy  # type: ignore[attr-defined]
        models.copy = copy  # type: ignore[attr-defined]
        _original_validator_init = None
        _checked.clear()
    if _original_traverse is not None:
        from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser  # type: ignore[attr-defined]

        DepthFirstTraverser.traverse = _original_traverse  # type: ignore[method-assign]
        _original_traverse = None
    if _original_condition_parse is not None:
        from moto.dynamodb.comparisons import ConditionExpressionParser

        ConditionExpressionParser.parse = _original_condition_parse  # type: ignore[method-assign]
        _original_condition_parse = None
        _condition.cache_clear()
    from moto.ses import models as ses_models

    ses_models.email = email  # type: ignore[attr-defined]
    global _original_method_names, _original_camel
    if _original_method_names is not None:
        from moto.core import responses as core_responses

        core_responses.method_names_from_class = _original_method_names  # type: ignore[assignment]
        core_responses.camelcase_to_underscores = _original_camel  # type: ignore[assignment]
        _original_method_names = _original_camel = None
        _method_names_of.cache_clear()
        _camel.cache_clear()
    global _original_queue_attributes, _original_send_message
    if _original_send_message is not None:
        from moto.sqs.models import Queue, SQSBackend

        Queue.attributes = _original_queue_attributes  # type: ignore[method-assign]
        SQSBackend.send_message = _original_send_message  # type: ignore[method-assign]
        _original_queue_attributes = _original_send_message = None
    if _original_retention_check is not None:
        from moto.sqs.models import SQSBackend

        SQSBackend.is_message_valid_based_on_retention_period = _original_retention_check  # type: ignore[method-assign]
        _original_retention_check = None
    global _original_queue_messages
    if _original_queue_messages is not None:
        from moto.sqs.models import Queue

        Queue.messages = _original_queue_messages  # type: ignore[method-assign]
        _original_queue_messages = None
    global _original_size, _original_regular_json, _original_to_dict
    if _original_size is not None:
        from moto.dynamodb import responses
        from moto.dynamodb.models import utilities

        DynamoType.size = _original_size  # type: ignore[method-assign]
        DynamoType.to_regular_json = _original_regular_json  # type: ignore[method-assign]
        utilities.dynamo_to_dict = responses.dynamo_to_dict = _original_to_dict
        _original_size = _original_regular_json = _original_to_dict = None
