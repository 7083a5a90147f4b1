"""What to tell a debtor whose card payment failed, by Stripe's decline code, and whether to retry.

Source: Stripe's decline-code table (https://docs.stripe.com/declines/codes, "Next steps" column) and
its guidance on issuer declines (https://docs.stripe.com/declines/card): for `lost_card`,
`stolen_card`, `pickup_card`, `fraudulent`, `restricted_card` and `merchant_blacklist` Stripe says not
to reattempt the payment and to present them to the customer as a generic decline (never "your card
was reported stolen"); `do_not_honor`, `call_issuer` and `card_velocity_exceeded` mean "the customer
needs to contact their card issuer"; `insufficient_funds` and `withdrawal_count_limit_exceeded` mean
"use an alternative payment method"; `processing_error`, `try_again_later`, `issuer_not_available`,
`reenter_transaction` and `approve_with_id` may succeed on a retry. A debt is not a purchase: when the
money is not there, the kinder next step is a plan or a promise date, not another card.

`retry` is whether cleardue may charge the same saved card again (off-session plan installments);
a hard decline is never retried, whatever the plan's `max_retries` says.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class NextStep(StrEnum):
    """The one helpful action a PAYMENT_FAILED message proposes."""

    TRY_AGAIN = "try_again"  # a temporary problem: the same card may work in a moment
    CHECK_DETAILS = "check_details"  # a typo in the number, expiry, CVC or postcode
    ANOTHER_CARD = "another_card"  # this card will not work: use a different one
    CONTACT_BANK = "contact_bank"  # the bank said no without a reason: call it, or use another card
    PLAN = "plan"  # the money is not there: smaller monthly payments
    PROMISE = "promise"  # the money is not there now: pick a date (when a plan is not open to them)


@dataclass(frozen=True, slots=True)
class DeclineAdvice:
    code: str  # the decline code as Stripe sent it ("unknown" when it sent none)
    next_step: NextStep
    retry: bool  # may the same card be charged again automatically
    hard: bool  # never retry; tell the debtor only that the card was declined


_HARD = frozenset(
    {
        "lost_card",
        "stolen_card",
        "pickup_card",
        "fraudulent",
        "restricted_card",
        "merchant_blacklist",
        "security_violation",
    }
)
_TABLE: dict[str, tuple[NextStep, bool]] = {
    # Money not available: a plan (or a promise date) rather than the same reminder again.
    "insufficient_funds": (NextStep.PLAN, True),
    "withdrawal_count_limit_exceeded": (NextStep.PLAN, True),
    "card_velocity_exceeded": (NextStep.CONTACT_BANK, True),
    # The bank refused without a reason: contact it or use another card; Stripe advises against retrying.
    "do_not_honor": (NextStep.CONTACT_BANK, False),
    "call_issuer": (NextStep.CONTACT_BANK, False),
    "generic_decline": (NextStep.CONTACT_BANK, False),
    "no_action_taken": (NextStep.CONTACT_BANK, False),
    "revocation_of_authorization": (NextStep.CONTACT_BANK, False),
    "revocation_of_all_authorizations": (NextStep.CONTACT_BANK, False),
    "stop_payment_order": (NextStep.CONTACT_BANK, False),
    "transaction_not_allowed": (NextStep.CONTACT_BANK, False),
    "new_account_information_available": (NextStep.ANOTHER_CARD, False),
    "not_permitted": (NextStep.CONTACT_BANK, False),
    "service_not_allowed": (NextStep.CONTACT_BANK, False),
    # This card cannot be used: another one.
    "expired_card": (NextStep.ANOTHER_CARD, False),
    "card_not_supported": (NextStep.ANOTHER_CARD, False),
    "currency_not_supported": (NextStep.ANOTHER_CARD, False),
    "invalid_account": (NextStep.ANOTHER_CARD, False),
    "invalid_amount": (NextStep.CONTACT_BANK, False),
    "card_declined": (NextStep.CONTACT_BANK, False),
    # Details typed wrong (on-session only; a saved card's details do not change by retrying).
    "incorrect_number": (NextStep.CHECK_DETAILS, False),
    "invalid_number": (NextStep.CHECK_DETAILS, False),
    "incorrect_cvc": (NextStep.CHECK_DETAILS, False),
    "invalid_cvc": (NextStep.CHECK_DETAILS, False),
    "invalid_expiry_month": (NextStep.CHECK_DETAILS, False),
    "invalid_expiry_year": (NextStep.CHECK_DETAILS, False),
    "incorrect_zip": (NextStep.CHECK_DETAILS, False),
    "incorrect_pin": (NextStep.CHECK_DETAILS, False),
    "invalid_pin": (NextStep.CHECK_DETAILS, False),
    "pin_try_exceeded": (NextStep.ANOTHER_CARD, False),
    "offline_pin_required": (NextStep.ANOTHER_CARD, False),
    "online_or_offline_pin_required": (NextStep.ANOTHER_CARD, False),
    # Temporary: the same card may work later.
    "processing_error": (NextStep.TRY_AGAIN, True),
    "try_again_later": (NextStep.TRY_AGAIN, True),
    "issuer_not_available": (NextStep.TRY_AGAIN, True),
    "reenter_transaction": (NextStep.TRY_AGAIN, True),
    "approve_with_id": (NextStep.TRY_AGAIN, True),
    "duplicate_transaction": (NextStep.TRY_AGAIN, False),
    # The bank wants the debtor present (3-D Secure): they must pay on the page themselves.
    "authentication_required": (NextStep.TRY_AGAIN, False),
}


def advise(decline_code: str | None, *, plan_open: bool = True) -> DeclineAdvice:
    """The next step and retry rule for a decline code. Unknown codes are treated like `generic_decline`.

    `plan_open`: whether the debtor can still choose a plan (no plan running); if not, a shortage of
    money suggests a promise date instead."""
    code = (decline_code or "unknown").strip().lower() or "unknown"
    if code in _HARD:
        return DeclineAdvice(code, NextStep.ANOTHER_CARD, retry=False, hard=True)
    step, retry = _TABLE.get(code, (NextStep.CONTACT_BANK, False))
    if step is NextStep.PLAN and not plan_open:
        step = NextStep.PROMISE
    return DeclineAdvice(code, step, retry=retry, hard=False)


def is_hard(decline_code: str | None) -> bool:
    return advise(decline_code).hard
