"""The sender's settings: the store, the default sender identity and the SES configuration set."""

from __future__ import annotations

import os

from pydantic import EmailStr

from functions import names
from functions.store.settings import StoreSettings


class SenderSettings(StoreSettings):
    default_sender_email: EmailStr
    ses_configuration_set: str | None = None
    idempotency_days: int = 7

    @classmethod
    def from_env(cls) -> SenderSettings:
        return cls.model_validate(
            {
                **cls.env_fields(),
                "default_sender_email": os.environ.get(names.ENV_DEFAULT_SENDER_EMAIL),
                "ses_configuration_set": os.environ.get(names.ENV_SES_CONFIGURATION_SET) or None,
            }
        )
