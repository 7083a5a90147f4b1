"""`python -m bench.cost [--accounts N]`: the platform's AWS cost per 1,000 emails, from counted calls, measured
CPU time and published prices, against SES's own $0.10 per 1,000 (target: at most 5 % of it).

One scheduler tick and the senders' batches run on moto server (`bench.send.measure`); every AWS call the
functions make is seen with its parameters and response, and priced (no delivery receipt comes back: the
stack asks for none, the sender counts what it hands over; until 2026-12-01 each was an SNS publish, an
invocation and a write, 1.6 % of SES, priced here on the day they were dropped):

- DynamoDB on-demand request units, from the items themselves, not assumed sizes: just before each counted
  write call every item it touches is read (uncounted, strongly consistent) and read again just after, so
  each write is priced on the real item (`item_size`: every attribute's name plus its value, as the
  developer guide's "Item sizes and formats" counts them; a number is 1 byte per two significant digits
  plus 1, a list or map 3 bytes plus its elements). The rules, per item touched:
  - PutItem / UpdateItem: 1 WRU per KB (rounded up) of the larger of the item before and after; DeleteItem:
    of the item deleted; BatchWriteItem: each put or delete alike.
  - TransactWriteItems: twice that per item, a ConditionCheck included (priced on the checked item as it
    is, at least 1 KB); a cancelled transaction, or a failed conditional write, is priced as if written
    (DynamoDB charges the capacity it used) and changes no index.
  - Each global secondary index of the table (its key and projection as DescribeTable reports them, so as
    functions/store declares them and infra deploys them), by what the write changed in it, at its
    projected size rounded up to 1 KB, never doubled (indexes are updated outside the transaction):
    nothing when the item is in neither image of the index (sparse) or its projection did not change; a put
    when the item enters it (its key attributes appear); a delete when it leaves; a delete + a put when an
    index key attribute changes; one write when only a projected non-key attribute changes (with ALL,
    any attribute).
  - Reads: 1 RRU per 4 KB strongly consistent, half eventually consistent; GetItem and BatchGetItem per
    item, Query on the total size of the items returned.
  The report lists the units per message by phase, operation, kind and table, and the mean and largest
  item size seen after the writes.
- SQS requests: the functions' own, plus what the event source mapping does per batch (one
  ReceiveMessage, one DeleteMessageBatch); the empty polls are a fixed cost per queue, not per message.
- Lambda: one request per batch of 10 and per scheduler tick; duration = the handlers' measured CPU time
  plus `CALL_LATENCY_S` of waiting per AWS call (moto answers in-process; AWS's in-region latency is not
  measured here), billed at the functions' memory (512 MB, arm64).
- CloudWatch Logs ingestion: what the senders printed (measured at INFO, as deployed: Powertools logs and
  EMF metrics), plus Lambda's START / END / REPORT lines per invocation (`LAMBDA_PLATFORM_LOG_BYTES`). The
  scheduler's one tick is left out (per run, not per message).
- Secrets Manager: the calls counted (once per container).
Not counted: SES itself (the reference), SNS texts (priced per country), KMS (SQS reuses data keys for
5 minutes; DynamoDB caches table keys), data transfer inside the region (free).

The run is mixed (a third of the accounts get texts): the calls other than SES SendEmail and SNS Publish
are the same work for either channel, so the cost per message of those calls is the cost per email.
"""

from __future__ import annotations

import base64
import json
import math
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench import cli

# Published prices, us-east-1, read on 2026-11-30.
# https://aws.amazon.com/dynamodb/pricing/on-demand/ (on-demand, since the 1 Nov 2024 price cut)
DYNAMODB_PER_MILLION_WRU = 0.625
DYNAMODB_PER_MILLION_RRU = 0.125
# https://aws.amazon.com/sqs/pricing/ (standard queues, beyond the free tier; a request is up to 64 KB)
SQS_PER_MILLION_REQUESTS = 0.40
# https://aws.amazon.com/lambda/pricing/ (arm64)
LAMBDA_PER_GB_SECOND_ARM = 0.0000133334
LAMBDA_PER_MILLION_REQUESTS = 0.20
# https://aws.amazon.com/cloudwatch/pricing/ (Logs, standard ingestion)
LOGS_PER_GB_INGESTED = 0.50
# https://aws.amazon.com/secrets-manager/pricing/
SECRETS_PER_10K_CALLS = 0.05
# https://aws.amazon.com/ses/pricing/ (outbound email, the reference)
SES_PER_1000_EMAILS = 0.10
TARGET_SHARE = 0.05

