"""The portal API: an HTTP API (payload 2.0) in front of the debtor's pay page.

Thin: Powertools' resolver validates requests and responses against the pydantic models (which also
make the OpenAPI document at GET /openapi.json), the service does the work, one place maps errors."""

from __future__ import annotations

import binascii
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Annotated, Any, TypeVar, cast

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.account import Channel
from functions.core.clock import from_epoch_millis
from functions.core.portal import Answers, PortalRejected
from functions.observability import lambda_entry, logger
from functions.portal_api import models, service, views
from functions.portal_api.settings import PortalSettings
from functions.store import StoreError, tables
from functions.store import portal as portal_store

router = Router()

_ERROR: OpenAPIResponse = {"description": "Error", "content": {"application/json": {"model": models.Error}}}
BEFORE: dict[int, OpenAPIResponse] = {400: _ERROR, 410: _ERROR, 422: _ERROR, 423: _ERROR}
AFTER: dict[int, OpenAPIResponse] = {401: _ERROR, 409: _ERROR, 422: _ERROR}
CHECKOUT: dict[int, OpenAPIResponse] = {**AFTER, 502: _ERROR, 503: _ERROR}
SESSION: dict[int, OpenAPIResponse] = {**BEFORE, 401: _ERROR, 403: _ERROR}
SECURED: list[dict[str, list[str]]] = [{"session": []}]

_Route = TypeVar("_Route", bound=Callable[..., Any])


@cache
def settings() -> PortalSettings:
    configured = tables.configure(PortalSettings.from_env())
    portal_store.reset_connection()
    return configured


def _secret(name: str) -> bytes:
    value = parameters.get_secret(name, max_age=settings().secret_max_age)
    return value.encode() if isinstance(value, str) else bytes(value)


@cache
def gateway() -> service.Gateway:
    """Stripe through the one payments module; the key from Secrets Manager."""
    config = settings()
    if not config.stripe_secret:
        raise service.PortalError(503, "payments_unavailable", "Online payment is not available right now.")
    from functions.payments.stripe_gateway import PaymentsGateway  # the SDK only where Stripe is reached

    secret = parameters.get_secret(config.stripe_secret, transform="json", max_age=config.secret_max_age)
    return PaymentsGateway.from_secret(secret, config.stripe_api_base)


@contextmanager
def payments_errors() -> Iterator[None]:
    """A Stripe failure is a 503 (try again) or 502, never a 500; the module is loaded by then."""
    try:
        yield
    except Exception as exc:
        from functions.payments.stripe_gateway import PaymentsError

        if not isinstance(exc, PaymentsError):
            raise
        logger.warning("payments error", extra={"code": exc.code, "retryable": exc.retryable})
        raise service.PortalError(
            503 if exc.retryable else 502,
            "payments_unavailable",
            "We couldn't start the payment just now. Please try again.",
        ) from exc


def runtime() -> service.Runtime:
    config = settings()
    return service.Runtime(
        link_key=lambda: _secret(config.link_key_secret),
        fact_key=lambda: _secret(config.verification_key_secret),
        gateway=lambda: gateway(),
        portal_url=config.portal_url,
        due_shards=config.due_shards,
    )


def _event() -> APIGatewayProxyEventV2:
    return cast(APIGatewayProxyEventV2, router.current_event)


def call() -> service.Call:
    event = _event()
    context = event.request_context
    return service.Call(
        now=from_epoch_millis(context.time_epoch),
        request_id=context.request_id or "unknown",
        accept_language=event.headers.get("accept-language"),
    )


def verified() -> tuple[service.Verified, service.Call, service.Runtime]:
    this_call, this_runtime = call(), runtime()
    who = service.authenticate(_event().headers.get("authorization"), this_call, this_runtime)
    return who, this_call, this_runtime


# --- before verification --------------------------------------------------------------------------


@router.post("/link", summary="What the link needs to be opened", responses=BEFORE, tags=["verify"])
def open_link(body: models.LinkRequest) -> models.LinkResponse:
    return models.LinkResponse.model_validate(service.open_link(body.token, call(), runtime()))


@router.post(
    "/session",
    summary="Verify identity, get a session",
    responses=SESSION,
    tags=["verify"],
)
def start_session(body: models.SessionRequest) -> models.SessionResponse:
    answers = Answers(date_of_birth=body.date_of_birth, fact=body.fact, postal_code=body.postal_code, last4=body.last4)
    return models.SessionResponse.model_validate(service.start_session(body.token, answers, call(), runtime()))


@router.post("/unsubscribe", summary="One-click unsubscribe (RFC 8058)", responses=BEFORE, tags=["preferences"])
def unsubscribe(
    t: Annotated[str, Query(min_length=1, max_length=256)], c: Annotated[Channel, Query()]
) -> models.UnsubscribeResponse:
    return models.UnsubscribeResponse.model_validate(service.unsubscribe(t, c, call(), runtime()))


# --- after verification ---------------------------------------------------------------------------


def secured(
    method: str, rule: str, *, summary: str, tags: list[str], responses: dict[int, OpenAPIResponse] = AFTER
) -> Callable[[_Route], _Route]:
    """A route after verification: it takes the session (`verified()`), and its OpenAPI operation says so."""
    return router.route(rule, method, summary=summary, responses=responses, security=SECURED, tags=tags)


@secured("GET", "/account", summary="The account, itemized, with the options open", tags=["account"])
def get_account() -> models.AccountResponse:
    who, this_call, _ = verified()
    state = portal_store.get(who.account.account_id)
    return views.account_view(who.account, who.lender, state, who.language, this_call.now, who.today)


