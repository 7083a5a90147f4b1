"""The one module that talks to Stripe, through the official SDK's `StripeClient`.

Locally `api_base` points the SDK at `local/stripe_emulator`; with a real test key and no `api_base`
the same calls reach Stripe. Amounts are `Money` (integer minor units, the unit Stripe charges in).
Idempotency keys are the caller's (deterministic per business action): they are passed through so a
retried Lambda never creates a second session, charge or refund. Every Stripe error becomes one
`PaymentsError(code, message, retryable)`, except a declined off-session charge, which is an
ordinary outcome (`ChargeResult` with its decline code).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import stripe

from functions.core.money import Money

PURPOSE_PAYMENT = "payment"
PURPOSE_PLAN_SETUP = "plan_setup"
PURPOSE_INSTALLMENT = "installment"

# Retries of the SDK itself on connection errors / 409 / 5xx (it reuses the same Idempotency-Key).
DEFAULT_NETWORK_RETRIES = 2

_T = TypeVar("_T")


class PaymentsError(Exception):
    """A Stripe call that failed. `retryable` says whether the same call may succeed later."""

    def __init__(self, code: str, message: str, retryable: bool) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class CheckoutLink:
    """A Checkout Session to redirect the debtor to."""

    session_id: str
    url: str


@dataclass(frozen=True, slots=True)
class ChargeResult:
    """The outcome of an off-session charge. `status` is the PaymentIntent's status
    ("succeeded", "processing", "requires_payment_method" after a decline, "requires_action")."""

    payment_intent_id: str | None
    status: str
    decline_code: str | None = None
    message: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


@dataclass(frozen=True, slots=True)
class CheckoutSessionInfo:
    """What the webhooks need from a completed Checkout Session."""

    session_id: str
    mode: str  # "payment" | "setup"
    status: str  # "open" | "complete" | "expired"
    payment_status: str  # "paid" | "unpaid" | "no_payment_required"
    customer_id: str | None
    payment_intent_id: str | None
    setup_intent_id: str | None
    payment_method_id: str | None  # the card saved in setup mode (the setup intent's payment method)
    amount_total: Money | None
    metadata: dict[str, str] = field(default_factory=dict)


def _id_of(value: Any) -> str | None:
    """An expandable Stripe field: either an id string or an expanded object with `.id`."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return str(value["id"])


def _to_payments_error(exc: stripe.StripeError) -> PaymentsError:
    error_type = exc.error.type if exc.error is not None else None
    code = exc.code or error_type or type(exc).__name__
    message = exc.user_message or str(exc) or type(exc).__name__
    if isinstance(exc, stripe.CardError):
        return PaymentsError(exc.error.decline_code if exc.error and exc.error.decline_code else code, message, False)
    retryable = isinstance(exc, stripe.RateLimitError | stripe.APIConnectionError) or (
        isinstance(exc, stripe.APIError) and (exc.http_status is None or exc.http_status >= 500)
    )
    if isinstance(exc, stripe.APIConnectionError):
        code = "api_connection_error"
    return PaymentsError(str(code), message, retryable)


class WebhookSignatureError(ValueError):
    """A webhook delivery whose Stripe-Signature does not verify (bad, missing or stale) or whose body is not JSON."""


def verify_webhook(payload: str | bytes, signature_header: str | None, secret: str) -> dict[str, Any]:
    """Verify a delivery on its raw body exactly as received and return the event as a plain dict.

    Stripe's own check (`Webhook.construct_event`): HMAC-SHA256 `v1` signature over `f"{t}.{body}"`
    and a timestamp at most 300 s old (against the real clock: a signature is about real time).
    """
    try:
        event = stripe.Webhook.construct_event(payload, signature_header or "", secret)
    except stripe.SignatureVerificationError as exc:
        raise WebhookSignatureError(str(exc)) from exc
    except ValueError as exc:
        raise WebhookSignatureError(f"the body is not a Stripe event: {exc}") from exc
    except RecursionError as exc:  # signed, but JSON nested deeper than the parser goes
        raise WebhookSignatureError("the body is not a Stripe event: nested too deeply") from exc
    except (AttributeError, TypeError) as exc:  # signed JSON that is not an object (a list, a number, null)
        raise WebhookSignatureError("the body is not a Stripe event: not a JSON object") from exc
    return event.to_dict()


