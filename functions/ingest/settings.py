"""The ingest function reads only the store's settings."""

from functions.store.settings import StoreSettings as IngestSettings

__all__ = ["IngestSettings"]
