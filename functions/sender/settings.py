"""The senders' settings: the store, where messages point, and each channel's sender identity."""

from __future__ import annotations

import os
from typing import Any

from pydantic import Field

from functions import names
from functions.core.email_address import EmailAddress
from functions.store.settings import StoreSettings


class SenderSettings(StoreSettings):
    """What both channels need: the pay page and portal API (links in every message) and the link key."""

    portal_url: str = Field(pattern=r"^https?://")
    portal_api_url: str = Field(pattern=r"^https?://")
    link_key_secret: str = Field(min_length=1)
    lender_cache_seconds: int = 60  # a lender's profile changes rarely: read it once a minute per container

    @classmethod
    def common_env(cls) -> dict[str, Any]:
        return {
            **cls.env_fields(),
            "portal_url": os.environ.get(names.ENV_PORTAL_URL),
            "portal_api_url": os.environ.get(names.ENV_PORTAL_API_URL),
            "link_key_secret": os.environ.get(names.ENV_LINK_KEY_SECRET),
        }

    @classmethod
    def from_env(cls) -> SenderSettings:
        return cls.model_validate(cls.common_env())


class EmailSettings(SenderSettings):
    default_sender_email: EmailAddress
    ses_configuration_set: str | None = None  # publishes delivery, bounce, complaint, open and click events

    @classmethod
    def from_env(cls) -> EmailSettings:
        return cls.model_validate(
            {
                **cls.common_env(),
                "default_sender_email": os.environ.get(names.ENV_DEFAULT_SENDER_EMAIL),
                "ses_configuration_set": os.environ.get(names.ENV_SES_CONFIGURATION_SET) or None,
            }
        )


class SmsSettings(SenderSettings):
    sms_sender_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9]{1,11}$")  # AWS.SNS.SMS.SenderID default

    @classmethod
    def from_env(cls) -> SmsSettings:
        return cls.model_validate(
            {**cls.common_env(), "sms_sender_id": os.environ.get(names.ENV_SMS_SENDER_ID) or None}
        )
