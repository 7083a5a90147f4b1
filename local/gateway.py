"""The local HTTP gateway: the pay page's CloudFront and the HTTP API in one small threaded server.

- `GET /…` serves `static_portal/` (and `/config.json`, which tells the page where the API is);
- `/api/<path>` becomes an API Gateway HTTP API (payload format 2.0) event for the portal API handler,
  with `rawPath` `/<path>`, lower-cased headers (repeated ones comma-joined), the query string raw and
  parsed, the body as text or base64 as API Gateway sends it, and `requestContext.timeEpoch` from the
  clock, so the handler runs on the local stack's virtual time;
- `POST /webhooks/stripe` goes to the webhooks handler when one is given (404 otherwise), byte for
  byte, since Stripe's signature covers the raw body.

The handler's answer is mapped back as API Gateway maps a payload-2.0 response (statusCode, headers,
cookies, body or base64 body; a bare dict or string means 200 JSON).
"""

from __future__ import annotations

import base64
import importlib
import json
import logging
import mimetypes
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from functions import names
from local.lambda_events import ACCOUNT_ID, LocalLambdaContext

_log = logging.getLogger(__name__)
Handler = Callable[[dict[str, Any], Any], Any]
Clock = Callable[[], datetime]

STATIC_DIR = Path(__file__).resolve().parent.parent / "static_portal"
API_BASE = "/api"
WEBHOOK_PATH = "/webhooks/stripe"
API_ID = "local"
# API Gateway passes these bodies as text; everything else (form posts included) arrives base64-encoded.
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript", "application/problem+json")
_MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit
# What CloudFront's response headers policy sends with the page (docs/pay-page.md); the page's <meta> says
# the same minus what only a header can carry (frame-ancestors).
PAGE_HEADERS = (
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; base-uri 'none'; manifest-src 'self'; frame-ancestors 'none'",
    ),
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
)
STRIPE_SECRET = "cleardue/stripe"
STRIPE_TEST_KEY = "sk_test_cleardue_local"


def portal_api_handler() -> Handler:
    """The deployed portal API entry point (imported lazily: the gateway also serves the page alone)."""
    module = importlib.import_module("functions.portal_api.handler")
    handler = getattr(module, "lambda_handler", None) or module.handler
    return handler  # type: ignore[no-any-return]


def stripe_webhooks_handler() -> Handler:
    """The webhooks function's Stripe entry point (`POST /webhooks/stripe` in the HTTP API)."""
    module = importlib.import_module("functions.webhooks.handler")
    return module.stripe_handler  # type: ignore[no-any-return]


def portal_environment(portal_url: str, stripe_api_base: str, webhook_secret: str) -> dict[str, str]:
    """Put the Stripe secret where the portal API reads it (Secrets Manager, idempotent) and return the
    environment the portal API needs beside the local stack's: the page's URL and Stripe's."""
    import boto3

    secrets = boto3.client("secretsmanager")
    value = json.dumps({"api_key": STRIPE_TEST_KEY, "webhook_secret": webhook_secret})
    try:
        secrets.put_secret_value(SecretId=STRIPE_SECRET, SecretString=value)
    except secrets.exceptions.ResourceNotFoundException:
        secrets.create_secret(Name=STRIPE_SECRET, SecretString=value)
    return {
        names.ENV_PORTAL_URL: portal_url,
        names.ENV_PORTAL_API_URL: f"{portal_url.rstrip('/')}{API_BASE}",
        names.ENV_STRIPE_SECRET: STRIPE_SECRET,
        names.ENV_STRIPE_API_BASE: stripe_api_base,
    }


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _is_text(content_type: str) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind.startswith(_TEXT_TYPES) or kind.endswith("+json")


