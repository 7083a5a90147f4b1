"""The body of POST /ops/accounts/{id}/actions: one action, its reason and its parameters (checked here for
shape; the rules, e.g. an amount below the balance, are core.ops's)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from functions.core.ops import (
    MAX_REASON_CHARS,
    MAX_REF_CHARS,
    Action,
    AdjustmentCode,
    CloseCode,
    Component,
    Medium,
    Notice,
    QueueReason,
)

Ref = Annotated[str, Field(min_length=1, max_length=MAX_REF_CHARS)]


class EraseRequest(BaseModel):
    """The body of POST /ops/accounts/{id}/erase: why (the debtor's request, its channel or ticket)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: str = Field(min_length=1, max_length=MAX_REASON_CHARS)


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: str = Field(min_length=1, max_length=MAX_REASON_CHARS)
    expected_version: int | None = Field(default=None, ge=0)  # the version the operator saw: 409 if it moved

    def params(self) -> dict[str, Any]:
        """The action's own parameters, as core.ops takes them."""
        return {name: getattr(self, name) for name in type(self).model_fields if name not in _COMMON}


_COMMON = {"action", "reason", "expected_version"}


class ResolveDispute(_Action):
    action: Literal[Action.RESOLVE_DISPUTE]
    outcome: Literal["verified", "upheld"]
    verification_ref: Ref | None = None
    send_by: Literal["email", "letter"] = "email"  # verified: cleardue emails the verification, or it was mailed
    close: bool = False
    amount_minor: int | None = None
    component: Component = Component.PRINCIPAL


class RecordConversation(_Action):
    action: Literal[Action.RECORD_CONVERSATION]
    medium: Medium = Medium.PHONE
    at: AwareDatetime | None = None
    resolves: list[QueueReason] = Field(default_factory=list)


class RecordNotice(_Action):
    action: Literal[Action.RECORD_NOTICE]
    notice: Notice
    received_on: date | None = None
    reference: Ref | None = None


class AdjustBalance(_Action):
    action: Literal[Action.ADJUST_BALANCE]
    delta_minor: int
    code: AdjustmentCode
    component: Component = Component.PRINCIPAL


class Recall(_Action):
    action: Literal[Action.RECALL]


class Close(_Action):
    action: Literal[Action.CLOSE]
    code: CloseCode


class ApproveSettlement(_Action):
    action: Literal[Action.APPROVE_SETTLEMENT]
    amount_minor: int
    days: int = 14


class ResendValidationNotice(_Action):
    action: Literal[Action.RESEND_VALIDATION_NOTICE]


class MarkHandled(_Action):
    action: Literal[Action.MARK_HANDLED]
    resolves: list[QueueReason] = Field(min_length=1)


ActionRequest = Annotated[
    ResolveDispute
    | RecordConversation
    | RecordNotice
    | AdjustBalance
    | Recall
    | Close
    | ApproveSettlement
    | ResendValidationNotice
    | MarkHandled,
    Field(discriminator="action"),
]
ACTION_REQUEST: TypeAdapter[ActionRequest] = TypeAdapter(ActionRequest)