@secured("POST", "/payments", summary="Pay in full or in part (Stripe Checkout)", responses=CHECKOUT, tags=["pay"])
def pay(body: models.PaymentRequest) -> models.CheckoutResponse:
    who, this_call, this_runtime = verified()
    with payments_errors():
        started = service.pay(who, body.amount_minor, body.settlement, this_call, this_runtime)
    return models.CheckoutResponse.model_validate(started)


@secured(
    "POST", "/plans", summary="Choose a payment plan (card saved through Checkout)", responses=CHECKOUT, tags=["pay"]
)
def choose_plan(body: models.PlanRequest) -> models.PlanResponse:
    who, this_call, this_runtime = verified()
    with payments_errors():
        plan, link = service.choose_plan(who, body.installments, body.start_date, this_call, this_runtime)
    return models.PlanResponse(
        plan=views.plan(plan, who.language), checkout_url=link.url, checkout_session_id=link.session_id
    )


@secured("POST", "/promises", summary="Promise to pay by a date", tags=["pay"])
def make_promise(body: models.PromiseRequest) -> models.PromiseResponse:
    who, this_call, this_runtime = verified()
    promise = service.make_promise(who, body.amount_minor, body.date, this_call, this_runtime)
    return models.PromiseResponse(promise=views.promise(promise, who.language))


@secured("POST", "/disputes", summary="Dispute the debt (outreach pauses)", tags=["account"])
def open_dispute(body: models.DisputeRequest) -> models.DisputeResponse:
    who, this_call, this_runtime = verified()
    dispute = service.open_dispute(who, body.reason, body.details, this_call, this_runtime)
    return models.DisputeResponse(dispute=views.dispute(dispute))


@secured("POST", "/hardship", summary="Tell us what you can afford", tags=["pay"])
def hardship(body: models.HardshipRequest) -> models.HardshipResponse:
    who, this_call, this_runtime = verified()
    answer = service.ask_hardship(who, body.monthly_affordable_minor, body.note, this_call, this_runtime)
    return views.hardship_answer(answer, who.language)


@secured("PUT", "/preferences", summary="Channel, language, time of day, opt-outs", tags=["preferences"])
def put_preferences(body: models.PreferencesRequest) -> models.PreferencesResponse:
    who, this_call, this_runtime = verified()
    account, state = service.set_preferences(
        who,
        preferred_channel=body.preferred_channel,
        language=body.language,
        preferred_time=body.preferred_time,
        opt_out=body.opt_out,
        call=this_call,
        runtime=this_runtime,
    )
    return models.PreferencesResponse(preferences=views.preferences(account, state, who.language))


@router.get("/openapi.json", include_in_schema=False)
def openapi() -> Response[str]:
    return Response(200, content_types.APPLICATION_JSON, openapi_document())


# --- one place for errors -------------------------------------------------------------------------


def _error(status: int, code: str, message: str, **extra: Any) -> Response[str]:
    body = models.Error(code=code, message=message, **extra).model_dump_json(exclude_none=True)
    return Response(status, content_types.APPLICATION_JSON, body)


def _portal_error(exc: service.PortalError) -> Response[str]:
    return _error(exc.status, exc.code, exc.message, **exc.extra)


def _rejected(exc: PortalRejected) -> Response[str]:
    return _error(exc.status, exc.code, str(exc))


def _invalid(exc: RequestValidationError) -> Response[str]:
    errors = exc.errors()
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        return _error(422, "invalid_request", "The request body is not valid JSON.")
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "header")]
    where = ".".join(location) or None
    message = f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "The request is not valid."))
    return _error(422, "invalid_request", message, field=where)


def _undecodable(exc: binascii.Error | UnicodeDecodeError) -> Response[str]:
    return _error(400, "invalid_body", "The request body could not be read.")


def _store(exc: StoreError) -> Response[str]:
    logger.exception("store error")
    return _error(503, "temporarily_unavailable", "Something went wrong on our side. Please try again in a moment.")


def _not_found(exc: Exception) -> Response[str]:
    return _error(404, "not_found", "There is nothing here.")


@cache
def app() -> APIGatewayHttpResolver:
    """The resolver, built once per container: CORS allows the pay page's origin only."""
    resolver = APIGatewayHttpResolver(
        enable_validation=True,
        cors=CORSConfig(
            allow_origin=settings().portal_origin, allow_headers=["Authorization", "Content-Type"], max_age=600
        ),
    )
    resolver.include_router(router)
    resolver.exception_handler(service.PortalError)(_portal_error)
    resolver.exception_handler(PortalRejected)(_rejected)
    resolver.exception_handler(RequestValidationError)(_invalid)
    # A body flagged isBase64Encoded that is not base64, or not UTF-8 once decoded.
    resolver.exception_handler([binascii.Error, UnicodeDecodeError])(_undecodable)
    resolver.exception_handler(StoreError)(_store)
    resolver.not_found(_not_found)
    return resolver


@cache
def openapi_document() -> str:
    # Powertools' OpenAPI models (pydantic, ~40 ms of import) only for the document itself (GET /openapi.json);
    # validating requests does not need them.
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    return app().get_openapi_json_schema(
        title="cleardue portal API",
        version="1.0.0",
        description="The debtor's self-service API (docs/portal-api.md).",
        security_schemes={"session": HTTPBearer(description="The session from POST /session (15 minutes).")},
    )


def reset() -> None:
    """Forget the per-container caches (tests, and the local stack when its endpoint changes)."""
    for cached in (settings, gateway, app, openapi_document):
        getattr(cached, "cache_clear", lambda: None)()  # a test may have replaced one


@lambda_entry
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app().resolve(event, context)
