"""`StripeEmulator`: a threaded werkzeug HTTP server speaking the slice of Stripe's API cleardue uses.

with StripeEmulator(webhook_url="http://127.0.0.1:9000/stripe") as emulator:
    client = stripe.StripeClient("sk_test_local", base_addresses={"api": emulator.base_url})
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from .forms import FormError, decode
from .page import DECLINES_ES, TEXT, language, render
from .state import API_VERSION, ApiError, CardDeclined, StripeState
from .webhooks import DEFAULT_RETRY_DELAYS, WebhookDeliverer

DEFAULT_WEBHOOK_SECRET = "whsec_local_cleardue_emulator"
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'"

Route = tuple[str, re.Pattern[str], Callable[..., Response]]


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(body, indent=2), status=status, mimetype="application/json")
    response.headers["Request-Id"] = f"req_{secrets.token_hex(7)}"
    response.headers["Stripe-Version"] = API_VERSION
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


class StripeEmulator:
    """Stripe's API (customers, checkout sessions, payment intents, refunds, events), a hosted checkout
    page, and signed webhooks with retries. State lives in memory and is thread-safe."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        webhook_url: str | None = None,
        webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
        retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS,
        business_name: str = "cleardue",
    ) -> None:
        self.host = host
        self.business_name = business_name  # what Checkout shows as the merchant (the Stripe account's name)
        self._port = port
        self.webhook_secret = webhook_secret
        self.webhooks = WebhookDeliverer(webhook_secret, webhook_url, retry_delays)
        self.state = StripeState(lambda: self.base_url, self.webhooks.enqueue)
        self._idempotency: dict[str, tuple[str, int, Any]] = {}
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        # Tests' fault injection (local/faults.py): (method, path) -> None or "rate_limited" | "server_error" |
        # "lost_response" for each /v1/ request.
        self.fault: Callable[[str, str], str | None] | None = None
        state = self.state
        self._routes: list[Route] = [
            ("POST", re.compile(r"/v1/customers"), self._create(state.create_customer)),
            ("GET", re.compile(r"/v1/customers/(?P<object_id>[^/]+)"), self._retrieve(state.get_customer)),
            ("POST", re.compile(r"/v1/checkout/sessions"), self._create(state.create_session)),
            ("GET", re.compile(r"/v1/checkout/sessions/(?P<object_id>[^/]+)"), self._get_session),
            ("POST", re.compile(r"/v1/checkout/sessions/(?P<object_id>[^/]+)/expire"), self._expire_session),
            ("POST", re.compile(r"/v1/payment_intents"), self._create(state.create_payment_intent)),
            ("GET", re.compile(r"/v1/payment_intents/(?P<object_id>[^/]+)"), self._retrieve(state.get_payment_intent)),
            ("POST", re.compile(r"/v1/refunds"), self._create(state.create_refund)),
            ("GET", re.compile(r"/v1/events"), self._list_events),
            ("GET", re.compile(r"/v1/events/(?P<object_id>[^/]+)"), self._retrieve(state.get_event)),
            ("GET", re.compile(r"/c/pay/(?P<object_id>[^/]+)"), self._page),
            ("POST", re.compile(r"/c/pay/(?P<object_id>[^/]+)"), self._page),
            ("POST", re.compile(r"/_emulator/disputes"), self._create_dispute),
            ("GET", re.compile(r"/_emulator/deliveries"), self._deliveries),
            ("POST", re.compile(r"/_emulator/reset"), self._reset),
        ]

    # -- lifecycle ----------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not started")
        return int(self._server.server_port)

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> StripeEmulator:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = make_server(self.host, self._port, self._wsgi, threaded=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="stripe-emulator", daemon=True
        )
        self._thread.start()
        self.webhooks.start()
        return self

    def stop(self) -> None:
        self.webhooks.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> StripeEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def set_webhook_url(self, url: str | None) -> None:
        """Where events created from now on are delivered (None: not delivered, only listed)."""
        self.webhooks.url = url

    def deliveries(self) -> list[dict[str, Any]]:
        """Every delivery attempt so far: event id and type, attempt number, HTTP status, error."""
        return self.webhooks.attempts()

    def wait_for_webhooks(self, timeout: float = 10.0) -> bool:
        """Block until every queued delivery (and its retries) has finished."""
        return self.webhooks.wait_idle(timeout)

    # -- WSGI ---------------------------------------------------------------------------------------
    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        response = self._dispatch(request)
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        path = request.path.rstrip("/") or "/"
        allowed_methods = []
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if not match:
                continue
            if method != request.method:
                allowed_methods.append(method)
                continue
            fault = self.fault(request.method, path) if self.fault and path.startswith("/v1/") else None
            if fault == "rate_limited":
                return _json(ApiError(429, "invalid_request_error", "Too many requests.", code="rate_limit").body, 429)
            if fault == "server_error":
                return _json({"error": {"type": "api_error", "message": "An unexpected error occurred."}}, 500)
            try:
                if path.startswith("/v1/"):
                    self._authenticate(request)
                response = handler(request, **match.groupdict())
                if fault == "lost_response":  # applied (and stored under its Idempotency-Key), answer lost
                    return _json({"error": {"type": "api_error", "message": "An unexpected error occurred."}}, 500)
                return response
            except ApiError as exc:
                return _json(exc.body, exc.status)
            except FormError as exc:
                return _json(ApiError(400, "invalid_request_error", str(exc), param=exc.param).body, 400)
            except Exception:  # a bug here must look like Stripe's 500, which the SDK retries
                logging.getLogger(__name__).exception("stripe emulator: %s %s failed", request.method, path)
                return _json({"error": {"type": "api_error", "message": "An unexpected error occurred."}}, 500)
        message = f"Unrecognized request URL ({request.method}: {path})."
        if allowed_methods:
            message += f" This endpoint accepts {', '.join(allowed_methods)}."
        return _json({"error": {"type": "invalid_request_error", "message": message}}, 404)

    @staticmethod
    def _authenticate(request: Request) -> None:
        header = request.headers.get("Authorization", "")
        key = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        if not key:
            raise ApiError(
                401,
                "invalid_request_error",
                "You did not provide an API key. Provide it in the Authorization header (Bearer auth).",
            )
        if not key.startswith(("sk_test_", "rk_test_")):
            raise ApiError(
                401,
                "invalid_request_error",
                "Invalid API Key provided: this emulator accepts test-mode keys (sk_test_...) only.",
            )

    @staticmethod
    def _params(request: Request) -> dict[str, Any]:
        if request.method == "GET":
            return decode(parse_qsl(request.query_string.decode("utf-8"), keep_blank_values=True))
        body = request.get_data(as_text=True)
        return decode(parse_qsl(body, keep_blank_values=True))

    def _idempotent(self, request: Request, operation: Callable[[dict[str, Any]], dict[str, Any]]) -> Response:
        """Stripe's Idempotency-Key: the same key and parameters replay the first result (success or
        card error); the same key with other parameters is an idempotency_error. Requests rejected by
        validation are not stored, as at Stripe."""
        raw_body = request.get_data(as_text=True)
        params = self._params(request)
        key = request.headers.get("Idempotency-Key")
        if not key:
            return self._run(operation, params)
        fingerprint = json.dumps([request.path, sorted(parse_qsl(raw_body, keep_blank_values=True))])
        with self.state.lock:
            stored = self._idempotency.get(key)
            if stored is not None:
                if stored[0] != fingerprint:
                    raise ApiError(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same parameters they were first used "
                        f"with. Try using a key other than '{key}' if you meant to execute a different request.",
                    )
                return _json(stored[2], stored[1], {"Idempotent-Replayed": "true", "Idempotency-Key": key})
            response_status, response_body = 200, None
            try:
                response_body = operation(params)
            except ApiError as exc:
                if exc.status != 402:
                    raise
                response_status, response_body = exc.status, exc.body
            self._idempotency[key] = (fingerprint, response_status, response_body)
            return _json(response_body, response_status, {"Idempotency-Key": key})

    @staticmethod
    def _run(operation: Callable[[dict[str, Any]], dict[str, Any]], params: dict[str, Any]) -> Response:
        return _json(operation(params))

    # -- API routes ---------------------------------------------------------------------------------
    def _create(self, operation: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[Request], Response]:
        """A create route: the operation on the request's parameters, under its Idempotency-Key."""
        return lambda request: self._idempotent(request, operation)

    @staticmethod
    def _retrieve(get: Callable[[str], dict[str, Any]]) -> Callable[[Request, str], Response]:
        """A retrieve route: the object with the path's id."""
        return lambda request, object_id: _json(get(object_id))

    def _get_session(self, request: Request, object_id: str) -> Response:
        expand = self._params(request).get("expand") or []
        return _json(self.state.get_session(object_id, list(expand)))

    def _expire_session(self, request: Request, object_id: str) -> Response:
        return self._idempotent(request, lambda _params: self.state.expire_session(object_id))

    def _list_events(self, request: Request) -> Response:
        return _json(self.state.list_events(self._params(request)))

    # -- control routes -----------------------------------------------------------------------------
    def _create_dispute(self, request: Request) -> Response:
        params = request.get_json(silent=True) if request.is_json else self._params(request)
        return _json(self.state.create_dispute(params or {}))

    def _deliveries(self, request: Request) -> Response:
        return _json({"object": "list", "data": self.deliveries()})

    def _reset(self, request: Request) -> Response:
        self.state.reset()
        with self.state.lock:
            self._idempotency.clear()
        self.webhooks.clear()
        return _json({"reset": True})

    # -- the hosted checkout page -------------------------------------------------------------------
    def _page_response(self, html: str, status: int = 200) -> Response:
        response = Response(html, status=status, mimetype="text/html")
        response.headers["Content-Security-Policy"] = PAGE_CSP
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    def _page(self, request: Request, object_id: str) -> Response:
        """The hosted checkout page: GET shows it, POST submits its form. A paid session redirects to its success
        URL (after a POST: a double submit, the first one already paid)."""
        try:
            session, extras = self.state.session_view(object_id)
        except ApiError:
            return self._page_response(
                "<!doctype html><title>Not found</title><p>This checkout page does not exist.</p>", 404
            )
        if session["status"] == "complete":
            return self._redirect_success(session)
        if request.method == "POST":
            return self._page_submit(request, object_id, session, extras)
        return self._page_response(
            render(
                session, extras, language(session, request.headers.get("Accept-Language")), merchant=self.business_name
            )
        )

    @staticmethod
    def _redirect_success(session: dict[str, Any]) -> Response:
        target = str(session["success_url"]).replace("{CHECKOUT_SESSION_ID}", session["id"])
        return Response(status=303, headers={"Location": target})

    def _page_submit(
        self, request: Request, object_id: str, session: dict[str, Any], extras: dict[str, Any]
    ) -> Response:
        lang = language(session, request.headers.get("Accept-Language"))
        t = TEXT[lang]
        form = {name: (request.form.get(name) or "").strip() for name in ("email", "cardnumber", "exp", "cvc", "name")}
        kept = {k: v for k, v in form.items() if k in ("email", "name")}

        def again(message: str, field: str, status: int = 200) -> Response:
            values = kept if field == "cardnumber" else {**kept, "cardnumber": form["cardnumber"]}
            html = render(
                session, extras, lang, error=message, error_field=field, values=values, merchant=self.business_name
            )
            return self._page_response(html, status)

        if session["status"] != "open":
            return self._page_response(render(session, extras, lang, merchant=self.business_name), 410)
        number = "".join(c for c in form["cardnumber"] if c.isdigit())
        if len(number) < 13:
            return again(t["incomplete_number"], "cardnumber", 400)
        month_text, _, year_text = form["exp"].replace(" ", "").partition("/")
        if not (month_text.isdigit() and year_text.isdigit() and len(year_text) in (2, 4)):
            return again(t["incomplete_expiry"], "exp", 400)
        month, year = int(month_text), int(year_text) + (2000 if len(year_text) == 2 else 0)
        if not 1 <= month <= 12:
            return again(t["invalid_month"], "exp", 400)
        now = datetime.now(UTC)  # a card's expiry is checked against the real date, as Stripe does
        if (year, month) < (now.year, now.month):
            return again(t["past_expiry"], "exp", 400)
        if not (form["cvc"].isdigit() and len(form["cvc"]) in (3, 4)):
            return again(t["incomplete_cvc"], "cvc", 400)
        try:
            completed = self.state.confirm_session(
                object_id,
                number=number,
                exp_month=month,
                exp_year=year,
                name=form["name"] or None,
                email=form["email"] or None,
            )
        except CardDeclined as declined:
            message = DECLINES_ES.get(declined.decline_code, declined.message) if lang == "es" else declined.message
            return again(message, "cardnumber", 402)
        return self._redirect_success(completed)