LAMBDA_MEMORY_GB = 512 / 1024  # scheduler and senders (infra/constructs/functions.py)
CALL_LATENCY_S = 0.005  # assumed wait per AWS call inside the region
LAMBDA_PLATFORM_LOG_BYTES = 350  # START, END and REPORT lines Lambda writes per invocation
SQS_ESM_REQUESTS_PER_BATCH = 2  # ReceiveMessage + DeleteMessageBatch by the event source mapping
BATCH_SIZE = 10


def _number_size(text: str) -> int:
    """A number's stored size: 1 byte per two significant digits, plus 1 (leading and trailing zeros trimmed)."""
    mantissa = text.lower().lstrip("-+").split("e", 1)[0]
    digits = mantissa.replace(".", "").strip("0")
    return max(1, math.ceil(len(digits) / 2)) + 1


def value_size(value: dict[str, Any]) -> int:
    """The stored size of one DynamoDB-JSON value (the developer guide's "Item sizes and formats")."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(str(inner).encode())
    if kind == "N":
        return _number_size(str(inner))
    if kind == "B":
        return len(inner) if isinstance(inner, bytes) else len(base64.b64decode(inner))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(s).encode()) for s in inner)
    if kind == "NS":
        return sum(_number_size(str(n)) for n in inner)
    if kind == "BS":
        return sum(len(b) if isinstance(b, bytes) else len(base64.b64decode(b)) for b in inner)
    if kind == "L":
        return 3 + sum(value_size(element) for element in inner)
    if kind == "M":
        return 3 + sum(len(name.encode()) + value_size(element) for name, element in inner.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: dict[str, Any] | None) -> int:
    """An item's stored size in bytes: every attribute's name plus its value (0: no item)."""
    return sum(len(name.encode()) + value_size(value) for name, value in (item or {}).items())


def _kb(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), default=str))


@dataclass(frozen=True)
class Index:
    name: str
    keys: tuple[str, ...]
    projection: str  # ALL | KEYS_ONLY | INCLUDE
    include: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    name: str
    keys: tuple[str, ...]
    indexes: tuple[Index, ...]

    def key_of(self, item: dict[str, Any]) -> dict[str, Any]:
        return {name: item[name] for name in self.keys}

    def projected(self, index: Index, item: dict[str, Any] | None) -> dict[str, Any] | None:
        """The item as `index` holds it, or None when the item is not in it (sparse: a key attribute absent)."""
        if item is None or any(name not in item for name in index.keys):
            return None
        if index.projection == "ALL":
            return dict(item)
        names = set(self.keys) | set(index.keys) | set(index.include)
        return {name: value for name, value in item.items() if name in names}


@dataclass
class Target:
    """One item a write call touches, with its image before the call."""

    table: Table
    key: dict[str, Any]
    kind: str  # put | update | delete | check
    transactional: bool
    before: dict[str, Any] | None


Call = Callable[[str, dict[str, Any]], Any]


@dataclass
class Units:
    """DynamoDB request units, from the calls as they are made and the items they touch.

    `before` (just ahead of each counted call) reads every item a write is about to touch, `observe` (after
    it, also when it failed) reads them again: each write is priced on the real item sizes, and each global
    secondary index on what actually changed in it. The reads are made with `call`, which bypasses the
    counter."""

    read: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    write: Counter[str] = field(default_factory=Counter)
    phase: str = "scheduler"
    sizes: dict[str, list[int]] = field(default_factory=dict)  # item sizes seen per table (after writes)
    _tables: dict[str, Table] = field(default_factory=dict)
    _pending: threading.local = field(default_factory=threading.local)

    def before(self, key: str, params: dict[str, Any], call: Call) -> None:
        service, _, operation = key.partition(":")
        if service != "dynamodb":
            return
        targets: list[Target] = []
        for table_name, item_key, kind, transactional in _touched(operation, params, lambda n: self._table(n, call)):
            table = self._table(table_name, call)
            targets.append(Target(table, item_key, kind, transactional, self._get(table, item_key, call)))
        self._pending.state = (targets, call)

    def observe(self, key: str, params: dict[str, Any], response: Any) -> None:
        service, _, operation = key.partition(":")
        if service != "dynamodb":
            return
        if operation in ("GetItem", "Query", "BatchGetItem"):
            self._reads(operation, params, response or {})
            return
        targets, call = getattr(self._pending, "state", ([], None))
        self._pending.state = ([], None)
        for target in targets:
            after = self._get(target.table, target.key, call)
            self._price(operation, target, after)

    def _reads(self, operation: str, params: dict[str, Any], response: dict[str, Any]) -> None:
        factor = 1.0 if params.get("ConsistentRead") else 0.5
        label = f"{self.phase}: {operation}"
        if operation == "GetItem":
            self.read[label] += factor * max(1, math.ceil(item_size(response.get("Item")) / 4096))
        elif operation == "Query":
            # A Query is priced on the items' total size, rounded up once to 4 KB.
            self.read[label] += factor * max(1, math.ceil(sum(map(item_size, response.get("Items", []))) / 4096))
        else:
            for table, items in (response.get("Responses") or {}).items():
                consistent = ((params.get("RequestItems") or {}).get(table) or {}).get("ConsistentRead")
                each = 1.0 if consistent else 0.5
                self.read[label] += sum(each * max(1, math.ceil(item_size(item) / 4096)) for item in items)

    def _price(self, operation: str, target: Target, after: dict[str, Any] | None) -> None:
        table = target.table
        short = table.name.removeprefix("cleardue-")
        factor = 2 if target.transactional else 1
        if target.kind in ("check", "delete"):  # priced on the item as it is (a check: as if written)
            units = _kb(item_size(target.before))
        else:
            units = _kb(max(item_size(target.before), item_size(after)))
        self.write[f"{self.phase}: {operation} {target.kind} {short}"] += factor * units
        if after is not None and target.kind != "check":
            self.sizes.setdefault(short, []).append(item_size(after))
        for index in table.indexes:
            old, new = table.projected(index, target.before), table.projected(index, after)
            if old is None and new is None:
                continue
            label = f"{self.phase}: index {short}.{index.name}"
            if old is None:
                self.write[f"{label} put"] += _kb(item_size(new))
            elif new is None:
                self.write[f"{label} delete"] += _kb(item_size(old))
            elif any(old[name] != new[name] for name in index.keys):
                self.write[f"{label} delete"] += _kb(item_size(old))
                self.write[f"{label} put"] += _kb(item_size(new))
            elif old != new:
                self.write[f"{label} update"] += _kb(max(item_size(old), item_size(new)))

    def _table(self, name: str, call: Call) -> Table:
        if name not in self._tables:
            described = call("DescribeTable", {"TableName": name})["Table"]
            indexes = tuple(
                Index(
                    index["IndexName"],
                    tuple(k["AttributeName"] for k in index["KeySchema"]),
                    index["Projection"]["ProjectionType"],
                    tuple(index["Projection"].get("NonKeyAttributes", ())),
                )
                for index in described.get("GlobalSecondaryIndexes", [])
            )
            self._tables[name] = Table(name, tuple(k["AttributeName"] for k in described["KeySchema"]), indexes)
        return self._tables[name]

    @staticmethod
    def _get(table: Table, key: dict[str, Any], call: Call | None) -> dict[str, Any] | None:
        if call is None:
            return None
        found = call("GetItem", {"TableName": table.name, "Key": key, "ConsistentRead": True})
        item: dict[str, Any] | None = found.get("Item")
        return item


def _touched(
    operation: str, params: dict[str, Any], table: Callable[[str], Table]
) -> list[tuple[str, dict[str, Any], str, bool]]:
    """(table, key, kind, transactional) of every item a write call touches."""
    if operation == "PutItem":
        name = params["TableName"]
        return [(name, table(name).key_of(params["Item"]), "put", False)]
    if operation == "UpdateItem":
        return [(params["TableName"], params["Key"], "update", False)]
    if operation == "DeleteItem":
        return [(params["TableName"], params["Key"], "delete", False)]
    touched: list[tuple[str, dict[str, Any], str, bool]] = []
    if operation == "BatchWriteItem":
        for name, requests in (params.get("RequestItems") or {}).items():
            for request in requests:
                if "PutRequest" in request:
                    touched.append((name, table(name).key_of(request["PutRequest"]["Item"]), "put", False))
                else:
                    touched.append((name, request["DeleteRequest"]["Key"], "delete", False))
    elif operation == "TransactWriteItems":
        kinds = {"Put": "put", "Update": "update", "Delete": "delete", "ConditionCheck": "check"}
        for action in params.get("TransactItems", []):
            kind, body = next(iter(action.items()))
            name = body["TableName"]
            key = table(name).key_of(body["Item"]) if kind == "Put" else body["Key"]
            touched.append((name, key, kinds[kind], True))
    return touched


def price(figures: Any, units: Units) -> dict[str, Any]:
    """Dollars per 1,000 emails by item, from one bench.send run."""
    calls: Counter[str] = figures.calls
    delivered = max(figures.delivered, 1)
    per_message = 1 / delivered
    batches = figures.sender_invocations or math.ceil(delivered / BATCH_SIZE)
    sqs_calls = sum(n for key, n in calls.items() if key.startswith("sqs:"))
    sqs_requests = sqs_calls + SQS_ESM_REQUESTS_PER_BATCH * batches
    platform_calls = sum(n for key, n in calls.items() if key not in ("sesv2:SendEmail", "sns:Publish"))
    cpu_s = figures.warm_cpu_s / max(figures.warm_delivered, 1) * delivered + figures.scheduler_cpu_s
    duration_s = cpu_s + CALL_LATENCY_S * sum(calls.values())
    sender_log_bytes = figures.sender_log_bytes + batches * LAMBDA_PLATFORM_LOG_BYTES
    items = {
        "dynamodb_writes": sum(units.write.values()) * DYNAMODB_PER_MILLION_WRU / 1e6,
        "dynamodb_reads": sum(units.read.values()) * DYNAMODB_PER_MILLION_RRU / 1e6,
        "sqs": sqs_requests * SQS_PER_MILLION_REQUESTS / 1e6,
        "lambda_duration": duration_s * LAMBDA_MEMORY_GB * LAMBDA_PER_GB_SECOND_ARM,
        "lambda_requests": (batches + 1) * LAMBDA_PER_MILLION_REQUESTS / 1e6,
        "logs": sender_log_bytes / 1e9 * LOGS_PER_GB_INGESTED,
        "secrets": calls["secretsmanager:GetSecretValue"] * SECRETS_PER_10K_CALLS / 1e4,
    }
    per_1000 = {name: 1000 * dollars * per_message for name, dollars in items.items()}
    total = sum(per_1000.values())
    return {
        "usd_per_1000_emails": total,
        "by_item_usd_per_1000": per_1000,
        "share_of_ses": total / SES_PER_1000_EMAILS,
        "target_share": TARGET_SHARE,
        "platform_calls_per_message": platform_calls * per_message,
        "dynamodb_wru_per_message": sum(units.write.values()) * per_message,
        "dynamodb_rru_per_message": sum(units.read.values()) * per_message,
        "dynamodb_wru_per_message_by_operation": {op: n * per_message for op, n in units.write.most_common()},
        "dynamodb_rru_per_message_by_operation": {
            op: n * per_message for op, n in sorted(units.read.items(), key=lambda item: -item[1])
        },
        "item_bytes": {
            table: {"mean": round(sum(sizes) / len(sizes)), "max": max(sizes), "writes": len(sizes)}
            for table, sizes in sorted(units.sizes.items())
        },
        "sqs_requests_per_message": sqs_requests * per_message,
        "sender_log_bytes_per_message": sender_log_bytes * per_message,
        "lambda_seconds_per_message": duration_s * per_message,
        "assumptions": {
            "call_latency_s": CALL_LATENCY_S,
            "lambda_platform_log_bytes": LAMBDA_PLATFORM_LOG_BYTES,
            "lambda_memory_gb": LAMBDA_MEMORY_GB,
        },
    }


def measure(accounts: int, history: int = 0) -> dict[str, Any]:
    """bench.send's figures for `accounts` due accounts, and their cost per 1,000 emails."""
    from bench.send import measure as send_measure

    units = Units()

    def phase(name: str) -> None:
        units.phase = name

    figures = send_measure(accounts, observer=units.observe, before=units.before, phase=phase, history=history)
    return {
        "accounts": accounts,
        "history": history,
        "delivered": figures.delivered,
        "emails": figures.emails,
        "texts": figures.texts,
        "calls_per_message": figures.calls_per_message,
        "scheduler_calls": figures.scheduler_calls,
        "sender_calls": figures.sender_calls,
        "calls": dict(figures.calls.most_common()),
        "sender_cpu_ms_per_message": figures.sender_cpu_ms_per_message,
        "sender_warm_cpu_ms_per_message": figures.warm_cpu_ms_per_message,
        "scheduler_cpu_ms_per_message": 1000 * figures.scheduler_cpu_s / max(figures.delivered, 1),
        "cost": price(figures, units),
    }


