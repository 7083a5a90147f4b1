"""The emulator on a free port, a webhook receiver that verifies like a real endpoint, the gateway."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import stripe
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from functions.payments.stripe_gateway import PaymentsGateway
from local.stripe_emulator import StripeEmulator

API_KEY = "sk_test_cleardue_local"
WEBHOOK_SECRET = "whsec_test_cleardue"
FAST_RETRIES = (0.05, 0.1, 0.2)
EXPIRY = "12/40"


@dataclass
class Receiver:
    """A webhook endpoint: verifies each delivery on its raw body with Stripe's own
    `Webhook.construct_event`, answers 400 to a bad signature, 500 while told to fail."""

    secret: str
    accepted: list[stripe.Event] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    fail_remaining: int = 0
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        if request.method == "GET":  # the shop's return page (success_url / cancel_url) for browser tests
            return Response(
                "<!doctype html><title>Back at the shop</title><h1>Back at the shop</h1>", mimetype="text/html"
            )(environ, start_response)
        raw = request.get_data(as_text=True)
        with self._lock:
            if self.fail_remaining > 0:
                self.fail_remaining -= 1
                return Response("boom", status=500)(environ, start_response)
        try:
            event = stripe.Webhook.construct_event(raw, request.headers.get("Stripe-Signature", ""), self.secret)
        except (stripe.SignatureVerificationError, ValueError) as exc:
            with self._lock:
                self.rejected.append(str(exc))
            return Response(str(exc), status=400)(environ, start_response)
        with self._lock:
            self.accepted.append(event)
        return Response('{"received": true}', mimetype="application/json")(environ, start_response)

    def events(self, type_: str) -> list[stripe.Event]:
        with self._lock:
            return [e for e in self.accepted if e.type == type_]

    def wait_for(self, type_: str, count: int = 1, timeout: float = 5.0) -> list[stripe.Event]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.events(type_)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"{count} {type_} event(s) not received; got {[e.type for e in self.accepted]}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    endpoint = Receiver(WEBHOOK_SECRET)
    server = make_server("127.0.0.1", 0, endpoint, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    endpoint.url = f"http://127.0.0.1:{server.server_port}/stripe/webhook"
    yield endpoint
    server.shutdown()
    server.server_close()


@pytest.fixture
def emulator(receiver: Receiver) -> Iterator[StripeEmulator]:
    with StripeEmulator(webhook_url=receiver.url, webhook_secret=WEBHOOK_SECRET, retry_delays=FAST_RETRIES) as running:
        yield running


@pytest.fixture
def gateway(emulator: StripeEmulator) -> PaymentsGateway:
    return PaymentsGateway(API_KEY, emulator.base_url)


@pytest.fixture
def client(emulator: StripeEmulator) -> stripe.StripeClient:
    """The SDK itself, to read what the gateway created."""
    return stripe.StripeClient(API_KEY, base_addresses={"api": emulator.base_url})


def pay(url: str, card: str, *, exp: str = EXPIRY, cvc: str = "123", **extra: str) -> requests.Response:
    """Submit the hosted checkout form as a browser would (no redirect following)."""
    form = {"email": "debtor@example.com", "cardnumber": card, "exp": exp, "cvc": cvc, "name": "Dana Debtor", **extra}
    return requests.post(url, data=form, allow_redirects=False, timeout=5)