def http_api_event(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    now: datetime,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """An HTTP API payload-2.0 event, shaped as API Gateway builds it for a `$default` route."""
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    epoch_ms = int(now.timestamp() * 1000)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": joined,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": joined.get("host", "127.0.0.1"),
            "domainPrefix": joined.get("host", "127.0.0.1").split(".", 1)[0],
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.astimezone(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": epoch_ms,
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if body:
        if _is_text(joined.get("content-type", "")):
            try:
                event["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                event["body"] = base64.b64encode(body).decode("ascii")
                event["isBase64Encoded"] = True
        else:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


@dataclass(frozen=True)
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def http_api_response(result: Any) -> Response:
    """What API Gateway sends the client for a payload-2.0 Lambda result."""
    if not isinstance(result, dict) or "statusCode" not in result:
        # Format 2.0 infers a 200 JSON response from anything without a statusCode.
        text = result if isinstance(result, str) else json.dumps(result)
        return Response(200, [("Content-Type", "application/json")], text.encode("utf-8"))
    headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((str(name), str(value)) for value in values)
    headers.extend(("Set-Cookie", cookie) for cookie in result.get("cookies") or [])
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode("utf-8")
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return Response(int(result["statusCode"]), headers, body)


@dataclass
class Gateway:
    """Serves the page and the API on 127.0.0.1; `start()` returns the base URL (port 0: a free one)."""

    static_dir: Path = STATIC_DIR
    api_handler: Handler | None = None
    webhooks_handler: Handler | None = None
    clock: Clock = _utc_now
    api_base: str = API_BASE
    host: str = "127.0.0.1"
    port: int = 0
    function_name: str = "cleardue-portal-api"
    _server: ThreadingHTTPServer | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the gateway is not running")
        host, port = self._server.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else host
        return f"http://{name}:{port}"

    def config(self) -> dict[str, str]:
        """What the page reads from /config.json (in AWS the CDK writes the same file to the site bucket)."""
        return {"api": self.api_base}

    def start(self) -> str:
        gateway = self

        class _RequestHandler(_Handler):
            owner = gateway

        self._server = ThreadingHTTPServer((self.host, self.port), _RequestHandler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="gateway", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Gateway:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def invoke(self, handler: Handler, event: dict[str, Any], name: str) -> Response:
        # One invocation at a time, as one warm Lambda container serves one request at a time
        # (and the handlers' module-level caches are not built for concurrent first use).
        with self._lock:
            return http_api_response(handler(event, LocalLambdaContext(name)))


class _Handler(BaseHTTPRequestHandler):
    owner: Gateway
    protocol_version = "HTTP/1.1"
    server_version = "cleardue-gateway"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's signature
        return

    def _route(self) -> None:
        parts = urlsplit(self.path)
        path, query = parts.path, parts.query
        base = self.owner.api_base.rstrip("/")
        try:
            if path == base or path.startswith(base + "/"):
                self._lambda(self.owner.api_handler or portal_api_handler(), path[len(base) :] or "/", query)
            elif path == WEBHOOK_PATH and self.command == "POST":
                if self.owner.webhooks_handler is None:
                    self._send(_json_error(404, "not_found", "No webhooks handler is configured."))
                else:
                    self._lambda(self.owner.webhooks_handler, path, query, name="cleardue-webhooks")
            elif self.command in ("GET", "HEAD"):
                self._static(path)
            else:
                self._send(_json_error(405, "method_not_allowed", "Only GET and HEAD outside the API."))
        except Exception:  # noqa: BLE001 - a handler crash is API Gateway's 500, not a dead server
            _log.exception("%s %s failed", self.command, path)
            body = json.dumps({"message": "Internal Server Error"}).encode()  # what API Gateway answers
            self._send(Response(500, [("Content-Type", "application/json")], body))

    # BaseHTTPRequestHandler calls do_<METHOD>: every method goes through the one router, as at API Gateway.
    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _route

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(length) if length else b""

    def _lambda(self, handler: Handler, raw_path: str, query: str, name: str | None = None) -> None:
        body = self._read_body()
        event = http_api_event(
            self.command,
            raw_path,
            query,
            list(self.headers.items()),
            body,
            self.owner.clock(),
            source_ip=self.client_address[0],
        )
        self._send(self.owner.invoke(handler, event, name or self.owner.function_name))

    def _static(self, path: str) -> None:
        if path == "/config.json":
            self._send(Response(200, [("Content-Type", "application/json")], json.dumps(self.owner.config()).encode()))
            return
        root = self.owner.static_dir.resolve()
        relative = unquote(path).lstrip("/") or "index.html"
        target = (root / relative).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.is_relative_to(root) or not target.is_file():
            self._send(Response(404, [("Content-Type", "text/plain; charset=utf-8")], b"Not found"))
            return
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind in ("application/javascript", "application/json"):
            kind += "; charset=utf-8"
        headers = [("Content-Type", kind), ("Cache-Control", "no-cache"), *PAGE_HEADERS]
        self._send(Response(200, headers, target.read_bytes()))

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)


def _json_error(status: int, code: str, message: str) -> Response:
    body = json.dumps({"code": code, "message": message}).encode()
    return Response(status, [("Content-Type", "application/json")], body)


mimetypes.add_type("application/javascript", ".js")
mimetypes.add_type("application/json", ".json")
mimetypes.add_type("image/svg+xml", ".svg")


def _demo_account(now: datetime, fact_key: bytes, shards: int) -> tuple[str, str]:
    """One placed account whose debtor was born on 1985-04-12; returns (account_id, link_ref)."""
    from datetime import date

    from functions.core.account import Account, Balance, Debtor
    from functions.core.lender import LenderProfile
    from functions.core.money import Money
    from functions.core.verification import fact_hash
    from functions.store import accounts, lenders

    lenders.put(LenderProfile(lender_id="demo-lender", creditor_name="Demo Lending"))
    debtor = Debtor(name="Dana Reyes", email="dana.reyes@example.com", phone=None, timezone="America/Chicago")
    balance = Balance(Money(12_000, "USD"), Money(850, "USD"), Money(2_500, "USD"))
    account = Account(
        lender_id="demo-lender", external_ref="DEMO-1001", debtor=debtor, balance=balance, due_date=date(2026, 2, 20)
    )
    account = account.with_changes(
        verification={"date_of_birth": fact_hash(fact_key, account.account_id, "date_of_birth", "1985-04-12")}
    )
    item = accounts.new_item(account, None, "demo", now, shards)  # no first contact: the scheduler leaves it alone
    accounts.put_new([item])
    return account.account_id, str(item.link_ref)


def main(argv: list[str] | None = None) -> int:
    """`python -m local.gateway`: moto, the Stripe emulator and the gateway, with one demo account's pay link."""
    import argparse
    import os
    import time

    import boto3

    from functions.core import links
    from local.stack import LINK_KEY_SECRET, VERIFICATION_KEY_SECRET, running
    from local.stripe_emulator import StripeEmulator

    parser = argparse.ArgumentParser(prog="python -m local.gateway", description=main.__doc__)
    parser.add_argument("--port", type=int, default=8080, help="the gateway's port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--state-dir", type=Path, default=Path(".local"))
    args = parser.parse_args(argv)
    with running(args.state_dir) as stack, StripeEmulator() as emulator:
        gateway = Gateway(port=args.port, api_handler=portal_api_handler(), webhooks_handler=stripe_webhooks_handler())
        url = gateway.start()
        emulator.set_webhook_url(f"{url}{WEBHOOK_PATH}")
        os.environ.update(portal_environment(url, emulator.base_url, emulator.webhook_secret))
        secrets = boto3.client("secretsmanager")
        fact_key = secrets.get_secret_value(SecretId=VERIFICATION_KEY_SECRET)["SecretString"].encode()
        link_key = secrets.get_secret_value(SecretId=LINK_KEY_SECRET)["SecretString"].encode()
        now = _utc_now()
        _, link_ref = _demo_account(now, fact_key, stack.settings.due_shards)
        print(f"pay page   {url}/  (API under {url}{API_BASE}, Stripe emulator {emulator.base_url})")
        print(f"demo link  {links.pay_url(url, links.sign(link_ref, now, link_key))}")
        print("identity   date of birth 1985-04-12; cards 4242 4242 4242 4242 (paid), 4000 0000 0000 0002 (declined)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            gateway.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
