"""The lender's profile: who the creditor is and the defaults its portfolio falls back on.

Issue-sized growth: stages, cadence, channels and plan bounds join this model as the decision
engine arrives; what is here is what ingestion and the first reminder need.
"""

from __future__ import annotations

import re
from datetime import date, datetime

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
    # Dates in the portfolio: ISO 8601 always; besides it, the formats named here (strptime), e.g.
    # "%m/%d/%Y". Never guessed: 03/04/2026 means what the lender's policy says it means.
    date_formats: tuple[str, ...] = ()
    language: str = Field(default="en", pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return normalize_currency(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        zone(value)
        return value

    @field_validator("date_formats")
    @classmethod
    def _date_formats(cls, formats: tuple[str, ...]) -> tuple[str, ...]:
        sample = date(2026, 11, 23)
        for fmt in formats:
            if not (
                {"%d", "%Y"} <= set(re.findall(r"%[a-zA-Z]", fmt))
                and {"%m", "%b", "%B"} & set(re.findall(r"%[a-zA-Z]", fmt))
            ):
                raise ValueError(f"date format {fmt!r} needs a day (%d), a month (%m or %b) and a 4-digit year (%Y)")
            if datetime.strptime(sample.strftime(fmt), fmt).date() != sample:
                raise ValueError(f"date format {fmt!r} does not round-trip")
        return formats

    @classmethod
    def default_for(cls, lender_id: str) -> LenderProfile:
        """A lender that uploaded a portfolio without a profile: named after its id, US defaults."""
        return cls(lender_id=lender_id, creditor_name=lender_id.replace("-", " ").title())
