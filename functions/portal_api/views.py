"""Domain objects as the portal API shows them (money displayed in the session's language)."""

from __future__ import annotations

from datetime import date, datetime
from typing import cast

from functions.core import hardship, portal
from functions.core.account import Account, Block, Dispute, Plan, Promise
from functions.core.clock import local_date
from functions.core.lender import LenderProfile
from functions.core.money import Money
from functions.portal_api import models
from functions.store.portal import PortalState


def money(amount: Money, language: str) -> models.MoneyOut:
    return models.MoneyOut(minor=amount.minor, currency=amount.currency, display=portal.format_money(amount, language))


def plan(value: Plan, language: str) -> models.PlanOut:
    return models.PlanOut(
        plan_id=value.plan_id,
        status=value.status.value,
        installments=[
            models.InstallmentOut(
                number=item.number, due=item.due, amount=money(item.amount, language), status=item.status.value
            )
            for item in value.installments
        ],
    )


def promise(value: Promise, language: str) -> models.PromiseOut:
    return models.PromiseOut(amount=money(value.amount, language), date=value.due, status=value.status.value)


def dispute(value: Dispute) -> models.DisputeOut:
    return models.DisputeOut(reason=value.reason, status=value.status.value, opened_at=value.opened_at)


def preferences(account: Account, state: PortalState, language: str) -> models.PreferencesOut:
    chosen = state.language if state.language in portal.LANGUAGES else language
    return models.PreferencesOut(
        preferred_channel=account.preferred_channel,
        language=cast(models.Language, chosen),
        preferred_time=cast(models.PreferredTime | None, state.preferred_time),
        opt_out=sorted(channel for channel, block in account.blocked_channels.items() if block is Block.OPTED_OUT),
    )


def account_view(
    account: Account, lender: LenderProfile, state: PortalState, language: str, now: datetime, today: date
) -> models.AccountResponse:
    balance = account.balance
    items = portal.itemize(account)
    choices = portal.options(account, lender, today)
    settlement = state.settlement_open(now) if choices.pay_full else None
    notice_at = account.validation_notice_at
    return models.AccountResponse(
        disclosure=portal.disclosure(lender, language),
        validation_period_ends=portal.validation_period_end(local_date(notice_at, account.debtor.timezone))
        if notice_at and lender.regime == "third_party"
        else None,
        creditor=lender.creditor_name,
        reference=account.masked_ref,
        status=account.status.value,
        balance=models.BalanceOut(
            principal=money(balance.principal, language),
            interest=money(balance.interest, language),
            fees=money(balance.fees, language),
            total=money(balance.total, language),
        ),
        itemization=models.ItemizationOut(
            date=items.date,
            balance_then=money(items.balance_then, language),
            interest_since=money(items.interest_since, language),
            fees_since=money(items.fees_since, language),
            payments_since=money(items.payments_since, language),
            credits_since=money(items.credits_since, language),
        ),
        due_now=money(portal.due_now(account), language),
        due_date=account.due_date,
        options=models.OptionsOut(
            pay_full=money(choices.pay_full, language) if choices.pay_full else None,
            pay_partial=models.PartialOption(min=money(choices.pay_partial_min, language))
            if choices.pay_partial_min
            else None,
            plan=models.PlanOption(
                max_installments=choices.plan.max_installments,
                min_installment=money(choices.plan.min_installment, language),
                max_start_date=choices.plan.latest_start,
            )
            if choices.plan
            else None,
            promise=models.PromiseOption(max_date=choices.promise_max_date) if choices.promise_max_date else None,
            settlement=models.SettlementOption(
                amount=money(Money(settlement, balance.currency), language),
                expires_at=state.settlement_expires_at,
            )
            if settlement and state.settlement_expires_at and settlement < balance.total.minor
            else None,
        ),
        plan=plan(account.plan, language) if account.plan else None,
        promise=promise(account.promise, language) if account.promise else None,
        dispute=dispute(account.dispute) if account.dispute else None,
        payments=[
            models.PaymentOut(
                payment_id=item.payment_id,
                amount=money(item.amount, language),
                refunded=money(Money(item.refunded_minor, item.amount.currency), language),
                at=item.at,
                source=item.source,
            )
            for item in account.payments
        ],
        preferences=preferences(account, state, language),
    )


_HARDSHIP_MESSAGES = {
    hardship.Outcome.PLAN: "A payment plan fits what you can afford. You can set it up now.",
    hardship.Outcome.SETTLEMENT: (
        "We can offer to settle the account for a reduced amount, paid once before the offer ends."
    ),
    hardship.Outcome.REFERRAL: "Thank you for telling us. A person will review your situation and contact you.",
}


def hardship_answer(answer: hardship.HardshipAnswer, language: str) -> models.HardshipResponse:
    offer = None
    if answer.plan:
        offer = models.HardshipOffer(
            plan=models.PlanOfferOut(
                installments=answer.plan.installments,
                installment=money(answer.plan.installment, language),
                last_installment=money(answer.plan.last_installment, language),
                start_by=answer.plan.start_by,
            )
        )
    elif answer.settlement:
        offer = models.HardshipOffer(
            settlement=models.SettlementOfferOut(
                amount=money(answer.settlement.amount, language),
                percent=answer.settlement.percent,
                expires_at=answer.settlement.expires_at,
            )
        )
    return models.HardshipResponse(
        outcome=answer.outcome.value, offer=offer, message=_HARDSHIP_MESSAGES[answer.outcome]
    )
