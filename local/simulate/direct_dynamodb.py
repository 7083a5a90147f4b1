"""The simulation's DynamoDB calls go straight to moto's DynamoDB response handler: no HTTP request is built,
signed, sent through moto's botocore stubber, parsed by moto's request parser, serialised by moto and parsed
again by botocore. Installed only in a simulation's process (`install()` / `uninstall()`), inside `mock_aws`.

What a call does here, for the item operations (`OPERATIONS`) made by any botocore DynamoDB client (PynamoDB's
and boto3's):

- The request: the parameters the handler passed, as the wire would carry them (a JSON round trip: fresh
  objects, numbers and strings as sent; top-level `None`s dropped as botocore drops them). Parameters JSON
  cannot carry (binary attributes: botocore base64-encodes them, moto decodes them) take the normal path.
- moto's own `DynamoHandler` method for the operation (`put_item`, `query`, ...) runs with those parameters,
  the client's region and the account moto would derive from its access key: the same validation, condition
  and update expression evaluation, consumed capacity, paging, and the same backend (what the normal path
  stores, this reads, and the reverse).
- The answer: the body moto would send (the output shape's members that are set, as
  `moto_speed._serialize_result` writes it), as fresh objects, with a `ResponseMetadata` of the same keys as
  botocore's (`RequestId`, `HTTPStatusCode` 200, `HTTPHeaders`, `RetryAttempts` 0). A body with a binary
  attribute is parsed by botocore's own parser (it decodes base64).
- An error: moto's exception is turned into the response moto would send (status, headers, JSON body), which
  botocore's own parser reads, modelled fields included (`CancellationReasons`, a failed condition's `Item`),
  and raised as the client's own exception class (`ConditionalCheckFailedException`,
  `TransactionCanceledException`, `ValidationException`, ...: botocore `ClientError`s with the same
  `response`), exactly as `BaseClient._make_api_call` raises it.

Not emulated: botocore's event hooks for these calls (`before-parameter-build`, `before-call`, `before-send`,
`after-call`, ... are not emitted: no handler in the simulation registers one; local/faults.py's fault
injection uses `before-call` and is not used in a simulation), retries (moto never throttles), request
signing and parameter validation (PynamoDB turns botocore's validation off anyway), and the HTTP headers'
exact values (CRC32, date). SQS's queue operations and SES v2's SendEmail take a direct path of their own
(below); every other service and operation (table creation, SNS, S3, KMS, ...) takes botocore's normal
path. `calls` counts every botocore API call of the process by service and operation (the run's AWS calls,
whichever path they take); `seconds` adds up, by service, the time the calling thread spent inside them
(everything from the handler's botocore call to its answer: botocore's work on the normal path, the wire's JSON
round trip on the direct one, and moto's), so a run can tell the emulated AWS apart from the functions' own work.
It is the thread's wall time (`perf_counter`, read from the vDSO), not its CPU time: `thread_time` is a system call
that a sampling profiler found at 4-5 % of a run's samples. Moto answers in-process and never waits, so on a
simulation's thread the two differ only by what other threads ran meanwhile (Stripe's webhooks, rare).
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from botocore.client import BaseClient

OPERATIONS = {
    "GetItem": "get_item",
    "PutItem": "put_item",
    "UpdateItem": "update_item",
    "DeleteItem": "delete_item",
    "Query": "query",
    "Scan": "scan",
    "BatchGetItem": "batch_get_item",
    "BatchWriteItem": "batch_write_item",
    "TransactGetItems": "transact_get_items",
    "TransactWriteItems": "transact_write_items",
}
TARGET_PREFIX = "DynamoDB_20120810."
CONTENT_TYPE = "application/x-amz-json-1.0"

calls: Counter[tuple[str, str]] = Counter()
seconds: Counter[str] = Counter()
_seconds_lock = threading.Lock()
_inside = threading.local()
direct_calls = 0
_original_make_api_call: Any = None
_direct = True
_accounts: dict[str, str] = {}
_request_ids = itertools.count(1)


def install(direct: bool = True) -> None:
    """Idempotent. Count botocore's API calls in this process and, if `direct`, route its DynamoDB item
    operations to moto directly (`direct=False`: counted only, every call takes botocore's normal path)."""
    global _original_make_api_call, _direct
    _direct = direct
    if _original_make_api_call is None:
        _original_make_api_call = BaseClient._make_api_call
        BaseClient._make_api_call = _make_api_call  # type: ignore[method-assign]


def uninstall() -> None:
    global _original_make_api_call
    if _original_make_api_call is not None:
        BaseClient._make_api_call = _original_make_api_call  # type: ignore[method-assign]
        _original_make_api_call = None


def installed() -> bool:
    return _original_make_api_call is not None


def _make_api_call(self: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
    service = self._service_model.service_name
    calls[(service, operation_name)] += 1
    if getattr(_inside, "call", False):  # a call made while answering one (none today): timed by the outer one
        return _route(self, service, operation_name, api_params)
    _inside.call = True
    started = time.perf_counter()
    try:
        return _route(self, service, operation_name, api_params)
    finally:
        spent = time.perf_counter() - started
        _inside.call = False
        with _seconds_lock:
            seconds[service] += spent


def _route(self: BaseClient, service: str, operation_name: str, api_params: dict[str, Any]) -> Any:
    if _direct and service == "dynamodb" and operation_name in OPERATIONS:
        answer = call(self, operation_name, api_params)
        if answer is not None:
            return answer
    if _direct and service == "sqs" and operation_name in SQS_OPERATIONS:
        answer = call_sqs(self, operation_name, api_params)
        if answer is not None:
            return answer
    if _direct and service == "sesv2" and operation_name == "SendEmail":
        return call_sesv2_send_email(self, api_params)
    return _original_make_api_call(self, operation_name, api_params)


# -- SQS --------------------------------------------------------------------------------------------------
# The queue operations the pumps and handlers make go to moto's own SQSResponse through its `call_action` (its
# dispatch, error handling and JSON serialisation: the body moto would send), read by botocore's own parser
# (SQS's query-compatible error codes from moto's headers included) and raised as botocore raises. Skipped:
# botocore's request serialisation, endpoint resolution and signing, moto's HTTP request and its parse.
SQS_OPERATIONS = frozenset(
    "SendMessage SendMessageBatch ReceiveMessage DeleteMessage DeleteMessageBatch ChangeMessageVisibility "
    "ChangeMessageVisibilityBatch GetQueueAttributes".split()
)
SQS_TARGET_PREFIX = "AmazonSQS."


def call_sqs(client: BaseClient, operation_name: str, api_params: dict[str, Any]) -> dict[str, Any] | None:
    from moto.sqs.responses import SQSResponse

    try:
        wire = json.dumps(api_params, separators=(",", ":"))
    except TypeError:
        return None  # binary message attributes: the normal path
    params = {key: value for key, value in json.loads(wire).items() if value is not None}
    handler = SQSResponse()
    handler.params = params
    handler.uri_match = {}
    handler.querystring = {}
    handler.body = wire
    handler.headers = {"X-Amz-Target": SQS_TARGET_PREFIX + operation_name, "Content-Type": CONTENT_TYPE}
    queue_url = str(params.get("QueueUrl", ""))
    handler.uri = queue_url
    handler.path = urlparse(queue_url).path
    return _call_action(client, operation_name, handler)


# -- SES v2 -----------------------------------------------------------------------------------------------
# The sender's SendEmail goes to moto's own SESV2Response.send_email with the body botocore would write (REST-JSON:
# blobs base64-encoded); moto's errors are serialised as moto would send them; botocore's parser reads both.
def _blob(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")  # botocore's REST-JSON serialiser writes blobs so
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def call_sesv2_send_email(client: BaseClient, api_params: dict[str, Any]) -> dict[str, Any]:
    from moto.core.exceptions import ServiceException
    from moto.core.responses import ActionResult
    from moto.sesv2.responses import SESV2Response
    from werkzeug.exceptions import HTTPException

    handler = SESV2Response()
    handler.body = json.dumps(api_params, separators=(",", ":"), default=_blob)
    handler.querystring = {"Action": ["SendEmail"]}  # the operation moto serialises an error for
    handler.headers = {"Content-Type": "application/json"}
    handler.method = "POST"
    handler.path = "/v2/email/outbound-emails"

    def send() -> tuple[int, dict[str, Any], str | bytes]:
        try:
            return 200, {"content-type": "application/json"}, handler.send_email()
        except ServiceException as exc:
            return handler.serialized(ActionResult(exc))  # type: ignore[no-any-return]
        except HTTPException as exc:
            return int(exc.code or 500), dict(exc.get_headers() or []), exc.description or ""

    return _call_action(client, "SendEmail", handler, send)


def _call_action(
    client: BaseClient,
    operation_name: str,
    handler: Any,
    act: Callable[[], tuple[int, dict[str, Any], str | bytes]] | None = None,
) -> dict[str, Any]:
    """Run a moto response handler for one call (its own dispatch, `call_action`, unless `act` is given) and
    answer, or raise, as botocore would."""
    global direct_calls
    from moto.utilities.utils import get_partition

    direct_calls += 1
    region = client.meta.region_name
    handler.response_headers = {"server": "amazon.com"}
    handler.region = region
    handler.partition = get_partition(region)
    handler.current_account = _account(client)
    status, headers, body = (act or handler.call_action)()
    operation_model = client._service_model.operation_model(operation_name)
    headers = {str(key).lower(): str(value) for key, value in headers.items() if key != "status"}
    headers.setdefault("x-amzn-requestid", _request_id())
    parsed = _parse(client, operation_model, status, headers, body or b"")
    parsed["ResponseMetadata"] = _metadata(status, headers)
    if status >= 300:
        error = parsed.get("Error", {})
        # botocore's after-call handler for SQS (`_handle_sqs_compatible_error`) overrides the code with this
        code = error.get("QueryErrorCode") or error.get("Code")
        raise client.exceptions.from_code(code)(parsed, operation_name)
    return parsed  # type: ignore[no-any-return]


def _account(client: BaseClient) -> str:
    """The account moto derives from the request (MOTO_ACCOUNT_ID, else the access key, else its default)."""
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    from moto.iam.models import get_account_id_from

    credentials = client._request_signer._credentials  # type: ignore[attr-defined]
    access_key = credentials.access_key if credentials is not None else ""
    if access_key not in _accounts:
        _accounts[access_key] = get_account_id_from(access_key)
    return _accounts[access_key]


def call(client: BaseClient, operation_name: str, api_params: dict[str, Any]) -> dict[str, Any] | None:
    """moto's answer to one DynamoDB item operation as botocore would return it (or raise it); None when the
    parameters need the normal path (binary attributes)."""
    global direct_calls
    from moto.core.exceptions import ServiceException
    from moto.core.responses import ActionResult
    from moto.dynamodb.responses import DynamoHandler
    from moto.utilities.utils import get_partition
    from werkzeug.exceptions import HTTPException

    try:
        wire = json.dumps(api_params, separators=(",", ":"))
    except TypeError:
        return None  # bytes: botocore base64-encodes them and moto decodes them; the normal path does that
    params = {key: value for key, value in json.loads(wire).items() if value is not None}
    direct_calls += 1
    region = client.meta.region_name
    handler = DynamoHandler()
    handler.params = params
    handler.body = params  # what DynamoHandler.call_action sets from the parsed parameters
    handler.querystring = {}
    handler.headers = {"X-Amz-Target": TARGET_PREFIX + operation_name, "Content-Type": CONTENT_TYPE}
    handler.response_headers = {"server": "amazon.com"}
    handler.region = region
    handler.partition = get_partition(region)
    handler.current_account = _account(client)
    operation_model = client._service_model.operation_model(operation_name)
    try:
        result = getattr(handler, OPERATIONS[operation_name])()
    except ServiceException as exc:
        status, headers, body = handler.serialized(ActionResult(exc))
        _raise(client, operation_model, status, headers, body)
    except HTTPException as exc:
        headers = dict(exc.get_headers() or [])
        _raise(client, operation_model, int(exc.code or 500), headers, exc.description or "")
    return _answer(client, operation_model, handler, result)


def _request_id() -> str:
    """A request id of moto's shape, without a urandom call per request (slow on this VM)."""
    return f"{next(_request_ids):052X}"


def _metadata(status: int, headers: dict[str, Any]) -> dict[str, Any]:
    request_id = str(headers.get("x-amzn-requestid") or _request_id())
    http_headers = {str(key).lower(): str(value) for key, value in headers.items() if key != "status"}
    http_headers["x-amzn-requestid"] = request_id
    return {"RequestId": request_id, "HTTPStatusCode": status, "HTTPHeaders": http_headers, "RetryAttempts": 0}


def _answer(client: BaseClient, operation_model: Any, handler: Any, result: Any) -> dict[str, Any]:
    value = result.result if result is not None else None
    members = operation_model.output_shape.members if operation_model.output_shape is not None else {}
    body = {key: item for key, item in (value or {}).items() if key in members and item is not None}
    headers = {"server": "amazon.com", "content-type": CONTENT_TYPE}
    try:
        text = json.dumps(body, separators=(",", ":"))
    except TypeError:  # binary attributes (bytes): moto's serialiser base64-encodes them, botocore decodes them
        _, _, text = handler.serialized(result)
        return _parsed(client, operation_model, headers, text)
    if '"B":' in text or '"BS":' in text:  # a binary attribute as text (or a map key named B): botocore's parse
        return _parsed(client, operation_model, headers, text)
    parsed: dict[str, Any] = json.loads(text)
    parsed["ResponseMetadata"] = _metadata(200, headers)
    return parsed


def _parsed(client: BaseClient, operation_model: Any, headers: dict[str, Any], text: str) -> dict[str, Any]:
    parsed: dict[str, Any] = _parse(client, operation_model, 200, headers, text)
    parsed["ResponseMetadata"] = _metadata(200, headers)
    return parsed


def _parse(client: BaseClient, operation_model: Any, status: int, headers: dict[str, Any], body: str | bytes) -> Any:
    response = {
        "status_code": status,
        "headers": headers,
        "body": body.encode("utf-8") if isinstance(body, str) else body,
        "context": {"operation_name": operation_model.name},
    }
    parser = client._response_parser  # type: ignore[attr-defined]
    parsed = parser.parse(response, operation_model.output_shape)
    if status >= 300:
        client._endpoint._add_modeled_error_fields(response, parsed, operation_model, parser)  # type: ignore[attr-defined]
    return parsed


def _raise(client: BaseClient, operation_model: Any, status: int, headers: dict[str, Any], body: str | bytes) -> None:
    headers = {str(key).lower(): str(value) for key, value in headers.items() if key != "status"}
    headers.setdefault("x-amzn-requestid", _request_id())
    parsed = _parse(client, operation_model, status, headers, body)
    parsed["ResponseMetadata"] = _metadata(status, headers)
    code = parsed.get("Error", {}).get("Code")
    raise client.exceptions.from_code(code)(parsed, operation_model.name)
