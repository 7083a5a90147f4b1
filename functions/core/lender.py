"""The lender's profile: who the creditor is and the defaults its portfolio falls back on.

Issue-sized growth: stages, cadence, channels and plan bounds join this model as the decision
engine arrives; what is here is what ingestion and the first reminder need.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from functions.core.clock import zone
from functions.core.money import normalize_currency

LENDER_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


class LenderProfile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    lender_id: str = Field(pattern=LENDER_ID_RE.pattern)
    creditor_name: str = Field(min_length=1, max_length=200)
    regime: str = Field(default="first_party", pattern=r"^(first_party|third_party)$")
    currency: str = "USD"
    timezone: str = "America/New_York"
    country: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    sender_email: EmailStr | None = None
    help_email: EmailStr | None = None
    cadence_days: int = Field(default=3, ge=1, le=30)

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return normalize_currency(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        zone(value)
        return value

    @classmethod
    def default_for(cls, lender_id: str) -> LenderProfile:
        """A lender that uploaded a portfolio without a profile: named after its id, US defaults."""
        return cls(lender_id=lender_id, creditor_name=lender_id.replace("-", " ").title())
