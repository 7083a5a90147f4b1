"""Attribute types shared by the models."""

from __future__ import annotations

from datetime import datetime

from pynamodb.attributes import Attribute
from pynamodb.constants import STRING

from functions.core.clock import iso_utc, parse_utc


class UTCTimestampAttribute(Attribute[datetime]):
    """An aware datetime stored as ISO 8601 UTC text ("2026-03-08T14:00:00Z"), sortable as a range key."""

    attr_type = STRING

    def serialize(self, value: datetime) -> str:
        return iso_utc(value)

    def deserialize(self, value: str) -> datetime:
        return parse_utc(value)


class OnDemandTable:
    """Base of every model's Meta: on-demand capacity (the table name is bound by `tables.configure`)."""

    billing_mode = "PAY_PER_REQUEST"
