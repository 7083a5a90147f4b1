"""The portal API's settings: the store, the two keys, the pay page's origin and Stripe."""

from __future__ import annotations

import os

from pydantic import Field

from functions import names
from functions.store.settings import StoreSettings


class PortalSettings(StoreSettings):
    link_key_secret: str = Field(min_length=1)
    verification_key_secret: str = Field(min_length=1)
    portal_url: str = Field(pattern=r"^https?://[^/\s]+(/[^\s]*)?$")
    stripe_secret: str | None = None
    stripe_api_base: str | None = None
    secret_max_age: int = 300  # seconds a secret is cached (Powertools parameters)

    @property
    def portal_origin(self) -> str:
        """The scheme and host of the pay page: the only origin CORS allows."""
        scheme, _, rest = self.portal_url.partition("://")
        return f"{scheme}://{rest.split('/')[0]}"

    @classmethod
    def from_env(cls) -> PortalSettings:
        env = os.environ
        return cls.model_validate(
            {
                **cls.env_fields(),
                "link_key_secret": env.get(names.ENV_LINK_KEY_SECRET),
                "verification_key_secret": env.get(names.ENV_VERIFICATION_KEY_SECRET),
                "portal_url": env.get(names.ENV_PORTAL_URL),
                "stripe_secret": env.get(names.ENV_STRIPE_SECRET) or None,
                "stripe_api_base": env.get(names.ENV_STRIPE_API_BASE) or None,
            }
        )
