"""The experiments table: bandit statistics per lender segment and template variant (atomic counters).

Items: `<lender>#<stage>#<tier>#<language>` + `<template>#<variant>` with `exposures` and `rewards` (only
ever changed by UpdateItem ADD, so concurrent senders and webhooks never lose each other's counts), and
once-only reward markers `reward#<account>#<message event id>` + `marker`, written in the same
transaction as the reward they guard. docs/experiments.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from functions.core.experiments import (
    Choice,
    SegmentStandings,
    Settings,
    Standing,
    Standings,
    pooled,
    pooled_segments,
)
from functions.store import StoreError
from functions.store.attributes import OnDemandTable

REWARD_PREFIX = "reward#"
MARKER = "marker"


class ExperimentModel(Model):
    class Meta(OnDemandTable):
        table_name = "cleardue-experiments"

    segment = UnicodeAttribute(hash_key=True)  # "<lender>#<stage>#<tier>#<language>", or a reward marker's key
    variant = UnicodeAttribute(range_key=True)  # "<template>#<variant>", or "marker"
    exposures = NumberAttribute(null=True)
    rewards = NumberAttribute(null=True)


def _segment(lender_id: str, segment: str) -> str:
    return f"{lender_id}#{segment}"


def standings(lender_id: str, segment: str) -> dict[str, Standing]:
    """Every variant's standing in one of the lender's segments (one Query), keyed `<template>#<variant>`."""
    try:
        return {
            item.variant: Standing(int(item.exposures or 0), int(item.rewards or 0))
            for item in ExperimentModel.query(_segment(lender_id, segment))
        }
    except PynamoDBException as exc:
        raise StoreError(f"reading experiment standings failed: {exc}") from exc


class RunStandings:
    """Standings read at most once per lender during one scheduler run, as the decision uses them.

    With pooling (`Settings.pool_weight` > 0) the lender's first decision reads every pooled segment's arms in
    one batch (`pooled_segments()` x `Settings.stat_keys()`: 48 segments x 7 arms, 4 BatchGetItem calls), and
    each segment's standings are `core.experiments.pooled`: its own evidence with the lender's other segments'
    as its prior; a segment outside the pool (a language without templates) is read on its own and gets the same
    prior. Without pooling, each segment is one Query when first needed, as it stands. What cannot be read counts
    as unseen for the run (the choice is then uniform among the compliant candidates, the warm-up's)."""

    def __init__(self) -> None:
        self._read: dict[tuple[str, str], SegmentStandings] = {}
        self._loaders: dict[str, Standings] = {}
        self.failures = 0

    def of(self, lender_id: str, settings: Settings | None = None) -> Standings:
        loader = self._loaders.get(lender_id)
        if loader is None:
            weight = settings.pool_weight if settings is not None else 0
            pool: Mapping[str, SegmentStandings] | None = None

            def loader(segment: str) -> SegmentStandings:
                nonlocal pool
                key = (lender_id, segment)
                found = self._read.get(key)
                if found is None:
                    if weight > 0 and settings is not None:
                        if pool is None:
                            pool = self._pool(lender_id, settings)
                        segments = pool if segment in pool else {**pool, segment: self._segment(lender_id, segment)}
                        found = pooled(segment, segments, weight)
                    else:
                        found = self._segment(lender_id, segment)
                    self._read[key] = found
                return found

            self._loaders[lender_id] = loader
        return loader

    def _segment(self, lender_id: str, segment: str) -> SegmentStandings:
        try:
            return standings(lender_id, segment)
        except StoreError:
            self.failures += 1
            return {}

    def _pool(self, lender_id: str, settings: Settings) -> Mapping[str, SegmentStandings]:
        try:
            return pooled_standings(lender_id, settings.stat_keys())
        except StoreError:
            self.failures += 1
            return {segment: {} for segment in pooled_segments()}


def pooled_standings(lender_id: str, arms: Sequence[str]) -> dict[str, dict[str, Standing]]:
    """Every pooled segment's standings of `arms` (`<template>#<variant>` keys) for the lender, in BatchGetItem
    calls of 100 keys (PynamoDB reads back what DynamoDB leaves unprocessed). Every pooled segment is a key of
    the answer, those without any statistics empty."""
    segments = pooled_segments()
    found: dict[str, dict[str, Standing]] = {segment: {} for segment in segments}
    prefix = len(lender_id) + 1
    keys = [(_segment(lender_id, segment), arm) for segment in segments for arm in arms]
    try:
        for item in ExperimentModel.batch_get(keys):
            found[item.segment[prefix:]][item.variant] = Standing(int(item.exposures or 0), int(item.rewards or 0))
    except PynamoDBException as exc:
        raise StoreError(f"reading the pooled experiment standings failed: {exc}") from exc
    return found


def add_exposure(lender_id: str, choice: Choice) -> None:
    """One more message sent with the chosen variant (atomic ADD; creates the item on first use)."""
    try:
        ExperimentModel(_segment(lender_id, choice.segment), choice.stat_key).update(
            actions=[ExperimentModel.exposures.add(1)]
        )
    except PynamoDBException as exc:
        raise StoreError(f"counting an experiment exposure failed: {exc}") from exc


def add_reward(lender_id: str, account_id: str, message_event_id: str, choices: Sequence[Choice]) -> bool:
    """Reward the choices of one message (its variant's, its tone's), once: the marker and the ADDs go in one
    transaction. False when this message was already rewarded (a redelivered webhook, or a second payment after
    the same message)."""
    connection = ExperimentModel._get_connection().connection
    try:
        with TransactWrite(connection=connection) as transaction:
            transaction.save(
                ExperimentModel(f"{REWARD_PREFIX}{account_id}#{message_event_id}", MARKER),
                condition=ExperimentModel.segment.does_not_exist(),
            )
            for choice in choices:
                transaction.update(
                    ExperimentModel(_segment(lender_id, choice.segment), choice.stat_key),
                    actions=[ExperimentModel.rewards.add(1)],
                )
    except TransactWriteError as exc:
        reasons = [reason.code if reason else None for reason in exc.cancellation_reasons]
        if reasons and reasons[0] == "ConditionalCheckFailed":
            return False
        raise StoreError(f"rewarding an experiment variant failed: {exc}") from exc
    except PynamoDBException as exc:
        raise StoreError(f"rewarding an experiment variant failed: {exc}") from exc
    return True
