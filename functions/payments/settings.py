"""The settings every function that calls Stripe shares: the store and the Stripe secret (and, locally, the
emulator's address)."""

from __future__ import annotations

import os
from typing import Any

from pydantic import Field

from functions import names
from functions.store.settings import StoreSettings


class StripeSettings(StoreSettings):
    stripe_secret: str = Field(min_length=1)  # Secrets Manager id of {"api_key", "webhook_secret"}
    stripe_api_base: str | None = None  # the local emulator; unset in AWS
    secret_max_age_seconds: int = 300

    @classmethod
    def stripe_env(cls) -> dict[str, Any]:
        """The store's and Stripe's values from the environment, for a subclass's `from_env` to add to."""
        return {
            **cls.env_fields(),
            "stripe_secret": os.environ.get(names.ENV_STRIPE_SECRET),
            "stripe_api_base": os.environ.get(names.ENV_STRIPE_API_BASE) or None,
        }
