"""Request and response bodies of the portal API (docs/portal-api.md); the OpenAPI schema comes from these."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from functions.core.account import Channel

Token = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Language = Literal["en", "es"]
IdentityCheck = Literal["date_of_birth", "fact", "postal_code_last4"]
PreferredTime = Literal["morning", "afternoon", "evening"]
MinorAmount = Annotated[int, Field(ge=1, le=10**12)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LinkRequest(Request):
    token: Token


class LinkResponse(BaseModel):
    identity_check: IdentityCheck
    languages: list[Language]
    language: Language


class SessionRequest(Request):
    token: Token
    date_of_birth: date | None = None
    fact: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    postal_code: Annotated[str, StringConstraints(min_length=1, max_length=20)] | None = None
    last4: Annotated[str, StringConstraints(min_length=1, max_length=8)] | None = None


class SessionResponse(BaseModel):
    session: str
    expires_at: datetime
    language: Language


class Error(BaseModel):
    code: str
    message: str
    field: str | None = None
    attempts_left: int | None = None
    retry_after: int | None = None


class MoneyOut(BaseModel):
    minor: int
    currency: str
    display: str


class BalanceOut(BaseModel):
    principal: MoneyOut
    interest: MoneyOut
    fees: MoneyOut
    total: MoneyOut


class ItemizationOut(BaseModel):
    date: date | None
    balance_then: MoneyOut
    interest_since: MoneyOut
    fees_since: MoneyOut
    payments_since: MoneyOut
    credits_since: MoneyOut


class PartialOption(BaseModel):
    min: MoneyOut


class PlanOption(BaseModel):
    max_installments: int
    min_installment: MoneyOut
    max_start_date: date


class PromiseOption(BaseModel):
    max_date: date


class SettlementOption(BaseModel):
    amount: MoneyOut
    expires_at: datetime


class OptionsOut(BaseModel):
    pay_full: MoneyOut | None = None
    pay_partial: PartialOption | None = None
    plan: PlanOption | None = None
    promise: PromiseOption | None = None
    settlement: SettlementOption | None = None


class InstallmentOut(BaseModel):
    number: int
    due: date
    amount: MoneyOut
    status: str


class PlanOut(BaseModel):
    plan_id: str
    status: str
    installments: list[InstallmentOut]


class PromiseOut(BaseModel):
    amount: MoneyOut
    date: date
    status: str


class DisputeOut(BaseModel):
    reason: str
    status: str
    opened_at: datetime


class PaymentOut(BaseModel):
    payment_id: str
    amount: MoneyOut
    refunded: MoneyOut
    at: datetime
    source: str


class PreferencesOut(BaseModel):
    preferred_channel: Channel | None
    language: Language
    preferred_time: PreferredTime | None
    opt_out: list[Channel]


class AccountResponse(BaseModel):
    disclosure: str | None = None  # Reg F 1006.18(e), third-party lenders
    validation_period_ends: date | None = None  # 1006.34(b)(5), once the validation notice was sent
    creditor: str
    reference: str
    status: str
    balance: BalanceOut
    itemization: ItemizationOut
    due_now: MoneyOut
    due_date: date
    options: OptionsOut
    plan: PlanOut | None
    promise: PromiseOut | None
    dispute: DisputeOut | None
    payments: list[PaymentOut]
    preferences: PreferencesOut


class PaymentRequest(Request):
    amount_minor: MinorAmount | None = None
    settlement: bool = False  # pay the open settlement offer (from POST /hardship) instead of an amount


class CheckoutResponse(BaseModel):
    checkout_url: str
    checkout_session_id: str


class PlanRequest(Request):
    installments: Annotated[int, Field(ge=2, le=36)]
    start_date: date


class PlanResponse(BaseModel):
    plan: PlanOut
    checkout_url: str
    checkout_session_id: str


class PromiseRequest(Request):
    amount_minor: MinorAmount
    date: date


class PromiseResponse(BaseModel):
    promise: PromiseOut


class DisputeRequest(Request):
    reason: Literal["not_mine", "wrong_amount", "paid_already", "other"]
    details: Annotated[str, StringConstraints(max_length=2000)] = ""


class DisputeResponse(BaseModel):
    dispute: DisputeOut


class HardshipRequest(Request):
    monthly_affordable_minor: Annotated[int, Field(ge=0, le=10**12)]
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None


class PlanOfferOut(BaseModel):
    installments: int
    installment: MoneyOut
    last_installment: MoneyOut
    start_by: date


class SettlementOfferOut(BaseModel):
    amount: MoneyOut
    percent: int
    expires_at: datetime


class HardshipOffer(BaseModel):
    plan: PlanOfferOut | None = None
    settlement: SettlementOfferOut | None = None


class HardshipResponse(BaseModel):
    outcome: Literal["plan", "settlement", "referral"]
    offer: HardshipOffer | None = None
    message: str


class PreferencesRequest(Request):
    preferred_channel: Channel | None = None
    language: Language | None = None
    preferred_time: PreferredTime | None = None
    opt_out: Annotated[list[Channel], Field(max_length=2)] | None = None


class PreferencesResponse(BaseModel):
    preferences: PreferencesOut


class UnsubscribeResponse(BaseModel):
    unsubscribed: Channel
