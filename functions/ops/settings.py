"""The ops function's settings: the store, and the portfolio bucket where the lenders' reports are."""

from __future__ import annotations

import os

from functions import names
from functions.store.settings import StoreSettings


class OpsSettings(StoreSettings):
    portfolio_bucket: str | None = None  # unset: the lender report routes answer 503

    @classmethod
    def from_env(cls) -> OpsSettings:
        bucket = os.environ.get(names.ENV_PORTFOLIO_BUCKET)
        return cls.model_validate({**cls.env_fields(), **({"portfolio_bucket": bucket} if bucket else {})})
