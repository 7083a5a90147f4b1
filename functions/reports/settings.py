"""The reports function's settings: the store, and the portfolio bucket the reports are written to."""

from __future__ import annotations

import os

from functions import names
from functions.store.settings import StoreSettings


class ReportsSettings(StoreSettings):
    portfolio_bucket: str
    propensity_model: str | None = None  # s3://<bucket>/<key> of the model the scheduler uses (absent: shipped)

    @classmethod
    def from_env(cls) -> ReportsSettings:
        return cls.model_validate(
            {
                **cls.env_fields(),
                "portfolio_bucket": os.environ.get(names.ENV_PORTFOLIO_BUCKET),
                "propensity_model": os.environ.get(names.ENV_PROPENSITY_MODEL) or None,
            }
        )
