"""The emulator's Stripe account: objects in memory, one lock, events for every change.

Shapes follow Stripe's API objects (`id`, `object`, `livemode`, `created`, minor-unit amounts,
lower-case currencies, expandable ids). Only the fields cleardue and Stripe's SDK read are filled in;
the rest of Stripe's object model is out of scope (see docs/stripe-emulator.md).
"""

from __future__ import annotations

import copy
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import stripe

from functions.core.money import ISO_4217_CODES

from .cards import DECLINE_ERROR_CODES, DECLINE_MESSAGES, TEST_CARDS, luhn_ok, normalize_number
from .forms import flag

API_VERSION = stripe.api_version
SESSION_LIFETIME_SECONDS = 24 * 3600
CHECKOUT_LOCALES = frozenset(
    """auto bg cs da de el en en-GB es es-419 et fi fil fr fr-CA hr hu id it ja ko lt lv ms mt nb nl pl pt pt-BR
    ro ru sk sl sv th tr vi zh zh-HK zh-TW""".split()
)

Obj = dict[str, Any]


class ApiError(Exception):
    """A Stripe error response: `{"error": {"type", "code", "message", "param", ...}}` with its status."""

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        extra: Obj | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: Obj = {"error": {"type": type_, "message": message}}
        if code:
            self.body["error"]["code"] = code
            self.body["error"]["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if param:
            self.body["error"]["param"] = param
        self.body["error"].update(extra or {})


def invalid(message: str, param: str | None = None, code: str | None = "parameter_invalid_empty") -> ApiError:
    return ApiError(400, "invalid_request_error", message, code=code, param=param)


def missing(param: str) -> ApiError:
    return ApiError(
        400, "invalid_request_error", f"Missing required param: {param}.", code="parameter_missing", param=param
    )


def no_such(kind: str, object_id: str, param: str = "id") -> ApiError:
    return ApiError(
        404, "invalid_request_error", f"No such {kind}: '{object_id}'", code="resource_missing", param=param
    )


def found(objects: dict[str, Obj], kind: str, object_id: str, param: str = "id") -> Obj:
    """The object with this id, or Stripe's resource_missing error for it."""
    obj = objects.get(object_id)
    if obj is None:
        raise no_such(kind, object_id, param)
    return obj


def check_known(params: Obj, allowed: set[str]) -> None:
    for name in params:
        if name not in allowed:
            raise ApiError(400, "invalid_request_error", f"Received unknown parameter: {name}", param=name)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def _int(params: Obj, name: str, *, minimum: int = 0) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        raise missing(name)
    try:
        value = int(str(raw))
    except ValueError:
        raise invalid(f"Invalid integer: {raw}", name, code="parameter_invalid_integer") from None
    if value < minimum:
        raise invalid(f"This value must be greater than or equal to {minimum}.", name, code="parameter_invalid_integer")
    return value


def _currency(params: Obj, name: str) -> str:
    raw = params.get(name)
    if not raw:
        raise missing(name)
    if str(raw).upper() not in ISO_4217_CODES:
        raise invalid(f"Invalid currency: {raw}.", name, code="parameter_invalid_empty")
    return str(raw).lower()


def _metadata(params: Obj, name: str = "metadata") -> dict[str, str]:
    raw = params.get(name) or {}
    if not isinstance(raw, dict):
        raise invalid("Invalid object", name)
    if len(raw) > 50:
        raise invalid("Metadata can have at most 50 keys.", name)
    for key, value in raw.items():
        if len(key) > 40 or len(str(value)) > 500:
            raise invalid("Metadata keys are limited to 40 characters and values to 500.", f"{name}[{key}]")
    return {str(k): str(v) for k, v in raw.items()}


def _url(params: Obj, name: str, *, required: bool) -> str | None:
    raw = params.get(name)
    if not raw:
        if required:
            raise missing(name)
        return None
    if not str(raw).startswith(("http://", "https://")):
        raise invalid("Not a valid URL", name, code="url_invalid")
    return str(raw)


class CardDeclined(Exception):
    """A card declined on the hosted page (shown there, not an API error)."""

    def __init__(self, decline_code: str, message: str) -> None:
        super().__init__(message)
        self.decline_code = decline_code
        self.message = message


class StripeState:
    """One Stripe test-mode account. Every public method takes the lock; returned objects are copies."""

    def __init__(self, base_url: Callable[[], str], on_event: Callable[[Obj], None]) -> None:
        self._base_url = base_url
        self._on_event = on_event
        self.lock = threading.RLock()
        self.customers: dict[str, Obj] = {}
        self.sessions: dict[str, Obj] = {}
        self.setup_intents: dict[str, Obj] = {}
        self.payment_intents: dict[str, Obj] = {}
        self.payment_methods: dict[str, Obj] = {}
        self.charges: dict[str, Obj] = {}
        self.refunds: dict[str, Obj] = {}
        self.disputes: dict[str, Obj] = {}
        self.events: list[Obj] = []
        self._card_numbers: dict[str, str] = {}  # payment method id -> card number (never returned)
        self._session_extras: dict[str, Obj] = {}  # session id -> what its page and payment intent need

    # -- events -------------------------------------------------------------------------------------
    def _emit(self, type_: str, obj: Obj, request_id: str | None = None, idempotency_key: str | None = None) -> None:
        event = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": int(time.time()),
            "data": {"object": copy.deepcopy(obj)},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": request_id, "idempotency_key": idempotency_key},
            "type": type_,
        }
        self.events.append(event)
        self._on_event(copy.deepcopy(event))

    def list_events(self, params: Obj) -> Obj:
        with self.lock:
            limit = _int(params, "limit", minimum=1) if params.get("limit") else 10
            if limit > 100:
                raise invalid(
                    "This value must be less than or equal to 100.", "limit", code="parameter_invalid_integer"
                )
            wanted = params.get("type")
            events = [e for e in reversed(self.events) if not wanted or e["type"] == wanted]
            if params.get("starting_after"):
                ids = [e["id"] for e in events]
                if params["starting_after"] not in ids:
                    raise no_such("event", str(params["starting_after"]), "starting_after")
                events = events[ids.index(params["starting_after"]) + 1 :]
            return {
                "object": "list",
                "data": copy.deepcopy(events[:limit]),
                "has_more": len(events) > limit,
                "url": "/v1/events",
            }

    def get_event(self, event_id: str) -> Obj:
        with self.lock:
            for event in self.events:
                if event["id"] == event_id:
                    return copy.deepcopy(event)
            raise no_such("event", event_id)

    # -- customers ----------------------------------------------------------------------------------
    def create_customer(self, params: Obj) -> Obj:
        check_known(params, {"email", "name", "metadata", "description", "phone", "preferred_locales", "expand"})
        with self.lock:
            customer = {
                "id": new_id("cus"),
                "object": "customer",
                "address": None,
                "balance": 0,
                "created": int(time.time()),
                "currency": None,
                "default_source": None,
                "delinquent": False,
                "description": params.get("description"),
                "email": params.get("email"),
                "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None},
                "livemode": False,
                "metadata": _metadata(params),
                "name": params.get("name"),
                "phone": params.get("phone"),
                "preferred_locales": params.get("preferred_locales") or [],
                "shipping": None,
                "tax_exempt": "none",
                "test_clock": None,
            }
            self.customers[customer["id"]] = customer
            return copy.deepcopy(customer)

    def get_customer(self, customer_id: str) -> Obj:
        with self.lock:
            return copy.deepcopy(found(self.customers, "customer", customer_id))

    # -- checkout sessions --------------------------------------------------------------------------
    def create_session(self, params: Obj) -> Obj:
        check_known(
            params,
            {
                "mode",
                "line_items",
                "success_url",
                "cancel_url",
                "metadata",
                "payment_intent_data",
                "setup_intent_data",
                "customer",
                "customer_email",
                "client_reference_id",
                "locale",
                "payment_method_types",
                "currency",
                "expand",
                "expires_at",
                "ui_mode",
                "customer_creation",
            },
        )
        mode = params.get("mode")
        if not mode:
            raise missing("mode")
        if mode not in ("payment", "setup"):
            raise invalid("Invalid mode: must be one of payment or setup (subscriptions are not emulated)", "mode")
        success_url = _url(params, "success_url", required=True)
        cancel_url = _url(params, "cancel_url", required=False)
        locale = params.get("locale")
        if locale is not None and locale not in CHECKOUT_LOCALES:
            raise invalid(f"Invalid locale: {locale}", "locale", code="parameter_invalid_empty")
        metadata = _metadata(params)
        with self.lock:
            customer_id = params.get("customer")
            if customer_id and customer_id not in self.customers:
                raise no_such("customer", str(customer_id), "customer")
            if customer_id and params.get("customer_email"):
                raise invalid(
                    "You may only specify one of these parameters: customer, customer_email.", "customer_email"
                )
            now = int(time.time())
            session_id = f"cs_test_{secrets.token_hex(28)}"
            amount_total: int | None = None
            currency: str | None = None
            line_items: list[Obj] = []
            setup_intent: str | None = None
            if mode == "payment":
                if params.get("setup_intent_data"):
                    raise invalid("setup_intent_data can only be used in setup mode.", "setup_intent_data")
                items = params.get("line_items")
                if not items:
                    raise missing("line_items")
                if not isinstance(items, list):
                    raise invalid("Invalid array", "line_items")
                amount_total = 0
                for index, item in enumerate(items):
                    prefix = f"line_items[{index}]"
                    if not isinstance(item, dict):
                        raise invalid("Invalid object", prefix)
                    if item.get("price"):
                        raise no_such("price", str(item["price"]), f"{prefix}[price]")
                    price_data = item.get("price_data")
                    if not isinstance(price_data, dict):
                        raise missing(f"{prefix}[price_data]")
                    item_currency = _currency(price_data, "currency")
                    unit_amount = _int(price_data, "unit_amount", minimum=0)
                    product = price_data.get("product_data")
                    if not isinstance(product, dict) or not product.get("name"):
                        raise missing(f"{prefix}[price_data][product_data][name]")
                    quantity = _int(item, "quantity", minimum=1)
                    if currency and item_currency != currency:
                        raise invalid("All line items must use the same currency.", f"{prefix}[price_data][currency]")
                    currency = item_currency
                    amount_total += unit_amount * quantity
                    line_items.append(
                        {
                            "description": product["name"],
                            "quantity": quantity,
                            "amount_total": unit_amount * quantity,
                            "currency": item_currency,
                        }
                    )
                if amount_total < 1:
                    raise invalid(
                        "The Checkout Session's total amount due must be greater than 0.",
                        "line_items",
                        code="amount_too_small",
                    )
            else:
                if params.get("line_items"):
                    raise invalid("line_items cannot be used in setup mode.", "line_items")
                if params.get("payment_intent_data"):
                    raise invalid("payment_intent_data can only be used in payment mode.", "payment_intent_data")
                if not params.get("currency") and not params.get("payment_method_types"):
                    raise missing("currency")
                if params.get("currency"):
                    currency = _currency(params, "currency")
                seti_data = params.get("setup_intent_data") or {}
                seti = {
                    "id": new_id("seti"),
                    "object": "setup_intent",
                    "created": now,
                    "customer": customer_id,
                    "description": seti_data.get("description"),
                    "last_setup_error": None,
                    "latest_attempt": None,
                    "livemode": False,
                    "metadata": _metadata(seti_data),
                    "next_action": None,
                    "payment_method": None,
                    "payment_method_types": ["card"],
                    "status": "requires_payment_method",
                    "usage": "off_session",
                }
                self.setup_intents[seti["id"]] = seti
                setup_intent = seti["id"]
            pi_data = params.get("payment_intent_data") or {}
            session = {
                "id": session_id,
                "object": "checkout.session",
                "amount_subtotal": amount_total,
                "amount_total": amount_total,
                "cancel_url": cancel_url,
                "client_reference_id": params.get("client_reference_id"),
                "created": now,
                "currency": currency,
                "customer": customer_id,
                "customer_details": None,
                "customer_email": params.get("customer_email"),
                "expires_at": int(str(params.get("expires_at") or now + SESSION_LIFETIME_SECONDS)),
                "livemode": False,
                "locale": locale,
                "metadata": metadata,
                "mode": mode,
                "payment_intent": None,
                "payment_method_types": ["card"],
                "payment_status": "no_payment_required" if mode == "setup" else "unpaid",
                "setup_intent": setup_intent,
                "status": "open",
                "success_url": success_url,
                "ui_mode": "hosted",
                "url": f"{self._base_url()}/c/pay/{session_id}",
            }
            self.sessions[session_id] = session
            # Kept off the public object: what the payment intent gets when the page confirms.
            self._session_extras[session_id] = {
                "pi_metadata": _metadata(pi_data),
                "pi_description": pi_data.get("description"),
                "line_items": line_items,
            }
            return copy.deepcopy(session)

    def get_session(self, session_id: str, expand: list[str] | None = None) -> Obj:
        with self.lock:
            session = found(self.sessions, "checkout.session", session_id)
            self._expire_if_due(session)
            result = copy.deepcopy(session)
            for field in expand or []:
                store = {
                    "setup_intent": self.setup_intents,
                    "payment_intent": self.payment_intents,
                    "customer": self.customers,
                }.get(field)
                if store is None:
                    raise invalid(f"This property cannot be expanded ({field}).", "expand")
                if result.get(field):
                    result[field] = copy.deepcopy(store[result[field]])
            return result

    def session_view(self, session_id: str) -> tuple[Obj, Obj]:
        """The session and its page-only extras (line items) for the hosted page."""
        with self.lock:
            session = found(self.sessions, "checkout.session", session_id)
            self._expire_if_due(session)
            return copy.deepcopy(session), copy.deepcopy(self._session_extras[session_id])

    def expire_session(self, session_id: str) -> Obj:
        """Expire an open session now (Stripe's `POST /v1/checkout/sessions/{id}/expire`)."""
        with self.lock:
            session = found(self.sessions, "checkout.session", session_id)
            if session["status"] != "open":
                raise invalid(f"Only open sessions can be expired; this one is {session['status']}.",
                              code="checkout_session_not_open")  # fmt: skip
            session["expires_at"] = int(time.time())
            self._expire_if_due(session)
            return copy.deepcopy(session)

    def _expire_if_due(self, session: Obj) -> None:
        if session["status"] == "open" and session["expires_at"] <= int(time.time()):
            session["status"] = "expired"
            self._emit("checkout.session.expired", session)

    # -- the hosted page's confirmation -------------------------------------------------------------
    def _new_payment_method(
        self, number: str, exp_month: int, exp_year: int, name: str | None, email: str | None
    ) -> Obj:
        behaviour = TEST_CARDS[number]
        pm = {
            "id": new_id("pm"),
            "object": "payment_method",
            "allow_redisplay": "unspecified",
            "billing_details": {
                "address": {
                    "city": None,
                    "country": None,
                    "line1": None,
                    "line2": None,
                    "postal_code": None,
                    "state": None,
                },
                "email": email,
                "name": name,
                "phone": None,
            },
            "card": {
                "brand": behaviour.brand,
                "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": "pass"},
                "country": "US",
                "exp_month": exp_month,
                "exp_year": exp_year,
                "fingerprint": secrets.token_hex(8),
                "funding": "credit",
                "last4": number[-4:],
            },
            "created": int(time.time()),
            "customer": None,
            "livemode": False,
            "metadata": {},
            "type": "card",
        }
        self.payment_methods[pm["id"]] = pm
        self._card_numbers[pm["id"]] = number
        return pm

    def confirm_session(
        self, session_id: str, *, number: str, exp_month: int, exp_year: int, name: str | None, email: str | None
    ) -> Obj:
        """Pay (payment mode) or save the card (setup mode) on the hosted page.

        Raises `CardDeclined` for a declined card (the page shows it) after recording the failed
        attempt as Stripe does (a failed PaymentIntent and its `payment_intent.payment_failed`)."""
        number = normalize_number(number)
        with self.lock:
            session = found(self.sessions, "checkout.session", session_id)
            self._expire_if_due(session)
            if session["status"] != "open":
                raise invalid(f"This Checkout Session is {session['status']}.", code="checkout_session_not_open")
            if number not in TEST_CARDS:
                if not luhn_ok(number):
                    raise CardDeclined("incorrect_number", "Your card number is incorrect.")
                raise CardDeclined(
                    "test_mode_live_card",
                    "Your card was declined. Your request was in test mode, but used a non test card. "
                    "For a list of valid test cards, visit: https://stripe.com/docs/testing.",
                )
            email = email or session.get("customer_email")
            pm = self._new_payment_method(number, exp_month, exp_year, name, email)
            session["customer_details"] = {"email": email, "name": name, "address": None, "phone": None}
            behaviour = TEST_CARDS[number]
            if session["mode"] == "setup":
                return self._confirm_setup(session, pm, behaviour.setup_decline())
            return self._confirm_payment(session, pm, behaviour.decline_for(off_session=False))

    def _confirm_setup(self, session: Obj, pm: Obj, decline: str | None) -> Obj:
        seti = self.setup_intents[session["setup_intent"]]
        if decline:
            seti["last_setup_error"] = self._card_error_body(decline, pm)
            seti["status"] = "requires_payment_method"
            self._emit("setup_intent.setup_failed", seti)
            raise CardDeclined(decline, DECLINE_MESSAGES.get(decline, "Your card was declined."))
        if session.get("customer"):
            pm["customer"] = session["customer"]
        seti.update(status="succeeded", payment_method=pm["id"], last_setup_error=None)
        session.update(status="complete")
        self._emit("setup_intent.succeeded", seti)
        self._emit("checkout.session.completed", session)
        return copy.deepcopy(session)

    def _confirm_payment(self, session: Obj, pm: Obj, decline: str | None) -> Obj:
        extras = self._session_extras[session["id"]]
        intent = self.payment_intents.get(session["payment_intent"] or "")
        if intent is None:
            intent = self._new_payment_intent(
                amount=session["amount_total"],
                currency=session["currency"],
                customer=session.get("customer"),
                metadata=extras["pi_metadata"],
                description=extras["pi_description"],
                off_session=False,
            )
            session["payment_intent"] = intent["id"]
        intent["payment_method"] = pm["id"]
        self._charge(intent, pm, decline)
        if decline:
            raise CardDeclined(decline, DECLINE_MESSAGES.get(decline, "Your card was declined."))
        session.update(status="complete", payment_status="paid")
        self._emit("checkout.session.completed", session)
        return copy.deepcopy(session)

    # -- payment intents ----------------------------------------------------------------------------
    def _new_payment_intent(
        self,
        *,
        amount: int,
        currency: str,
        customer: str | None,
        metadata: dict[str, str],
        description: str | None,
        off_session: bool,
    ) -> Obj:
        intent = {
            "id": new_id("pi"),
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": "automatic",
            "client_secret": None,
            "confirmation_method": "automatic",
            "created": int(time.time()),
            "currency": currency,
            "customer": customer,
            "description": description,
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": metadata,
            "next_action": None,
            "payment_method": None,
            "payment_method_types": ["card"],
            "setup_future_usage": None,
            "status": "requires_payment_method",
        }
        intent["client_secret"] = f"{intent['id']}_secret_{secrets.token_hex(12)}"
        self.payment_intents[intent["id"]] = intent
        return intent

    def _card_error_body(self, decline: str, pm: Obj, charge_id: str | None = None) -> Obj:
        code = DECLINE_ERROR_CODES.get(decline, "card_declined")
        return {
            "charge": charge_id,
            "code": code,
            "decline_code": decline,
            "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
            "message": DECLINE_MESSAGES.get(decline, "Your card was declined."),
            "payment_method": copy.deepcopy(pm),
            "type": "card_error",
        }

    def _charge(self, intent: Obj, pm: Obj, decline: str | None) -> Obj:
        """One charge attempt for the intent; updates the intent and emits its events."""
        now = int(time.time())
        charge = {
            "id": new_id("ch"),
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": 0 if decline else intent["amount"],
            "amount_refunded": 0,
            "balance_transaction": None if decline else new_id("txn"),
            "billing_details": pm["billing_details"],
            "captured": not decline,
            "created": now,
            "currency": intent["currency"],
            "customer": intent.get("customer"),
            "description": intent.get("description"),
            "disputed": False,
            "failure_code": DECLINE_ERROR_CODES.get(decline, "card_declined") if decline else None,
            "failure_message": DECLINE_MESSAGES.get(decline, "Your card was declined.") if decline else None,
            "livemode": False,
            "metadata": dict(intent["metadata"]),
            "outcome": {
                "network_status": "declined_by_network" if decline else "approved_by_network",
                "reason": decline,
                "risk_level": "normal",
                "seller_message": "The bank did not return any further details with this decline."
                if decline
                else "Payment complete.",
                "type": "issuer_declined" if decline else "authorized",
            },
            "paid": not decline,
            "payment_intent": intent["id"],
            "payment_method": pm["id"],
            "payment_method_details": {
                "card": {"brand": pm["card"]["brand"], "last4": pm["card"]["last4"]},
                "type": "card",
            },
            "receipt_url": None,
            "refunded": False,
            "refunds": {"object": "list", "data": [], "has_more": False, "url": "/v1/refunds"},
            "status": "failed" if decline else "succeeded",
        }
        self.charges[charge["id"]] = charge
        intent["latest_charge"] = charge["id"]
        if decline:
            intent["status"] = "requires_payment_method"
            intent["last_payment_error"] = self._card_error_body(decline, pm, charge["id"])
            self._emit("charge.failed", charge)
            self._emit("payment_intent.payment_failed", intent)
        else:
            intent.update(status="succeeded", amount_received=intent["amount"], last_payment_error=None)
            self._emit("charge.succeeded", charge)
            self._emit("payment_intent.succeeded", intent)
        return charge

    def create_payment_intent(self, params: Obj) -> Obj:
        check_known(
            params,
            {
                "amount",
                "currency",
                "customer",
                "payment_method",
                "confirm",
                "off_session",
                "metadata",
                "description",
                "payment_method_types",
                "expand",
                "receipt_email",
                "statement_descriptor_suffix",
                "automatic_payment_methods",
                "return_url",
            },
        )
        amount = _int(params, "amount", minimum=1)
        currency = _currency(params, "currency")
        metadata = _metadata(params)
        confirm = flag(params.get("confirm"))
        off_session = flag(params.get("off_session"))
        if off_session and not confirm:
            raise invalid("off_session can only be used with confirm=true.", "off_session")
        with self.lock:
            customer = params.get("customer")
            if customer and customer not in self.customers:
                raise no_such("customer", str(customer), "customer")
            pm_id = params.get("payment_method")
            pm = self.payment_methods.get(str(pm_id)) if pm_id else None
            if pm_id and pm is None:
                raise no_such("PaymentMethod", str(pm_id), "payment_method")
            if pm is not None and pm["customer"] != customer:
                raise invalid(
                    f"The provided PaymentMethod {pm_id} does not belong to the Customer {customer}. "
                    "Please use a PaymentMethod attached to this Customer.",
                    "payment_method",
                    code="payment_method_invalid_parameter",
                )
            redirects_off = (params.get("automatic_payment_methods") or {}).get("allow_redirects") == "never"
            if confirm and not (params.get("payment_method_types") or params.get("return_url") or redirects_off):
                raise invalid(
                    "A `return_url` must be specified because this Payment Intent is configured to automatically "
                    "accept the payment methods enabled in the Dashboard, some of which may require a full page "
                    "redirect to succeed. If you do not want to accept redirect-based payment methods, set "
                    "`automatic_payment_methods[enabled]` to `true` and `automatic_payment_methods[allow_redirects]` "
                    "to `never` when creating Setup Intents and Payment Intents.",
                    "return_url",
                    code="parameter_missing",
                )
            if confirm and pm is None:
                raise invalid(
                    "You must provide a payment_method to confirm this PaymentIntent.",
                    "payment_method",
                    code="payment_intent_unexpected_state",
                )
            intent = self._new_payment_intent(
                amount=amount,
                currency=currency,
                customer=customer,
                metadata=metadata,
                description=params.get("description"),
                off_session=off_session,
            )
            if not confirm or pm is None:
                return copy.deepcopy(intent)
            intent["payment_method"] = pm["id"]
            number = self._card_numbers[pm["id"]]
            decline = TEST_CARDS[number].decline_for(off_session=off_session)
            self._charge(intent, pm, decline)
            if decline:
                body = copy.deepcopy(intent["last_payment_error"])
                body.pop("type")
                body["payment_intent"] = copy.deepcopy(intent)
                message = body.pop("message")
                raise ApiError(402, "card_error", message, extra=body)
            return copy.deepcopy(intent)

    def get_payment_intent(self, intent_id: str) -> Obj:
        with self.lock:
            return copy.deepcopy(found(self.payment_intents, "payment_intent", intent_id))

    # -- refunds ------------------------------------------------------------------------------------
    def create_refund(self, params: Obj) -> Obj:
        check_known(params, {"payment_intent", "charge", "amount", "reason", "metadata", "expand"})
        with self.lock:
            if params.get("payment_intent"):
                intent = found(self.payment_intents, "payment_intent", str(params["payment_intent"]), "payment_intent")
                charge = self.charges.get(intent["latest_charge"] or "")
                if intent["status"] != "succeeded" or charge is None:
                    raise invalid(
                        f"This PaymentIntent ({intent['id']}) does not have a successful charge to refund.",
                        "payment_intent",
                        code="charge_not_refundable",
                    )
            elif params.get("charge"):
                charge = found(self.charges, "charge", str(params["charge"]), "charge")
            else:
                raise invalid(
                    "One of the following params should be provided for this request: payment_intent or charge.",
                    code="parameter_missing",
                )
            remaining = charge["amount_captured"] - charge["amount_refunded"]
            if charge["refunded"] or remaining <= 0:
                raise invalid(f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded")
            amount = _int(params, "amount", minimum=1) if params.get("amount") is not None else remaining
            if amount > remaining:
                raise invalid(
                    f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
                    "amount",
                    code="amount_too_large",
                )
            reason = params.get("reason")
            if reason is not None and reason not in ("duplicate", "fraudulent", "requested_by_customer"):
                raise invalid(f"Invalid reason: {reason}", "reason")
            refund = {
                "id": new_id("re"),
                "object": "refund",
                "amount": amount,
                "balance_transaction": new_id("txn"),
                "charge": charge["id"],
                "created": int(time.time()),
                "currency": charge["currency"],
                "metadata": _metadata(params),
                "payment_intent": charge["payment_intent"],
                "reason": reason,
                "receipt_number": None,
                "status": "succeeded",
            }
            self.refunds[refund["id"]] = refund
            charge["amount_refunded"] += amount
            charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
            charge["refunds"]["data"].insert(0, copy.deepcopy(refund))
            self._emit("charge.refunded", charge)
            self._emit("refund.created", refund)
            return copy.deepcopy(refund)

    # -- disputes (control route: a cardholder disputes a charge) -----------------------------------
    def create_dispute(self, params: Obj) -> Obj:
        with self.lock:
            charge: Obj | None = None
            if params.get("payment_intent"):
                intent = found(self.payment_intents, "payment_intent", str(params["payment_intent"]), "payment_intent")
                charge = self.charges.get(intent["latest_charge"] or "")
            elif params.get("charge"):
                charge = self.charges.get(str(params["charge"]))
            else:
                raise missing("payment_intent")
            if charge is None or not charge["paid"]:
                raise invalid("Only a successful charge can be disputed.", "charge")
            if charge["disputed"]:
                raise invalid(f"Charge {charge['id']} is already disputed.", "charge")
            amount = _int(params, "amount", minimum=1) if params.get("amount") is not None else charge["amount"]
            now = int(time.time())
            dispute = {
                "id": new_id("dp"),
                "object": "dispute",
                "amount": amount,
                "balance_transactions": [],
                "charge": charge["id"],
                "created": now,
                "currency": charge["currency"],
                "evidence_details": {
                    "due_by": now + 7 * 24 * 3600,
                    "has_evidence": False,
                    "past_due": False,
                    "submission_count": 0,
                },
                "is_charge_refundable": False,
                "livemode": False,
                "metadata": {},
                "payment_intent": charge["payment_intent"],
                "reason": str(params.get("reason") or "fraudulent"),
                "status": "needs_response",
            }
            self.disputes[dispute["id"]] = dispute
            charge["disputed"] = True
            self._emit("charge.dispute.created", dispute)
            return copy.deepcopy(dispute)

    def reset(self) -> None:
        with self.lock:
            stores: list[dict[str, Any]] = [
                self.customers,
                self.sessions,
                self.setup_intents,
                self.payment_intents,
                self.payment_methods,
                self.charges,
                self.refunds,
                self.disputes,
                self._card_numbers,
                self._session_extras,
            ]
            for store in stores:
                store.clear()
            self.events.clear()
