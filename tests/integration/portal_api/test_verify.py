"""Given a pay link, when someone opens it, then nothing about the debt shows until they prove who they are;
five wrong answers lock the link for 30 minutes, and every attempt is in the audit trail."""

import copy
import json
from datetime import timedelta
from pathlib import Path

import pytest

from functions.core import links, sessions
from functions.core.audit import EventType
from functions.core.clock import to_epoch_millis
from functions.portal_api.handler import handler
from functions.store import events
from local.lambda_events import LocalLambdaContext
from local.portal_gateway import event_from_request
from tests.conftest import LINK_KEY

from .conftest import NOW, POSTAL, lender, placed, token_for

FIXTURE = Path("/work/shared/fixtures/events/aws/powertools_apiGatewayProxyV2Event.json")
DEBT_WORDS = ("Acme", "153", "creditor", "balance", "Dana")


def trail(account_id: str) -> list[EventType]:
    return [event.type for event in events.history(account_id)]


def reveals_nothing(body) -> bool:
    text = json.dumps(body)
    return not any(word in text for word in DEBT_WORDS)


def test_opening_a_link_says_only_how_to_verify_and_looks_the_same_for_an_unknown_link(portal) -> None:
    unknown = links.sign("Unknown-link-ref-000", NOW - timedelta(days=1), LINK_KEY)

    known_reply = portal.client.post("/link", {"token": portal.token}, headers={"accept-language": "es-MX,es;q=0.9"})
    unknown_reply = portal.client.post("/link", {"token": unknown}, headers={"accept-language": "es-MX,es;q=0.9"})

    assert known_reply.status == unknown_reply.status == 200
    assert (
        known_reply.body
        == unknown_reply.body
        == {
            "identity_check": "date_of_birth",
            "languages": ["en", "es"],
            "language": "es",
        }
    )
    assert reveals_nothing(known_reply.body)


def test_the_right_date_of_birth_opens_a_15_minute_session_and_is_audited(portal) -> None:
    reply = portal.verify()

    assert reply.body["expires_at"] == "2026-03-09T15:15:00Z"
    assert reply.body["language"] == "en"
    assert portal.client.get("/account").status == 200
    assert trail(portal.account_id) == [EventType.PORTAL_VERIFIED]


def test_a_wrong_answer_reveals_nothing_and_counts_down(portal) -> None:
    reply = portal.client.post("/session", {"token": portal.token, "date_of_birth": "1985-04-13"})

    assert reply.status == 401
    assert reply.body["code"] == "verification_failed"
    assert reply.body["attempts_left"] == 4
    assert reveals_nothing(reply.body)
    assert trail(portal.account_id) == [EventType.PORTAL_VERIFICATION_FAILED]


def test_an_unknown_link_fails_verification_exactly_like_a_wrong_answer(portal) -> None:
    unknown = links.sign("Unknown-link-ref-000", NOW - timedelta(days=1), LINK_KEY)

    wrong = portal.client.post("/session", {"token": portal.token, "date_of_birth": "1990-01-01"})
    missing = portal.client.post("/session", {"token": unknown, "date_of_birth": "1990-01-01"})

    assert (wrong.status, wrong.body) == (missing.status, missing.body)


def test_five_failures_lock_the_link_for_30_minutes_even_for_the_right_answer(portal, capsys) -> None:
    replies = [portal.client.post("/session", {"token": portal.token, "date_of_birth": "2000-01-01"}) for _ in range(5)]

    assert [reply.status for reply in replies] == [401, 401, 401, 401, 423]
    assert [reply.body.get("attempts_left") for reply in replies[:4]] == [4, 3, 2, 1]
    assert replies[4].body["code"] == "link_locked"
    assert replies[4].body["retry_after"] == 1800
    emitted = capsys.readouterr().out  # CloudWatch EMF, one document per invocation
    assert emitted.count('"PortalVerificationFailed":[1.0]') == 5
    assert emitted.count('"PortalLockouts":[1.0]') == 1

    portal.client.now = NOW + timedelta(minutes=29)
    still_locked = portal.client.post("/session", {"token": portal.token, "date_of_birth": "1985-04-12"})
    opened = portal.client.post("/link", {"token": portal.token})
    assert still_locked.status == opened.status == 423
    assert still_locked.body["retry_after"] == 60

    portal.client.now = NOW + timedelta(minutes=30)
    assert portal.client.post("/session", {"token": portal.token, "date_of_birth": "1985-04-12"}).status == 200
    assert trail(portal.account_id) == [EventType.PORTAL_VERIFICATION_FAILED] * 5 + [
        EventType.PORTAL_LOCKED,
        EventType.PORTAL_LOCKED,
        EventType.PORTAL_VERIFIED,
    ]


