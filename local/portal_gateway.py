"""HTTP requests as API Gateway HTTP API (payload 2.0) events for the portal API, and a tiny WSGI app.

`event_from_request` builds the event exactly as API Gateway does for a `$default` route (the shape of
Powertools' `apiGatewayProxyV2Event.json`): lower-cased headers, the raw and the parsed query string
(repeated keys comma-joined), a text body or base64 for anything else, `requestContext.timeEpoch`
from the given clock. `wsgi_app` wraps a handler so tools that speak WSGI (schemathesis, a browser
through wsgiref) can call it in-process."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from functions.core.clock import to_epoch_millis
from local.lambda_events import ACCOUNT_ID, LocalLambdaContext

Handler = Callable[[dict[str, Any], Any], Any]
_TEXT_TYPES = ("application/json", "text/", "application/xml")


def event_from_request(
    method: str,
    path: str,
    *,
    now: datetime,
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    query: str = "",
    request_id: str | None = None,
    source_ip: str = "198.51.100.7",
) -> dict[str, Any]:
    """The HTTP API v2 event for one request (`query` is the raw query string, without `?`)."""
    lowered = {name.lower(): value for name, value in (headers or {}).items()}
    parsed: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        parsed[key] = f"{parsed[key]},{value}" if key in parsed else value
    raw = body.encode() if isinstance(body, str) else body
    content_type = lowered.get("content-type", "")
    is_text = raw is not None and (not content_type or content_type.startswith(_TEXT_TYPES))
    request_id = request_id or str(uuid.uuid4())
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": lowered,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": "local",
            "domainName": "local.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "local",
            "http": {
                "method": method.upper(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", "cleardue-local"),
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": to_epoch_millis(now),
        },
        "isBase64Encoded": False,
    }
    if parsed:
        event["queryStringParameters"] = parsed
    if raw is not None:
        if is_text:
            event["body"] = raw.decode("utf-8", errors="replace")
        else:
            event["body"] = base64.b64encode(raw).decode("ascii")
            event["isBase64Encoded"] = True
    return event


def response_parts(result: Any) -> tuple[int, dict[str, str], bytes]:
    """A payload-2.0 answer as API Gateway maps it: status, headers, body bytes."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return 200, {"content-type": "application/json"}, json.dumps(result).encode()
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    headers = {name.lower(): str(value) for name, value in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[name.lower()] = ",".join(str(value) for value in values)
    return int(result["statusCode"]), headers, data


def wsgi_app(handler: Handler, clock: Callable[[], datetime]) -> Callable[..., Iterable[bytes]]:
    """A WSGI application that turns each request into an event for `handler` (in this thread)."""
    from http import HTTPStatus

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else None
        headers = {
            key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        path = environ.get("PATH_INFO") or "/"
        event = event_from_request(
            environ["REQUEST_METHOD"],
            path,
            now=clock(),
            body=body,
            headers=headers,
            query=environ.get("QUERY_STRING", ""),
        )
        status, out_headers, data = response_parts(handler(event, LocalLambdaContext("cleardue-portal-api")))
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        start_response(f"{status} {reason}", list(out_headers.items()))
        return [data]

    return application
