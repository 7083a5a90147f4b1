"""The ops API: routes under /ops and /lenders on the HTTP API (payload 2.0), behind IAM (SigV4) authorization.

Thin: the caller is authorized (`authorize`, pluggable: deployed, the IAM principal of the signed request, its
lenders from its role or user name, functions.ops.tenancy), the body is parsed into a model, the service does
the work, one place maps errors.
API Gateway refuses unsigned calls before they arrive; the function refuses them again (defence in depth):
no IAM principal in the request context, or a debtor's portal session (`Authorization: Bearer …`), is a 403."""

from __future__ import annotations

import binascii
from collections.abc import Callable
from functools import cache
from typing import Any, cast
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from functions.core import ops
from functions.core.clock import from_epoch_millis
from functions.observability import lambda_entry, logger
from functions.ops import lenders, models, service, tenancy
from functions.ops.settings import OpsSettings
from functions.store import StoreError, tables
from functions.store import ops as ops_store
from functions.store import portal as portal_store

router = Router()
Authorizer = Callable[[dict[str, Any]], service.Principal]


@cache
def settings() -> OpsSettings:
    configured = tables.configure(OpsSettings.from_env())
    portal_store.reset_connection()
    ops_store.reset_connection()
    return configured


@cache
def reports() -> lenders.Reports:
    """The lenders' reports: the portfolio bucket, read and pre-signed (SigV4) with this function's role."""
    import boto3
    from botocore.config import Config

    bucket = settings().portfolio_bucket
    if not bucket:
        raise service.OpsServiceError(503, "not_configured", "The reports bucket is not configured.")
    return lenders.Reports(boto3.client("s3", config=Config(signature_version="s3v4")), bucket)


def iam_principal(event: dict[str, Any]) -> service.Principal:
    """The IAM principal API Gateway authenticated (`requestContext.authorizer.iam.userArn`), its lenders named by
    its role or user (functions.ops.tenancy: `cleardue-ops*` every lender, `cleardue-lender-<id>` that one).
    Anything else is refused."""
    headers = event.get("headers") or {}
    if str(headers.get("authorization", "")).lower().startswith("bearer "):
        raise service.OpsServiceError(403, "forbidden", "A portal session cannot call the ops API.")
    iam = ((event.get("requestContext") or {}).get("authorizer") or {}).get("iam") or {}
    arn = iam.get("userArn")
    if not isinstance(arn, str) or not arn.startswith("arn:"):
        raise service.OpsServiceError(403, "forbidden", "The ops API needs a request signed with AWS credentials.")
    try:
        scope = tenancy.lenders_of(arn)
    except tenancy.NoScope as exc:
        logger.warning("an IAM principal without a cleardue scope", extra={"reason": str(exc)})
        raise service.OpsServiceError(
            403, "forbidden", "Your role names no cleardue scope (cleardue-ops* or cleardue-lender-<lender id>)."
        ) from exc
    return service.Principal(identity=arn, lenders=scope)


# Who may call: the plug point (the local CLI names its operator or lender). Deployed, it is always the IAM
# principal.
authorize: Authorizer = iam_principal


def _event() -> APIGatewayProxyEventV2:
    return cast(APIGatewayProxyEventV2, router.current_event)


def caller() -> tuple[service.Principal, service.Call]:
    event = _event()
    who = authorize(event.raw_event)
    context = event.request_context
    return who, service.Call(now=from_epoch_millis(context.time_epoch), request_id=context.request_id or "unknown")


@router.get("/ops/queue")
def get_queue() -> dict[str, Any]:
    who, call = caller()
    query = _event().query_string_parameters or {}
    lender_id = (query.get("lender") or "").strip()
    if not lender_id:
        raise service.OpsServiceError(400, "lender_required", "Say which lender's queue: ?lender=<lender id>.")
    reason = None
    if query.get("reason"):
        try:
            reason = ops.QueueReason(query["reason"])
        except ValueError as exc:
            allowed = ", ".join(r.value for r in ops.QueueReason)
            raise service.OpsServiceError(400, "invalid_reason", f"reason is one of: {allowed}.") from exc
    return service.queue(lender_id, who, call, reason)