def test_a_success_resets_the_count(portal) -> None:
    for _ in range(4):
        portal.client.post("/session", {"token": portal.token, "date_of_birth": "2000-01-01"})
    portal.verify()

    again = portal.client.post("/session", {"token": portal.token, "date_of_birth": "2000-01-01"})

    assert again.body["attempts_left"] == 4


def test_expired_tampered_and_malformed_links_are_refused_plainly(portal) -> None:
    expired = token_for(portal.account, ttl=timedelta(hours=1))
    tampered = portal.token[:-3] + ("AAA" if not portal.token.endswith("AAA") else "BBB")

    for token, status, code in (
        (expired, 410, "link_expired"),
        (tampered, 400, "link_invalid"),
        ("not-a-token", 400, "link_invalid"),
    ):
        for path, body in (("/link", {"token": token}), ("/session", {"token": token, "date_of_birth": "1985-04-12"})):
            reply = portal.client.post(path, body)
            assert (reply.status, reply.body["code"]) == (status, code), (path, token)
            assert reveals_nothing(reply.body)
    assert trail(portal.account_id) == []


def test_without_a_date_of_birth_on_file_the_postcode_and_last_four_are_asked(portal) -> None:
    account = placed(f"B-2{portal.account.external_ref[2:]}77", with_birth=False)
    token = token_for(account)

    assert portal.client.post("/link", {"token": token}).body["identity_check"] == "postal_code_last4"
    wrong = portal.client.post(
        "/session",
        {
            "token": token,
            "postal_code": POSTAL,
            "last4": "0078" if not account.external_ref.endswith("0078") else "0079",
        },
    )
    right = portal.client.post(
        "/session", {"token": token, "postal_code": f" {POSTAL} ", "last4": account.external_ref[-4:].lower()}
    )

    assert (wrong.status, right.status) == (401, 200)


def test_with_nothing_to_check_the_debtor_is_told_to_contact_the_lender(portal) -> None:
    account = placed(f"C-{portal.account.external_ref}", with_birth=False, postal=None)

    reply = portal.client.post("/session", {"token": token_for(account), "date_of_birth": "1985-04-12"})

    assert reply.status == 403
    assert reply.body["code"] == "verification_unavailable"
    assert "contact" in reply.body["message"]
    assert trail(account.account_id) == [EventType.PORTAL_VERIFICATION_FAILED]


def test_the_lenders_fact_is_checked_against_its_keyed_hash(portal) -> None:
    from functions.core.verification import fact_hash
    from functions.store import accounts
    from functions.store.accounts import AccountModel
    from tests.conftest import FACT_KEY

    lender(identity_check="fact")
    AccountModel(portal.account_id).update(
        actions=[AccountModel.verification.set({"fact": fact_hash(FACT_KEY, portal.account_id, "fact", "Blue Heron")})]
    )
    assert accounts.get(portal.account_id).verification.keys() == {"fact"}

    assert portal.client.post("/link", {"token": portal.token}).body["identity_check"] == "fact"
    assert portal.client.post("/session", {"token": portal.token, "fact": "red heron"}).status == 401
    assert portal.client.post("/session", {"token": portal.token, "fact": "blue  HERON"}).status == 200


