"""The scheduler's settings: the store, the per-channel job queues and the installment charges queue."""

from __future__ import annotations

import os

from functions import names
from functions.store.settings import StoreSettings


class SchedulerSettings(StoreSettings):
    email_queue_url: str
    sms_queue_url: str | None = None
    charge_queue_url: str | None = None  # without it, plan installments are not charged (only their notices go)
    propensity_model: str | None = None  # s3://bucket/key of the propensity artifact; None: the shipped default

    @classmethod
    def from_env(cls) -> SchedulerSettings:
        return cls.model_validate(
            {
                **cls.env_fields(),
                "email_queue_url": os.environ.get(names.ENV_EMAIL_QUEUE_URL),
                "sms_queue_url": os.environ.get(names.ENV_SMS_QUEUE_URL) or None,
                "charge_queue_url": os.environ.get(names.ENV_CHARGE_QUEUE_URL) or None,
                "propensity_model": os.environ.get(names.ENV_PROPENSITY_MODEL) or None,
            }
        )
