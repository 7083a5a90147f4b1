"""The charger's settings: the store and the Stripe secret (and, locally, the emulator's address)."""

from __future__ import annotations

from functions.payments.settings import StripeSettings


class ChargerSettings(StripeSettings):
    lender_cache_seconds: int = 60

    @classmethod
    def from_env(cls) -> ChargerSettings:
        return cls.model_validate(cls.stripe_env())
