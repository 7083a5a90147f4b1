"""Stripe's exceptions mapped to one PaymentsError: code, message, and whether a retry may help."""

from __future__ import annotations

import pytest
import stripe

from functions.payments.stripe_gateway import PaymentsError, _to_payments_error


def _error(
    cls: type[stripe.StripeError], status: int, type_: str, message: str, code: str | None = None
) -> stripe.StripeError:
    """An error as the SDK builds it from a Stripe error response."""
    body = {"error": {"type": type_, "message": message, **({"code": code} if code else {})}}
    extra = {"param": None} if cls is stripe.InvalidRequestError else {}
    error = cls(message, http_body=None, http_status=status, json_body=body, **extra)  # type: ignore[arg-type]
    error.code = code
    return error


@pytest.mark.parametrize(
    ("error", "code", "retryable"),
    [
        (_error(stripe.RateLimitError, 429, "invalid_request_error", "Too many requests", "rate_limit"),
         "rate_limit", True),
        (_error(stripe.APIError, 500, "api_error", "Internal"), "api_error", True),
        (stripe.APIConnectionError("no route"), "api_connection_error", True),
        (_error(stripe.InvalidRequestError, 400, "invalid_request_error", "Missing required param: mode.",
                "parameter_missing"), "parameter_missing", False),
        (_error(stripe.AuthenticationError, 401, "invalid_request_error", "Invalid API Key provided"),
         "invalid_request_error", False),
        (_error(stripe.IdempotencyError, 400, "idempotency_error", "Keys for ..."), "idempotency_error", False),
    ],
)  # fmt: skip
def test_stripe_errors_map_to_one_payments_error(error: stripe.StripeError, code: str, retryable: bool) -> None:
    mapped = _to_payments_error(error)
    assert isinstance(mapped, PaymentsError)
    assert (mapped.code, mapped.retryable) == (code, retryable)
    assert mapped.message and code in str(mapped)


def test_a_card_error_keeps_its_decline_code_and_is_not_retryable() -> None:
    body = {"error": {"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
                      "message": "Your card has insufficient funds."}}  # fmt: skip
    error = stripe.CardError(
        "Your card has insufficient funds.", None, "card_declined", http_status=402, json_body=body
    )
    mapped = _to_payments_error(error)
    assert (mapped.code, mapped.retryable, mapped.message) == (
        "insufficient_funds",
        False,
        "Your card has insufficient funds.",
    )