@router.get("/ops/accounts/<account_id>")
def get_account(account_id: str) -> dict[str, Any]:
    who, call = caller()
    return service.show(unquote(account_id), who, call)


@router.post("/ops/accounts/<account_id>/actions")
def post_action(account_id: str) -> dict[str, Any]:
    who, call = caller()
    request = models.ACTION_REQUEST.validate_json(_event().decoded_body or "")
    return service.act(
        unquote(account_id),
        who,
        call,
        ops.Action(request.action),
        request.reason,
        request.params(),
        shards=settings().due_shards,
        expected_version=request.expected_version,
    )


@router.post("/ops/accounts/<account_id>/erase")
def post_erase(account_id: str) -> dict[str, Any]:
    who, call = caller()
    request = models.EraseRequest.model_validate_json(_event().decoded_body or "")
    return service.erase(unquote(account_id), who, call, request.reason)


@router.get("/lenders/<lender_id>/status")
def get_lender_status(lender_id: str) -> dict[str, Any]:
    who, call = caller()
    return lenders.status(unquote(lender_id), who, call, reports())


@router.get("/lenders/<lender_id>/reports")
def get_lender_reports(lender_id: str) -> dict[str, Any]:
    who, _ = caller()
    upload = ((_event().query_string_parameters or {}).get("upload") or "").strip() or None
    return lenders.downloads(unquote(lender_id), who, upload, reports())


# --- one place for errors -------------------------------------------------------------------------


def _error(status: int, code: str, message: str, **extra: Any) -> Response[dict[str, Any]]:
    body = {"code": code, "message": message, **{k: v for k, v in extra.items() if v is not None}}
    return Response(status, content_types.APPLICATION_JSON, body)


def _service_error(exc: service.OpsServiceError) -> Response[dict[str, Any]]:
    return _error(exc.status, exc.code, exc.message)


def _invalid(exc: ValidationError) -> Response[dict[str, Any]]:
    errors = exc.errors()
    first: dict[str, Any] = dict(errors[0]) if errors else {}
    if first.get("type") == "json_invalid":
        return _error(422, "invalid_request", "The request body is not valid JSON.")
    if first.get("type") in ("union_tag_invalid", "union_tag_not_found"):
        allowed = ", ".join(a.value for a in ops.Action)
        return _error(422, "invalid_request", f"action is one of: {allowed}.", field="action")
    where = ".".join(str(part) for part in first.get("loc", ()) if part not in tuple(a.value for a in ops.Action))
    message = f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "The request is not valid."))
    return _error(422, "invalid_request", message, field=where or None)


def _undecodable(exc: binascii.Error | UnicodeDecodeError) -> Response[dict[str, Any]]:
    return _error(400, "invalid_body", "The request body could not be read.")


def _store(exc: StoreError) -> Response[dict[str, Any]]:
    logger.exception("store error")
    return _error(503, "temporarily_unavailable", "The store did not answer; try again in a moment.")


def _not_found(exc: Exception) -> Response[dict[str, Any]]:
    return _error(404, "not_found", "No such ops route.")


@cache
def app() -> APIGatewayHttpResolver:
    resolver = APIGatewayHttpResolver()
    resolver.include_router(router)
    resolver.exception_handler(service.OpsServiceError)(_service_error)
    resolver.exception_handler(ValidationError)(_invalid)
    resolver.exception_handler([binascii.Error, UnicodeDecodeError])(_undecodable)
    resolver.exception_handler(StoreError)(_store)
    resolver.not_found(_not_found)
    return resolver


def reset() -> None:
    """Forget the per-container caches (tests, and the local stack when its endpoint changes)."""
    for cached in (settings, reports, app):
        cached.cache_clear()


@lambda_entry
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings()
    return app().resolve(event, context)
