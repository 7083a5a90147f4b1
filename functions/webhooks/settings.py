"""The webhooks function's settings: the Stripe secret, the job queues and the store."""

from __future__ import annotations

import os

from pydantic import Field

from functions import names
from functions.payments.settings import StripeSettings


class WebhooksSettings(StripeSettings):
    email_queue_url: str = Field(min_length=1)
    sms_queue_url: str | None = None  # without it, notices for SMS-only debtors are not sent (logged)
    sms_sender_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9]{1,11}$")
    idempotency_days: int = 7  # Stripe retries a delivery for up to 3 days

    @classmethod
    def from_env(cls) -> WebhooksSettings:
        env = os.environ
        return cls.model_validate(
            {
                **cls.stripe_env(),
                "email_queue_url": env.get(names.ENV_EMAIL_QUEUE_URL),
                "sms_queue_url": env.get(names.ENV_SMS_QUEUE_URL) or None,
                "sms_sender_id": env.get(names.ENV_SMS_SENDER_ID) or None,
            }
        )
