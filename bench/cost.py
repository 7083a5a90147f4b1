"""`python -m bench.cost [--accounts N]`: the platform's AWS cost per 1,000 emails, from counted calls, measured
CPU time and published prices, against SES's own $0.10 per 1,000 (target: at most 5 % of it).

One scheduler tick and the senders' batches run on moto server (`bench.send.measure`); every AWS call the
functions make is seen with its parameters and response, and priced:

- DynamoDB on-demand request units, from the calls: a read is 1 unit per 4 KB strongly consistent (half
  eventually consistent), a write 1 unit per 1 KB, transactions twice that; sizes are the DynamoDB-JSON
  length of the items sent or returned. An UpdateItem's item is not in the call: it is priced as an
  account item of `ACCOUNT_ITEM_KB` plus the `due` index's delete + put (its key moves on every claim).
- SQS requests: the functions' own, plus what the event source mapping does per batch (one
  ReceiveMessage, one DeleteMessageBatch); the empty polls are a fixed cost per queue, not per message.
- Lambda: one request per batch of 10 and per scheduler tick; duration = the handlers' measured CPU time
  plus `CALL_LATENCY_S` of waiting per AWS call (moto answers in-process; AWS's in-region latency is not
  measured here), billed at the functions' memory (512 MB, arm64).
- CloudWatch Logs ingestion: `LOG_BYTES_PER_MESSAGE` (the sender's "job done" line and its share of the
  EMF metrics line, as they print).
- Secrets Manager: the calls counted (once per container).
Not counted: SES itself (the reference), SNS texts (priced per country), KMS (SQS reuses data keys for
5 minutes; DynamoDB caches table keys), data transfer inside the region (free).

The run is mixed (a third of the accounts get texts): the calls other than SES SendEmail and SNS Publish
are the same work for either channel, so the cost per message of those calls is the cost per email.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
LOG_BYTES_PER_MESSAGE = 1_000  # one "job done" line (~600 B) + a tenth of a batch's EMF line, rounded up
ACCOUNT_ITEM_KB = 2  # an account item with its history, counters and state
SQS_ESM_REQUESTS_PER_BATCH = 2  # ReceiveMessage + DeleteMessageBatch by the event source mapping
BATCH_SIZE = 10


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), default=str))


@dataclass
class Units:
    """DynamoDB request units by operation, as the calls are seen."""

    read: Counter[str] = field(default_factory=Counter)
    write: Counter[str] = field(default_factory=Counter)

    def observe(self, key: str, params: dict[str, Any], response: Any) -> None:
        service, _, operation = key.partition(":")
        if service != "dynamodb":
            return
        factor = 1.0 if params.get("ConsistentRead") else 0.5
        if operation == "GetItem":
            self.read[operation] += factor * max(1, math.ceil(_size(response.get("Item", {})) / 4096))
        elif operation == "Query":
            self.read[operation] += factor * max(1, math.ceil(_size(response.get("Items", [])) / 4096))
        elif operation == "BatchGetItem":
            for items in (response.get("Responses") or {}).values():
                self.read[operation] += sum(0.5 * max(1, math.ceil(_size(item) / 4096)) for item in items)
        elif operation == "PutItem":
            self.write[operation] += max(1, math.ceil(_size(params.get("Item", {})) / 1024))
        elif operation == "UpdateItem":
            self.write[operation] += ACCOUNT_ITEM_KB + 2  # the item, and the due index's delete + put
        elif operation == "DeleteItem":
            self.write[operation] += 1
        elif operation == "BatchWriteItem":
            for requests in (params.get("RequestItems") or {}).values():
                for request in requests:
                    item = (request.get("PutRequest") or {}).get("Item", {})
                    self.write[operation] += max(1, math.ceil(_size(item) / 1024))
        elif operation == "TransactWriteItems":
            for action in params.get("TransactItems", []):
                kind, body = next(iter(action.items()))
                kb = ACCOUNT_ITEM_KB + 2 if kind == "Update" else max(1, math.ceil(_size(body.get("Item", {})) / 1024))
                self.write[operation] += 2 * kb


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
    items = {
        "dynamodb_writes": sum(units.write.values()) * DYNAMODB_PER_MILLION_WRU / 1e6,
        "dynamodb_reads": sum(units.read.values()) * DYNAMODB_PER_MILLION_RRU / 1e6,
        "sqs": sqs_requests * SQS_PER_MILLION_REQUESTS / 1e6,
        "lambda_duration": duration_s * LAMBDA_MEMORY_GB * LAMBDA_PER_GB_SECOND_ARM,
        "lambda_requests": (batches + 1) * LAMBDA_PER_MILLION_REQUESTS / 1e6,
        "logs": delivered * LOG_BYTES_PER_MESSAGE / 1e9 * LOGS_PER_GB_INGESTED,
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
        "sqs_requests_per_message": sqs_requests * per_message,
        "lambda_seconds_per_message": duration_s * per_message,
        "assumptions": {
            "call_latency_s": CALL_LATENCY_S,
            "log_bytes_per_message": LOG_BYTES_PER_MESSAGE,
            "account_item_kb": ACCOUNT_ITEM_KB,
            "lambda_memory_gb": LAMBDA_MEMORY_GB,
        },
    }


def measure(accounts: int) -> dict[str, Any]:
    """bench.send's figures for `accounts` due accounts, and their cost per 1,000 emails."""
    from bench.send import measure as send_measure

    units = Units()
    figures = send_measure(accounts, observer=units.observe)
    return {
        "accounts": accounts,
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
    parser = argparse.ArgumentParser(prog="python -m bench.cost")
    parser.add_argument("--accounts", type=int, default=300)
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args()
    result = measure(args.accounts)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
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


if __name__ == "__main__":
    main()
