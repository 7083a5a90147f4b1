"""Binding the models to the deployment's table names, and creating the tables from the models."""

from __future__ import annotations

from typing import TypeVar

from pynamodb.models import Model

from functions.store import pii
from functions.store.accounts import AccountModel
from functions.store.events import EventIdModel, EventModel
from functions.store.experiments import ExperimentModel
from functions.store.idempotency import TTL_ATTRIBUTE, IdempotencyModel
from functions.store.lenders import LenderModel
from functions.store.settings import StoreSettings
from functions.store.uploads import UploadModel

Settings = TypeVar("Settings", bound=StoreSettings)


def models_by_setting() -> dict[str, type[Model]]:
    """Each table's settings field and the model that defines its schema."""
    return {
        "accounts_table": AccountModel,
        "events_table": EventModel,
        "uploads_table": UploadModel,
        "lenders_table": LenderModel,
        "idempotency_table": IdempotencyModel,
        "experiments_table": ExperimentModel,
        "keys_table": pii.KeyModel,
    }


def _bind(model: type[Model], table_name: str, region: str | None) -> None:
    model.Meta.table_name = table_name
    if region:
        model.Meta.region = region
    model._connection = None


def configure(settings: Settings) -> Settings:
    """Point every model at its table; drops cached connections (the endpoint may have changed)."""
    for field, model in models_by_setting().items():
        _bind(model, getattr(settings, field), settings.region)
    _bind(EventIdModel, settings.events_table, settings.region)  # the once-only markers share the events table
    pii.configure(settings.pii_key_id, settings.region)
    return settings


def create_all_tables(settings: StoreSettings, client: object | None = None) -> list[str]:
    """Create every table (idempotent); used by the local stack and the tests. Returns the names."""
    configure(settings)
    if settings.pii_key_id is None:
        pii.ensure_local_key(settings.region)
    for model in models_by_setting().values():
        if not model.exists():
            model.create_table(wait=True)
    if client is not None:
        client.update_time_to_live(  # type: ignore[attr-defined]
            TableName=settings.idempotency_table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
        )
    return [getattr(settings, field) for field in models_by_setting()]
