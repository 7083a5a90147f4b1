"""What the learning engine keeps (docs/learning.md): each lender's send-time priors, and the propensity model.

Priors live on the experiments table: one item per lender prior segment, `<lender>#sendtime` +
`<stage>#<tier>#<channel>` (core.sendtime.prior_segment), with one number attribute per hour of the week
that ever saw a response (`h0`..`h167`, sparse). A response is one UpdateItem `ADD h<how> 1` (atomic, creates
the item on first use): the one extra call per engagement event. The scheduler reads a lender's priors
with one Query per run (`RunPriors`), only for lenders whose learning is on.

The propensity model is a JSON artifact (core.propensity): from S3 when the scheduler is configured with
one (`s3://<bucket>/models/propensity/<version>.json`), else the default shipped with the code.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.core import propensity, sendtime
from functions.core.account import Account, Channel
from functions.core.channels import answered_marks
from functions.core.engagement import RESPONSES, Signal, increments
from functions.store import StoreError
from functions.store.experiments import ExperimentModel

PRIORS_SUFFIX = "#sendtime"
HOUR_PREFIX = "h"


def _client() -> Any:
    return ExperimentModel._get_connection().connection.client


def _table() -> str:
    return ExperimentModel.Meta.table_name


def add_response(lender_id: str, segment: str, hour_of_week: int) -> None:
    """One more response in the lender's prior segment at this hour of the week (atomic ADD)."""
    try:
        _client().update_item(
            TableName=_table(),
            Key={"segment": {"S": f"{lender_id}{PRIORS_SUFFIX}"}, "variant": {"S": segment}},
            UpdateExpression="ADD #h :one",
            ExpressionAttributeNames={"#h": f"{HOUR_PREFIX}{int(hour_of_week)}"},
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
    except (BotoCoreError, ClientError) as exc:
        raise StoreError(f"counting a send-time response failed: {exc}") from exc


def count_response(account: Account, signal: Signal, channel: Channel | None, at: datetime) -> bool:
    """Add a response signal to the account's prior segment (nothing for a delivery). Best effort: a lost
    increment only makes the prior a little thinner, so a store failure is swallowed (False)."""
    found = sendtime.prior_increment(
        signal, channel._value_ if channel else None, at, account.debtor.timezone, account.due_date, account.tier
    )
    if found is None:
        return False
    try:
        add_response(account.lender_id, *found)
    except StoreError:
        return False
    return True


def record_engagement(account: Account, signal: Signal, channel: Channel | None, at: datetime) -> bool:
    """One engagement signal: the account's counters (a response also marks its channel answered, in the
    same UpdateItem), then, for a response, its prior segment's hour (one more UpdateItem, best effort).
    False if the account does not exist."""
    from functions.store import webhooks

    marks = answered_marks(channel) if signal in RESPONSES else None
    if marks and channel is None:  # a payment or a visit answers the channels that delivered something
        marks = {mark: source for mark, source in marks.items() if account.engagement.get(source)}
    counts = increments(signal, channel, at, account.debtor.timezone)
    if not webhooks.add_engagement(account.account_id, counts, marks):
        return False
    count_response(account, signal, channel, at)
    return True


def prior_counts(lender_id: str) -> dict[str, dict[int, int]]:
    """Every prior segment of the lender with its hour-of-week counts (one Query, paged)."""
    counts: dict[str, dict[int, int]] = {}
    query: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "#s = :s",
        "ExpressionAttributeNames": {"#s": "segment"},
        "ExpressionAttributeValues": {":s": {"S": f"{lender_id}{PRIORS_SUFFIX}"}},
    }
    try:
        while True:
            page = _client().query(**query)
            for item in page.get("Items", []):
                hours = counts.setdefault(item["variant"]["S"], {})
                for name, value in item.items():
                    if name.startswith(HOUR_PREFIX) and name[1:].isdigit() and "N" in value:
                        hours[int(name[1:])] = int(value["N"])
            if "LastEvaluatedKey" not in page:
                return counts
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    except (BotoCoreError, ClientError) as exc:
        raise StoreError(f"reading send-time priors failed: {exc}") from exc


class RunPriors:
    """Each lender's priors read at most once per scheduler run. Unreadable priors count as none for the
    run (the debtors' own histograms still place their contacts)."""

    def __init__(self) -> None:
        self._read: dict[str, sendtime.Priors | None] = {}
        self.failures = 0

    def of(self, lender_id: str, minimum: int = sendtime.MIN_PRIOR_RESPONSES) -> sendtime.Priors | None:
        if lender_id not in self._read:
            try:
                counts = prior_counts(lender_id)
            except StoreError:
                self.failures += 1
                counts = {}
            self._read[lender_id] = sendtime.Priors(counts, minimum) if counts else None
        return self._read[lender_id]


def load_model(location: str | None, s3: Any = None) -> propensity.Model:
    """The propensity model at `location` (`s3://bucket/key`), else the default shipped with the code (also
    while nothing is published there). Raises StoreError when a configured artifact cannot be read (denied,
    throttled) or is not a propensity model."""
    if not location:
        return propensity.default_model()
    if not location.startswith("s3://") or "/" not in location[5:]:
        raise StoreError(f"the propensity model location {location!r} is not s3://<bucket>/<key>")
    bucket, key = location[5:].split("/", 1)
    try:
        if s3 is None:
            import boto3

            s3 = boto3.client("s3")
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return propensity.Model.from_json(json.loads(body))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return propensity.default_model()  # nothing trained and published yet
        raise StoreError(f"reading the propensity model {location} failed: {exc}") from exc
    except (BotoCoreError, ValueError, KeyError) as exc:
        raise StoreError(f"reading the propensity model {location} failed: {exc}") from exc
