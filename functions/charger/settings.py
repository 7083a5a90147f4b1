"""The charger's settings: the store and the Stripe secret (and, locally, the emulator's address)."""

from __future__ import annotations

import os

from pydantic import Field

from functions import names
from functions.store.settings import StoreSettings


class ChargerSettings(StoreSettings):
    stripe_secret: str = Field(min_length=1)  # Secrets Manager id of {"api_key", "webhook_secret"}
    stripe_api_base: str | None = None  # the local emulator; unset in AWS
    secret_max_age_seconds: int = 300
    lender_cache_seconds: int = 60

    @classmethod
    def from_env(cls) -> ChargerSettings:
        env = os.environ
        return cls.model_validate(
            {
                **cls.env_fields(),
                "stripe_secret": env.get(names.ENV_STRIPE_SECRET),
                "stripe_api_base": env.get(names.ENV_STRIPE_API_BASE) or None,
            }
        )
