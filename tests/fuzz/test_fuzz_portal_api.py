"""Given any JSON body (or none, or not JSON) on every portal API route, when the handler answers, then it
is a 2xx or a 4xx with an error code: never a 5xx. Bodies are built from the request models: their own
field names with values of the right shape, the wrong shape, out of range, and anything at all; signed-in
routes get a genuine session (so the rules are reached, not only the session check) or a forged one.
The schemathesis run (tests/integration/portal_api/test_openapi_fuzz.py) fuzzes from the OpenAPI document;
this one from the pydantic models, on the real handler and moto."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from pydantic import BaseModel

from functions.portal_api import models
from tests.fuzz.budget import fuzz_settings
from tests.integration.portal_api.conftest import BIRTH, POSTAL, Portal

pytestmark = pytest.mark.fuzz

# A body each model accepts: the "nearly valid" bodies are these with some fields replaced.
VALID: dict[type[BaseModel] | None, dict[str, Any]] = {
    None: {},
    models.LinkRequest: {"token": "t"},
    models.SessionRequest: {"token": "t", "date_of_birth": BIRTH},
    models.PaymentRequest: {"amount_minor": 1_000},
    models.PlanRequest: {"installments": 3, "start_date": "2026-03-20"},
    models.PromiseRequest: {"amount_minor": 1_000, "date": "2026-03-20"},
    models.DisputeRequest: {"reason": "other", "details": "fuzz"},
    models.HardshipRequest: {"monthly_affordable_minor": 1_000, "note": "fuzz"},
    models.PreferencesRequest: {"preferred_channel": "email", "language": "es", "preferred_time": "morning"},
}
SIGNED_IN: dict[tuple[str, str], type[BaseModel] | None] = {
    ("GET", "/account"): None,
    ("POST", "/payments"): models.PaymentRequest,
    ("POST", "/plans"): models.PlanRequest,
    ("POST", "/promises"): models.PromiseRequest,
    ("POST", "/disputes"): models.DisputeRequest,
    ("POST", "/hardship"): models.HardshipRequest,
    ("PUT", "/preferences"): models.PreferencesRequest,
}
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
# Values a field of these models may be given: the right shape (at the edges), the wrong one, anything.
VALUE = st.one_of(
    st.sampled_from(
        [None, True, 0, 1, 2, 3, 36, 37, -1, 100, 1_000, 15_350, 10**12, 10**12 + 1, 2**63, 1.5, "1000",
         "2026-03-09", "2026-03-20", "2026-04-30", "2027-03-09", "2026-02-30", "1985-04-12", "9999-12-31",
         "0001-01-01", "", "en", "es", "fr", "email", "sms", "voice", "morning", "evening", "night",
         "not_mine", "wrong_amount", "paid_already", "other", ["email"], ["email", "sms"], ["sms", "sms", "sms"],
         "x" * 2001, "\u0000", "<script>", POSTAL, "1001"]
    ),
    JSON,
)  # fmt: skip


@st.composite
def bodies(draw: st.DrawFn, model: type[BaseModel] | None) -> tuple[str | None, str]:
    """A request body (raw text, or None for no body) and what kind it is, for the statistics."""
    kind = draw(st.sampled_from(["nearly valid", "nearly valid", "fields", "fields", "json", "text", "none"]))
    if kind == "none" or model is None and kind in ("fields", "nearly valid"):
        return None, "none"
    if kind == "nearly valid":
        body = dict(VALID[model])
        for name in draw(st.lists(st.sampled_from(list(model.model_fields)), unique=True, max_size=2)):
            body[name] = draw(VALUE)
        return json.dumps(body), kind
    if kind == "text":
        return draw(st.text(max_size=60)), kind
    if kind == "json":
        return json.dumps(draw(JSON)), kind
    names = list(model.model_fields)
    chosen = draw(st.lists(st.sampled_from(names), unique=True, max_size=len(names)))
    body = {name: draw(VALUE) for name in chosen}
    if draw(st.integers(0, 5)) == 0:
        body[draw(st.text(min_size=1, max_size=8))] = draw(VALUE)  # a field the model does not have
    return json.dumps(body), kind


def answer_is_never_a_5xx(portal: Portal, method: str, path: str, body: str | None, **kwargs: Any) -> int:
    reply = portal.client.request(method, path, raw=body, **kwargs)
    assert reply.status < 500, (method, path, body, reply.status, reply.body)
    if reply.status >= 400:
        assert isinstance(reply.body, dict) and reply.body.get("code"), reply.body
    event(f"{method} {path} -> {reply.status}")
    return reply.status


@fuzz_settings(250)
@given(data=st.data())
def test_signed_in_routes_answer_any_body_without_a_5xx(portal: Portal, data: st.DataObject) -> None:
    if portal.client.session is None:
        portal.verify()
    method, path = data.draw(st.sampled_from(sorted(SIGNED_IN)))
    body, _ = data.draw(bodies(SIGNED_IN[(method, path)]))
    answer_is_never_a_5xx(portal, method, path, body)


@fuzz_settings(100)
@given(
    route=st.sampled_from(sorted(SIGNED_IN)),
    authorization=st.one_of(st.text(max_size=80), st.text(max_size=60).map(lambda t: f"Bearer {t}")),
)
def test_a_forged_or_missing_session_is_a_4xx(portal: Portal, route: tuple[str, str], authorization: str) -> None:
    method, path = route
    body = json.dumps(VALID[SIGNED_IN[route]]) if method != "GET" else None
    status = answer_is_never_a_5xx(
        portal, method, path, body, auth=False, headers={"authorization": authorization} if authorization else {}
    )
    assert status == 401


@st.composite
def session_bodies(draw: st.DrawFn, token: str) -> str | None:
    body, kind = draw(bodies(models.SessionRequest))
    if kind in ("fields", "nearly valid") and draw(st.booleans()):  # the genuine token, answers of any shape
        fields = json.loads(body or "{}")
        fields["token"] = token
        if draw(st.booleans()):
            fields["date_of_birth"] = draw(st.sampled_from([BIRTH, "1985-04-13", "1985-13-12", 19850412]))
        body = json.dumps(fields)
    return body


@fuzz_settings(150)
@given(data=st.data())
def test_routes_before_verification_answer_any_body_without_a_5xx(portal: Portal, data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(["/link", "/session", "/unsubscribe"]))
    if path == "/session":
        body = data.draw(session_bodies(portal.token))
        answer_is_never_a_5xx(portal, "POST", path, body)
    elif path == "/link":
        body, _ = data.draw(bodies(models.LinkRequest))
        answer_is_never_a_5xx(portal, "POST", path, body)
    else:
        token = data.draw(st.one_of(st.just(portal.token), st.text(max_size=300)))
        channel = data.draw(st.one_of(st.sampled_from(["email", "sms"]), st.text(max_size=10)))
        query = data.draw(st.sampled_from([f"t={token}&c={channel}", f"c={channel}", f"t={token}", "", "t=&c="]))
        answer_is_never_a_5xx(portal, "POST", path, None, query=query)
