"""The lender's profile: who the creditor is and the defaults its portfolio falls back on.

The outreach policy (stages, cadence, channels, tone, window, caps, tiers) is its `outreach`
section (functions/core/policy.py; format in docs/policy.md). `cadence_days` stays the fallback
cadence of any stage or tier that does not set its own.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from functions.core.clock import zone
from functions.core.email_address import EmailAddress
from functions.core.money import normalize_currency
from functions.core.policy import OutreachPolicy, Rules, compile_rules

LENDER_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")

# How a debtor proves who they are on the pay page before anything about the debt is shown:
# the date of birth or the lender's own fact (both kept only as keyed hashes), or the postal code
# plus the last four characters of the account reference.
IDENTITY_CHECKS = ("date_of_birth", "fact", "postal_code_last4")


class PlanBounds(BaseModel):
    """What a debtor may choose on the pay page without a person (amounts in the lender's currency, minor units)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_installments: int = Field(default=6, ge=2, le=36)
    min_installment_minor: int = Field(default=2_500, ge=1)
    max_start_days: int = Field(default=30, ge=0, le=90)  # first installment no later than this after today
    interval_days: int = Field(default=30, ge=7, le=31)  # 30 means monthly, on the same day of the month
    missed_grace_days: int = Field(default=5, ge=0, le=30)  # a failed installment may be paid until then
    max_retries: int = Field(default=2, ge=0, le=5)  # off-session retries of a soft-declined installment


class SettlementBounds(BaseModel):
    """A settlement for less than the balance, offered automatically only within these bounds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = False
    min_percent: int = Field(default=80, ge=1, le=100)  # of the balance
    offer_days: int = Field(default=14, ge=1, le=90)  # an offer lapses after this


class PaymentBounds(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    min_partial_minor: int = Field(default=1_000, ge=1)  # smallest partial payment
    max_promise_days: int = Field(default=14, ge=1, le=60)  # a promise date no later than this after today
    promise_grace_days: int = Field(default=2, ge=0, le=14)  # no reminder until the promise date + grace


class LenderProfile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    lender_id: str = Field(pattern=LENDER_ID_RE.pattern)
    creditor_name: str = Field(min_length=1, max_length=200)
    regime: str = Field(default="first_party", pattern=r"^(first_party|third_party)$")
    currency: str = "USD"
    timezone: str = "America/New_York"
    country: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    sender_email: EmailAddress | None = None  # ASCII only: SES's rule for From addresses
    help_email: EmailAddress | None = None
    cadence_days: int = Field(default=3, ge=1, le=30)
    # Dates in the portfolio: ISO 8601 always; besides it, the formats named here (strptime), e.g.
    # "%m/%d/%Y". Never guessed: 03/04/2026 means what the lender's policy says it means.
    date_formats: tuple[str, ...] = ()
    language: str = Field(default="en", pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")
    # Third-party regime: who is collecting, and where a consumer may write (Reg F 1006.34(c)(1)).
    collector_name: str | None = Field(default=None, min_length=1, max_length=200)
    collector_address: str | None = Field(default=None, min_length=5, max_length=300)
    sms_sender_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9]{1,11}$")  # AWS.SNS.SMS.SenderID
    identity_check: str = Field(default="date_of_birth", pattern="^(" + "|".join(IDENTITY_CHECKS) + ")$")
    payments: PaymentBounds = Field(default_factory=PaymentBounds)
    plans: PlanBounds = Field(default_factory=PlanBounds)
    settlement: SettlementBounds = Field(default_factory=SettlementBounds)
    outreach: OutreachPolicy = Field(default_factory=OutreachPolicy)

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

    def rules(self) -> Rules:
        """The compiled outreach rules the decision engine uses (compile once per lender and reuse)."""
        return compile_rules(
            self.outreach,
            cadence_days=self.cadence_days,
            regime=self.regime,
            promise_grace_days=self.payments.promise_grace_days,
            installment_grace_days=self.plans.missed_grace_days,
        )

    @classmethod
    def default_for(cls, lender_id: str) -> LenderProfile:
        """A lender that uploaded a portfolio without a profile: named after its id, US defaults."""
        return cls(lender_id=lender_id, creditor_name=lender_id.replace("-", " ").title())
