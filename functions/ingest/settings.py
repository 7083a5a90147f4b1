"""The ingest function's settings: the store, the chunk queue and budget, the identity-fact key."""

from __future__ import annotations

import os

from pydantic import Field

from functions import names
from functions.store.settings import StoreSettings


class IngestSettings(StoreSettings):
    verification_key_secret: str
    ingest_queue_url: str
    chunk_seconds: float = Field(default=600.0, gt=0)

    @classmethod
    def from_env(cls) -> IngestSettings:
        env = os.environ
        values = {
            "verification_key_secret": env.get(names.ENV_VERIFICATION_KEY_SECRET),
            "ingest_queue_url": env.get(names.ENV_INGEST_QUEUE_URL),
            "chunk_seconds": env.get(names.ENV_INGEST_CHUNK_SECONDS),
        }
        return cls.model_validate({**cls.env_fields(), **{k: v for k, v in values.items() if v is not None}})
