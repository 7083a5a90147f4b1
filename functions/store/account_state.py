"""Codecs for the account state that arises through cleardue (promise, plan, payments, dispute, ...).

Nested values are stored as plain DynamoDB maps (readable in the console, diffable in an export);
these functions are the only place that knows their shape. Money inside a map is `{"minor", "currency"}`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pynamodb.attributes import MapAttribute

from functions.core.account import (
    Block,
    Channel,
    Dispute,
    DisputeStatus,
    Installment,
    InstallmentStatus,
    Payment,
    Plan,
    PlanStatus,
    Promise,
    PromiseStatus,
)
from functions.core.clock import iso_utc, parse_utc
from functions.core.money import Money


def plain(value: Any) -> Any:
    """A raw MapAttribute / ListAttribute value as plain Python (dicts, lists, str, int)."""
    if isinstance(value, MapAttribute):
        return {key: plain(inner) for key, inner in value.as_dict().items()}
    if isinstance(value, dict):
        return {key: plain(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [plain(inner) for inner in value]
    return value


def counters_in(value: Any) -> dict[str, int]:
    """The engagement counters (name -> count) of a stored map; none when absent."""
    raw = plain(value) if value is not None else {}
    return {str(key): int(count) for key, count in raw.items() if isinstance(count, int | float)}


# The messages handed to the provider per channel: top-level numbers the sender's claim adds to (an ADD needs no
# map to exist), read as the engagement counters "<channel>:delivered" (added to what the map holds: counts
# from the delivery receipts the stack received before it counted at the claim).
DELIVERED_ATTRIBUTES = {"email:delivered": "delivered_email", "sms:delivered": "delivered_sms"}


def with_delivered(counts: dict[str, int], delivered: dict[str, Any]) -> dict[str, int]:
    """`counts` (the engagement map's) plus the delivered counts kept beside it (`delivered`: attribute name ->
    stored number, or None)."""
    for key, attribute in DELIVERED_ATTRIBUTES.items():
        sent = delivered.get(attribute)
        if sent:
            counts[key] = counts.get(key, 0) + int(sent)
    return counts


def engagement_in(item: Any) -> dict[str, int]:
    """An accounts item's engagement counters: its map, and the delivered counts kept beside it."""
    return with_delivered(
        counters_in(item.engagement), {a: getattr(item, a, None) for a in DELIVERED_ATTRIBUTES.values()}
    )


def money_out(value: Money) -> dict[str, Any]:
    return {"minor": value.minor, "currency": value.currency}


def money_in(data: dict[str, Any]) -> Money:
    return Money(int(data["minor"]), str(data["currency"]))


def blocked_out(blocked: dict[Channel, Block]) -> dict[str, str] | None:
    return {channel.value: block.value for channel, block in blocked.items()} or None


def blocked_in(data: dict[str, Any] | None) -> dict[Channel, Block]:
    return {Channel(channel): Block(block) for channel, block in (data or {}).items()}


def promise_out(promise: Promise | None) -> dict[str, Any] | None:
    if promise is None:
        return None
    return {
        "amount": money_out(promise.amount),
        "due": promise.due.isoformat(),
        "made_at": iso_utc(promise.made_at),
        "status": promise.status.value,
    }


def promise_in(data: dict[str, Any] | None) -> Promise | None:
    if not data:
        return None
    return Promise(
        amount=money_in(data["amount"]),
        due=date.fromisoformat(data["due"]),
        made_at=parse_utc(data["made_at"]),
        status=PromiseStatus(data["status"]),
    )


def plan_out(plan: Plan | None) -> dict[str, Any] | None:
    if plan is None:
        return None
    return {
        "plan_id": plan.plan_id,
        "created_at": iso_utc(plan.created_at),
        "status": plan.status.value,
        "customer_id": plan.customer_id,
        "payment_method_id": plan.payment_method_id,
        "installments": [
            {
                "number": installment.number,
                "due": installment.due.isoformat(),
                "amount": money_out(installment.amount),
                "status": installment.status.value,
                "attempts": installment.attempts,
                "payment_id": installment.payment_id,
            }
            for installment in plan.installments
        ],
    }


def plan_in(data: dict[str, Any] | None) -> Plan | None:
    if not data:
        return None
    return Plan(
        plan_id=data["plan_id"],
        created_at=parse_utc(data["created_at"]),
        status=PlanStatus(data["status"]),
        customer_id=data.get("customer_id"),
        payment_method_id=data.get("payment_method_id"),
        installments=tuple(
            Installment(
                number=int(item["number"]),
                due=date.fromisoformat(item["due"]),
                amount=money_in(item["amount"]),
                status=InstallmentStatus(item["status"]),
                attempts=int(item.get("attempts") or 0),
                payment_id=item.get("payment_id"),
            )
            for item in data.get("installments") or ()
        ),
    )


def payment_out(payment: Payment) -> dict[str, Any]:
    return {
        "payment_id": payment.payment_id,
        "amount": money_out(payment.amount),
        "at": iso_utc(payment.at),
        "fees_minor": payment.fees_minor,
        "interest_minor": payment.interest_minor,
        "principal_minor": payment.principal_minor,
        "credit_minor": payment.credit_minor,
        "refunded_minor": payment.refunded_minor,
        "source": payment.source,
    }


def payment_in(data: dict[str, Any]) -> Payment:
    return Payment(
        payment_id=data["payment_id"],
        amount=money_in(data["amount"]),
        at=parse_utc(data["at"]),
        fees_minor=int(data.get("fees_minor") or 0),
        interest_minor=int(data.get("interest_minor") or 0),
        principal_minor=int(data.get("principal_minor") or 0),
        credit_minor=int(data.get("credit_minor") or 0),
        refunded_minor=int(data.get("refunded_minor") or 0),
        source=str(data.get("source") or "checkout"),
    )


def dispute_out(dispute: Dispute | None) -> dict[str, Any] | None:
    if dispute is None:
        return None
    data = {"opened_at": iso_utc(dispute.opened_at), "reason": dispute.reason, "status": dispute.status.value}
    if dispute.verification_ref:
        data["verification_ref"] = dispute.verification_ref
    if dispute.verification_sent_at is not None:
        data["verification_sent_at"] = iso_utc(dispute.verification_sent_at)
    return data


def dispute_in(data: dict[str, Any] | None) -> Dispute | None:
    if not data:
        return None
    sent = data.get("verification_sent_at")
    return Dispute(
        opened_at=parse_utc(data["opened_at"]),
        reason=data["reason"],
        status=DisputeStatus(data["status"]),
        verification_ref=data.get("verification_ref"),
        verification_sent_at=parse_utc(sent) if sent else None,
    )


def outcomes_in(item: Any, currency: str) -> dict[str, Any]:
    """The `Account` fields that arise through cleardue, read from an accounts item (the store's reads and the
    report reader's projection alike): blocks, the preferred channel, promise, plan, payments, credit, dispute,
    tier and engagement."""
    return {
        "blocked_channels": blocked_in(plain(item.blocked_channels)),
        "preferred_channel": Channel(item.preferred_channel) if item.preferred_channel else None,
        "promise": promise_in(plain(item.promise)),
        "plan": plan_in(plain(item.plan)),
        "payments": tuple(payment_in(plain(payment)) for payment in item.payments or ()),
        "credit": Money(int(item.credit_minor), currency) if item.credit_minor else None,
        "dispute": dispute_in(plain(item.dispute)),
        "tier": int(item.tier) if item.tier is not None else None,
        "engagement": engagement_in(item),
    }