def test_sessions_expire_after_15_minutes_and_cannot_be_forged(portal) -> None:
    portal.verify()
    session = portal.client.session

    portal.client.now = NOW + timedelta(minutes=15)
    expired = portal.client.get("/account")
    portal.client.now = NOW + timedelta(minutes=1)
    portal.client.session = session[:-2] + ("AA" if not session.endswith("AA") else "BB")
    forged = portal.client.get("/account")
    portal.client.session = portal.token  # the pay link itself is not a session
    link_as_session = portal.client.get("/account")
    portal.client.session = None
    missing = portal.client.get("/account")

    assert [(r.status, r.body["code"]) for r in (expired, forged, link_as_session, missing)] == [
        (401, "session_expired"),
        (401, "session_invalid"),
        (401, "session_invalid"),
        (401, "session_required"),
    ]
    assert all(reveals_nothing(reply.body) for reply in (expired, forged, link_as_session, missing))


def test_a_session_for_a_link_without_account_is_refused(portal) -> None:
    token, _ = sessions.issue("Unknown-link-ref-000", "en", NOW, LINK_KEY)
    portal.client.session = token

    assert portal.client.get("/account").status == 401


def test_the_captured_http_api_event_shape_is_served(portal) -> None:
    """Powertools' own HTTP API v2 test event, re-pointed at POST /link, goes through unchanged otherwise."""
    event = copy.deepcopy(json.loads(FIXTURE.read_text()))
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/link"
    event["requestContext"]["timeEpoch"] = to_epoch_millis(NOW)
    event["body"] = json.dumps({"token": portal.token})

    result = handler(event, LocalLambdaContext("cleardue-portal-api"))

    assert result["statusCode"] == 200
    assert json.loads(result["body"])["identity_check"] == "date_of_birth"


def test_cors_allows_the_pay_page_only(portal) -> None:
    ours = portal.client.post("/link", {"token": portal.token})
    theirs = portal.client.post("/link", {"token": portal.token}, headers={"origin": "https://evil.example"})
    preflight = portal.client.request(
        "OPTIONS", "/session", headers={"access-control-request-method": "POST"}, auth=False
    )

    assert ours.headers["access-control-allow-origin"] == "https://pay.test.cleardue.example"
    assert "access-control-allow-origin" not in theirs.headers
    assert preflight.status == 204
    assert preflight.headers["access-control-allow-origin"] == "https://pay.test.cleardue.example"


@pytest.mark.parametrize(
    ("body", "base64_flag", "status", "code"),
    [
        ("PGlkay8+", True, 422, "invalid_request"),  # valid base64 of "<idk/>": not JSON
        ("//79", True, 400, "invalid_body"),  # base64 of bytes that are not UTF-8
        ("[]", False, 422, "invalid_request"),
        ("null", False, 422, "invalid_request"),
        ('{"token": 5}', False, 422, "invalid_request"),
    ],
)
def test_odd_bodies_are_4xx_never_a_500(portal, body: str, base64_flag: bool, status: int, code: str) -> None:
    event = event_from_request("POST", "/link", now=NOW, body=body, headers={"content-type": "application/json"})
    event["isBase64Encoded"] = base64_flag

    result = handler(event, LocalLambdaContext("cleardue-portal-api"))

    assert (result["statusCode"], json.loads(result["body"])["code"]) == (status, code)


def test_a_captured_event_whose_base64_body_is_not_base64_is_a_400(portal) -> None:
    """aws-lambda-dotnet's captured HTTP API event says isBase64Encoded but carries plain text."""
    event = json.loads((FIXTURE.parent / "dotnet_http-api-v2-request.json").read_text())
    stage = event["requestContext"]["stage"]  # a named stage: API Gateway puts it in front of the path
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/{stage}/session"
    event["requestContext"]["timeEpoch"] = to_epoch_millis(NOW)

    result = handler(event, LocalLambdaContext("cleardue-portal-api"))

    assert result["statusCode"] == 400
    assert json.loads(result["body"])["code"] == "invalid_body"
