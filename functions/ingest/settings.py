"""The ingest function's settings: the store plus the key that hashes identity facts."""

from __future__ import annotations

import os

from functions import names
from functions.store.settings import StoreSettings


class IngestSettings(StoreSettings):
    verification_key_secret: str

    @classmethod
    def from_env(cls) -> IngestSettings:
        return cls.model_validate(
            {**cls.env_fields(), "verification_key_secret": os.environ.get(names.ENV_VERIFICATION_KEY_SECRET)}
        )