def main() -> None:
    args = cli.parser("bench.cost", accounts=300, history=0).parse_args()  # --history N: N emails already sent
    result = measure(args.accounts, args.history)
    cli.write_figures(args.json, result)
    cost = result["cost"]
    print(
        f"AWS calls per delivered message: {result['calls_per_message']:.2f} "
        f"({result['delivered']} messages: {result['emails']} emails, {result['texts']} texts)"
    )
    print(
        f"platform cost per 1,000 emails: ${cost['usd_per_1000_emails']:.4f} = {100 * cost['share_of_ses']:.1f} % "
        f"of SES's ${SES_PER_1000_EMAILS:.2f} (target <= {100 * TARGET_SHARE:.0f} %)"
    )
    for item, dollars in cost["by_item_usd_per_1000"].items():
        print(f"    {item:18} ${dollars:.5f}")
    print(f"DynamoDB write units per message: {cost['dynamodb_wru_per_message']:.2f}")
    for operation, units in cost["dynamodb_wru_per_message_by_operation"].items():
        print(f"    {operation:58} {units:6.2f}")
    sizes = ", ".join(f"{table} {size['mean']} B (max {size['max']})" for table, size in cost["item_bytes"].items())
    print(f"item sizes after the writes, mean: {sizes}")


if __name__ == "__main__":
    main()
