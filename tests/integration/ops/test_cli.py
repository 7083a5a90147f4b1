"""`cleardue ops …`: the same requests through the local transport (the handler in-process, the operator from
CLEARDUE_OPERATOR) and the deployed one (SigV4-signed HTTPS, checked here by a fake API Gateway that verifies
the signature with the caller's credentials before handing the handler the IAM principal)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import botocore.auth
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from functions.core.account import Dispute, Flag
from functions.ops import handler as ops_handler
from functions.store import accounts, events
from local import cli, ops_cli
from local.lambda_events import LocalLambdaContext
from local.portal_gateway import event_from_request, response_parts

from .conftest import NOW, OPERATOR, iam_context, placed

API_URL = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"
CALLER = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "session-token")


@pytest.fixture(autouse=True)
def keep_authorizer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The local transport installs its operator as the handler's authorizer: undo it after each test."""
    monkeypatch.setattr(ops_handler, "authorize", ops_handler.authorize)


def run(argv: list[str], transport: ops_cli.Transport) -> tuple[int, list[str]]:
    lines: list[str] = []
    code = ops_cli.ops_command(cli.build_parser().parse_args(["ops", *argv]), lines.append, transport)
    return code, lines


def test_the_local_cli_shows_the_queue_and_acts_as_the_operator_from_the_environment(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ops_cli.OPERATOR_ENV, "ana")
    account = placed(dispute=Dispute(NOW - timedelta(days=3), "wrong_amount"), flags={Flag.DISPUTE})
    local = ops_cli.in_process_transport(f"local:{ops_cli.local_operator()}", NOW)

    code, lines = run(["queue", "--lender", "acme", "--reason", "dispute"], local)
    assert code == 0 and any(account.account_id in line and "dispute" in line for line in lines)

    code, lines = run(
        ["act", account.account_id, "resolve_dispute", "--reason", "statement matches the lender's ledger",
         "-s", "outcome=verified", "-s", "verification_ref=letter-31"],
        local,
    )  # fmt: skip
    assert code == 0, lines
    assert lines[0] == "done: resolve_dispute"
    assert "decision now: send dispute_verification by email" in "\n".join(lines)
    assert events.history(account.account_id)[-1].actor == "local:ana"

    code, lines = run(["show", account.account_id], local)
    assert code == 0 and any("ops: resolve dispute  by local:ana" in line for line in lines)


def test_cli_errors_are_one_line_and_exit_1(client: Any) -> None:
    local = ops_cli.in_process_transport("local:ana", NOW)
    argv = ["act", placed().account_id, "adjust_balance", "--reason", "x", "-s", "delta_minor=5", "-s", "code=goodwill"]
    code, lines = run(argv, local)
    assert code == 1 and lines == ["error 422 increase_not_allowed: Only a lender_correction may raise a balance."]
    assert run(["act", "acme#A-1", "recall", "--reason", "x", "-s", "oops"], local)[0] == 2  # not KEY=VALUE


class FakeApiGateway:
    """Verifies a SigV4 signature as API Gateway's IAM authorizer would (recomputed with the caller's secret),
    then invokes the handler with the principal; a bad signature is a 403 that never reaches the function."""

    def __init__(self, principals: dict[str, str]) -> None:
        self.principals = principals  # access key -> IAM ARN
        self.calls = 0

    def __call__(self, method: str, url: str, headers: dict[str, str], data: bytes | None) -> tuple[int, bytes]:
        auth = headers.get("Authorization", "")
        match = auth.removeprefix("AWS4-HMAC-SHA256 Credential=").split("/")
        if not auth.startswith("AWS4-HMAC-SHA256 ") or match[0] not in self.principals:
            return 403, b'{"message":"Forbidden"}'
        _, day, region, service, _ = match[:5]
        assert (region, service) == ("us-east-1", "execute-api")
        moment = datetime.strptime(headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
        unsigned = {
            k: v for k, v in headers.items() if k not in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")
        }
        expected = AWSRequest(method=method, url=url, data=data, headers=unsigned)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(botocore.auth, "get_current_datetime", lambda: moment)
            SigV4Auth(CALLER.get_frozen_credentials(), service, region).add_auth(expected)
        if expected.headers["Authorization"] != auth:
            return 403, b'{"message":"The request signature we calculated does not match the signature you provided."}'
        self.calls += 1
        parts = urlsplit(url)
        event = event_from_request(
            method, parts.path, now=NOW, body=data, headers={k.lower(): v for k, v in headers.items()},
            query=parts.query,
        )  # fmt: skip
        event["requestContext"]["authorizer"] = iam_context(self.principals[match[0]])
        status, _, payload = response_parts(ops_handler.handler(event, LocalLambdaContext("cleardue-ops")))
        return status, payload


def test_a_deployed_stack_gets_sigv4_signed_requests_and_audits_the_callers_arn(client: Any) -> None:
    account = placed()
    gateway = FakeApiGateway({CALLER.access_key: OPERATOR})
    signed = ops_cli.signed_transport(API_URL, credentials=CALLER, send=gateway)

    code, lines = run(["act", account.account_id, "record_notice", "--reason", "letter from the court",
                       "-s", "notice=bankruptcy", "-s", "reference=case-26-10442"], signed)  # fmt: skip
    assert code == 0, lines and gateway.calls == 1
    assert events.history(account.account_id)[-1].actor == OPERATOR
    saved = accounts.get(account.account_id)
    assert saved is not None and Flag.BANKRUPTCY in saved.flags

    code, lines = run(["queue", "--lender", "acme"], signed)
    assert code == 0 and lines[0].endswith(f"(acme, as of {NOW:%Y-%m-%dT%H:%M:%SZ})")


def test_a_request_signed_with_another_secret_is_refused_before_the_function(client: Any) -> None:
    gateway = FakeApiGateway({CALLER.access_key: OPERATOR})
    forged = Credentials(CALLER.access_key, "not-the-secret", "session-token")
    code, lines = run(
        ["show", placed().account_id], ops_cli.signed_transport(API_URL, credentials=forged, send=gateway)
    )
    assert code == 1 and gateway.calls == 0 and lines[0].startswith("error 403")


def test_the_region_comes_from_the_api_url() -> None:
    assert ops_cli.region_of(API_URL) == "us-east-1"
    assert ops_cli.region_of("https://ops.example.com") is None
    assert dict(parse_qsl(ops_cli.Request("GET", "/ops/queue", {"lender": "a b"}).query_string)) == {"lender": "a b"}
