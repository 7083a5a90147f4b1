"""Stripe's test card numbers and what each does (https://docs.stripe.com/testing)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CardBehaviour:
    brand: str
    decline_code: str | None = None  # declined at checkout (payment or setup)
    off_session_decline_code: str | None = None  # attaches fine, declined when charged later
    declines_setup: bool = True  # False: saving the card succeeds (no funds are checked), charging declines

    def decline_for(self, *, off_session: bool) -> str | None:
        return self.decline_code or (self.off_session_decline_code if off_session else None)

    def setup_decline(self) -> str | None:
        return self.decline_code if self.declines_setup else None


TEST_CARDS: dict[str, CardBehaviour] = {
    "4242424242424242": CardBehaviour("visa"),
    "4000056655665556": CardBehaviour("visa"),  # debit
    "5555555555554444": CardBehaviour("mastercard"),
    "378282246310005": CardBehaviour("amex"),
    "4000000000000002": CardBehaviour("visa", decline_code="generic_decline"),
    "4000000000009995": CardBehaviour("visa", decline_code="insufficient_funds", declines_setup=False),
    "4000000000009987": CardBehaviour("visa", decline_code="lost_card"),
    "4000000000009979": CardBehaviour("visa", decline_code="stolen_card"),
    "4000000000000069": CardBehaviour("visa", decline_code="expired_card"),
    "4000000000000341": CardBehaviour("visa", off_session_decline_code="generic_decline"),
}

# The message Stripe returns (and Checkout shows) for each decline code.
DECLINE_MESSAGES: dict[str, str] = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "lost_card": "Your card was declined.",
    "stolen_card": "Your card was declined.",
    "expired_card": "Your card has expired.",
}

# Stripe's error `code` for a decline code (most declines are `card_declined`).
DECLINE_ERROR_CODES: dict[str, str] = {"expired_card": "expired_card"}


def luhn_ok(number: str) -> bool:
    digits = [int(c) for c in reversed(number)]
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits))
    return total % 10 == 0


def normalize_number(raw: str) -> str:
    return "".join(c for c in raw if c.isdigit())
