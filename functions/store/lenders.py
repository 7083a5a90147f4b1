"""The lenders table: each lender's validated profile and policy."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from pynamodb.attributes import UnicodeAttribute
from pynamodb.exceptions import PynamoDBException
from pynamodb.models import Model

from functions.core.lender import LenderProfile
from functions.store import StoreError, get_or_none
from functions.store.attributes import OnDemandTable


class LenderModel(Model):
    class Meta(OnDemandTable):
        table_name = "cleardue-lenders"

    lender_id = UnicodeAttribute(hash_key=True)
    profile = UnicodeAttribute()  # the validated LenderProfile as JSON


def get(lender_id: str) -> LenderProfile | None:
    item = get_or_none(LenderModel, lender_id, "lender")
    return LenderProfile.model_validate(json.loads(item.profile)) if item else None


def get_or_default(lender_id: str) -> LenderProfile:
    return get(lender_id) or LenderProfile.default_for(lender_id)


def put(profile: LenderProfile) -> None:
    try:
        LenderModel(profile.lender_id, profile=profile.model_dump_json()).save()
    except PynamoDBException as exc:
        raise StoreError(f"saving lender failed: {exc}") from exc


T = TypeVar("T")


class PerLender(Generic[T]):
    """What `derive` makes of each lender's profile (`get_or_default`), kept per container for `ttl_seconds`:
    profiles change rarely (a cache, so wall-clock time)."""

    def __init__(
        self,
        derive: Callable[[LenderProfile], T],
        ttl_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._derive = derive
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[str, tuple[float, T]] = {}

    def __call__(self, lender_id: str) -> T:
        cached = self._entries.get(lender_id)
        if cached and self._clock() - cached[0] < self._ttl:
            return cached[1]
        value = self._derive(get_or_default(lender_id))
        self._entries[lender_id] = (self._clock(), value)
        return value