class PaymentsGateway:
    """Stripe operations cleardue uses, over `stripe.StripeClient`."""

    def __init__(
        self, api_key: str, api_base: str | None = None, *, max_network_retries: int = DEFAULT_NETWORK_RETRIES
    ):
        if not api_key:
            raise ValueError("a Stripe API key is required")
        base_addresses: Any = {"api": api_base.rstrip("/")} if api_base else {}
        self._client = stripe.StripeClient(
            api_key, base_addresses=base_addresses, max_network_retries=max_network_retries
        )

    @classmethod
    def from_secret(cls, secret: Mapping[str, Any], api_base: str | None = None) -> PaymentsGateway:
        """From the Secrets Manager value `{"api_key": "sk_...", "webhook_secret": "whsec_..."}`."""
        api_key = secret.get("api_key")
        if not isinstance(api_key, str) or not api_key:
            raise ValueError("the Stripe secret has no api_key")
        return cls(api_key, api_base or None)

    @staticmethod
    def _call(operation: Callable[[], _T]) -> _T:
        try:
            return operation()
        except stripe.StripeError as exc:
            raise _to_payments_error(exc) from exc

    def checkout_payment(
        self,
        *,
        account_id: str,
        lender_id: str,
        amount: Money,
        description: str,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
        customer_email: str | None = None,
        locale: str | None = None,
        purpose: str = PURPOSE_PAYMENT,
    ) -> CheckoutLink:
        """A Checkout Session in payment mode for one amount; the account rides along in metadata."""
        if not amount.is_positive:
            raise ValueError("a payment amount must be positive")
        metadata = {"account_id": account_id, "lender_id": lender_id, "purpose": purpose}
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": amount.currency.lower(),
                        "unit_amount": amount.minor,
                        "product_data": {"name": description},
                    },
                }
            ],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "client_reference_id": account_id,
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata, "description": description},
        }
        if customer_email:
            params["customer_email"] = customer_email
        return self._checkout_session(params, locale, idempotency_key)

    def checkout_setup(
        self,
        *,
        account_id: str,
        lender_id: str,
        plan_id: str,
        success_url: str,
        cancel_url: str,
        idempotency_key: str,
        customer_email: str | None = None,
        locale: str | None = None,
    ) -> CheckoutLink:
        """A Customer plus a Checkout Session in setup mode that saves a card for a plan's installments."""
        metadata = {"account_id": account_id, "lender_id": lender_id, "plan_id": plan_id}
        customer_params: dict[str, Any] = {"metadata": {"account_id": account_id, "lender_id": lender_id}}
        if customer_email:
            customer_params["email"] = customer_email
        customer = self._call(
            lambda: self._client.v1.customers.create(
                params=customer_params,  # type: ignore[arg-type]
                options={"idempotency_key": f"{idempotency_key}:customer"},
            )
        )
        params: dict[str, Any] = {
            "mode": "setup",
            "customer": customer.id,
            "payment_method_types": ["card"],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "client_reference_id": account_id,
            "metadata": {**metadata, "purpose": PURPOSE_PLAN_SETUP},
            "setup_intent_data": {"metadata": metadata},
        }
        return self._checkout_session(params, locale, idempotency_key)

    def _checkout_session(self, params: dict[str, Any], locale: str | None, idempotency_key: str) -> CheckoutLink:
        if locale:
            params["locale"] = locale
        session = self._call(
            lambda: self._client.v1.checkout.sessions.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        )
        return CheckoutLink(session_id=session.id, url=str(session.url))

    def charge_off_session(
        self,
        *,
        account_id: str,
        lender_id: str,
        plan_id: str,
        installment: int,
        amount: Money,
        customer_id: str,
        payment_method_id: str,
        idempotency_key: str,
    ) -> ChargeResult:
        """Charge a saved card for a plan installment. A decline is a result, not an exception."""
        if not amount.is_positive:
            raise ValueError("an installment amount must be positive")
        params: dict[str, Any] = {
            "amount": amount.minor,
            "currency": amount.currency.lower(),
            "customer": customer_id,
            "payment_method": payment_method_id,
            "payment_method_types": ["card"],  # the saved card; without it Stripe wants a return_url to confirm
            "confirm": True,
            "off_session": True,
            "metadata": {
                "account_id": account_id,
                "lender_id": lender_id,
                "plan_id": plan_id,
                "installment": str(installment),
                "purpose": PURPOSE_INSTALLMENT,
            },
        }
        try:
            intent = self._client.v1.payment_intents.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        except stripe.CardError as exc:
            error = exc.error
            intent_obj = error.payment_intent if error else None
            return ChargeResult(
                payment_intent_id=_id_of(intent_obj),
                status=str(intent_obj["status"]) if intent_obj is not None else "requires_payment_method",
                decline_code=(error.decline_code if error else None) or exc.code,
                message=exc.user_message or str(exc),
            )
        except stripe.StripeError as exc:
            raise _to_payments_error(exc) from exc
        return ChargeResult(payment_intent_id=intent.id, status=intent.status)

    def refund(self, *, payment_intent_id: str, amount: Money | None, idempotency_key: str) -> str:
        """Refund a payment in full (`amount=None`) or in part; returns the refund id."""
        params: dict[str, Any] = {"payment_intent": payment_intent_id}
        if amount is not None:
            if not amount.is_positive:
                raise ValueError("a refund amount must be positive")
            params["amount"] = amount.minor
        refund = self._call(
            lambda: self._client.v1.refunds.create(params=params, options={"idempotency_key": idempotency_key})  # type: ignore[arg-type]
        )
        return refund.id

    def retrieve_checkout_session(self, session_id: str) -> CheckoutSessionInfo:
        """A Checkout Session with its setup intent expanded (the saved card's payment method)."""
        session = self._call(
            lambda: self._client.v1.checkout.sessions.retrieve(session_id, params={"expand": ["setup_intent"]})
        )
        setup_intent = session.setup_intent
        payment_method_id = None
        if setup_intent is not None and not isinstance(setup_intent, str):
            payment_method_id = _id_of(setup_intent.payment_method)
        amount_total = (
            Money(int(session.amount_total), session.currency.upper())
            if session.amount_total is not None and session.currency
            else None
        )
        return CheckoutSessionInfo(
            session_id=session.id,
            mode=str(session.mode),
            status=str(session.status),
            payment_status=str(session.payment_status),
            customer_id=_id_of(session.customer),
            payment_intent_id=_id_of(session.payment_intent),
            setup_intent_id=_id_of(setup_intent),
            payment_method_id=payment_method_id,
            amount_total=amount_total,
            metadata={str(k): str(v) for k, v in session.metadata.to_dict().items()} if session.metadata else {},
        )
