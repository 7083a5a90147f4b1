"""The lenders table: each lender's validated profile and policy."""

from __future__ import annotations

import json

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
