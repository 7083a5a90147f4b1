"""Audit trails for the KPI and report tests: an account's events in order, shaped as the functions write them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from functions.core.account import Account
from functions.core.audit import AuditEvent, EventType
from functions.core.money import Money
from functions.core.payments import PaymentFact, apply_payment


class Trail:
    """One account's audit events, numbered in the order they are added (`seq` 1, 2, ...)."""

    def __init__(self, account: Account) -> None:
        self.account_id = account.account_id
        self.events: list[AuditEvent] = []

    def add(self, kind: EventType, when: datetime, **detail: Any) -> Trail:
        seq = len(self.events) + 1
        self.events.append(AuditEvent(self.account_id, when, kind, f"{kind.value}:{seq}", "test", detail, seq=seq))
        return self

    def sent(
        self, when: datetime, channel: str = "email", template: str = "reminder", variant: str = "a", **more: Any
    ) -> Trail:
        """A `reminder_sent` as the sender writes it (an early-stage account, the friendly tone)."""
        return self.add(
            EventType.REMINDER_SENT, when, channel=channel, template=template, variant=variant, stage="early",
            tone="friendly", **more,
        )  # fmt: skip


def paid(
    account: Account, minor: int, when: datetime, trail: Trail, payment_id: str | None = None, source: str = "checkout"
) -> Account:
    """The payment applied to the account as the webhooks do, and its `payment_applied` event in `trail`."""
    payment_id = payment_id or f"pi_{minor}_{when:%j%H}"
    after = apply_payment(account, PaymentFact(payment_id, Money(minor, "USD"), when, source=source))
    payment = after.payments[-1]
    trail.add(
        EventType.PAYMENT_APPLIED, when, payment=payment_id, amount_minor=minor, currency="USD",
        fees_minor=payment.fees_minor, interest_minor=payment.interest_minor, principal_minor=payment.principal_minor,
        status=after.status.value,
    )  # fmt: skip
    return after
