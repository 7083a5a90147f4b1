"""Given a lender's role (cleardue-lender-<id>) signing its requests, when it asks for its status or its reports,
then it sees its own uploads, portfolio and latest report and gets pre-signed URLs under its own report prefix;
another lender's status, reports, queue or upload are refused (403) or do not exist for it (404), an ops role
sees every lender, and a debtor's session or an unsigned call is refused."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import boto3
import pytest
import requests

from functions.core.account import AccountStatus
from functions.core.lender import LenderProfile
from functions.ops import tenancy
from functions.store import accounts, uploads
from functions.store.uploads import Upload, UploadStatus
from local.lambda_events import ACCOUNT_ID
from tests.events.factories import make_account, place

from .conftest import ACME_READER, BUCKET, NOW, OPERATOR, THIRDCO_READER, Client, placed

NORTHWIND_READER = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/cleardue-lender-northwind/reports"


def record_upload(lender_id: str, name: str, hours_ago: int, status: UploadStatus, **counts: int) -> Upload:
    """An upload as ingest leaves it, with its summary.json (and rejected.csv once completed) under its prefix."""
    key = f"portfolios/{lender_id}/{name}"
    upload_id = uploads.upload_id_for(BUCKET, key, f"etag-{name}")
    prefix = f"reports/{lender_id}/{upload_id}/"
    upload = Upload(upload_id, lender_id, BUCKET, key, f"etag-{name}", None, NOW - timedelta(hours=hours_ago), prefix)
    assert uploads.begin(upload)
    s3 = boto3.client("s3")
    if status is not UploadStatus.PROCESSING:
        upload.counts = dict(counts)
        uploads.finish(upload, status, NOW - timedelta(hours=hours_ago - 1))
        summary = {"upload_id": upload_id, "lender_id": lender_id, "status": status.value, **counts}
        s3.put_object(Bucket=BUCKET, Key=prefix + "summary.json", Body=json.dumps(summary).encode())
        if status is UploadStatus.COMPLETED:
            s3.put_object(Bucket=BUCKET, Key=prefix + "rejected.csv", Body=b"line,reasons\n7,bad email\n")
    return upload


@pytest.fixture(scope="module")
def northwind(ops_aws: Any) -> dict[str, Upload]:
    """A lender with three uploads (one failed, one completed, one still running) and four accounts."""
    from functions.store import lenders

    lenders.put(LenderProfile(lender_id="northwind", creditor_name="Northwind Credit"))
    seeded = {
        "failed": record_upload("northwind", "march-01.csv", 30, UploadStatus.FAILED, total=0),
        "completed": record_upload("northwind", "march-02.csv", 20, UploadStatus.COMPLETED, total=5, accepted=4,
                                   rejected=1),
        "running": record_upload("northwind", "march-03.csv", 1, UploadStatus.PROCESSING),
    }  # fmt: skip
    for ref, due, principal, currency in (
        ("NW-1", date(2026, 2, 20), 10_000, "USD"),  # 17 days past due on 2026-03-09: mid
        ("NW-2", date(2026, 3, 1), 5_000, "USD"),  # 8: early
        ("NW-3", date(2026, 3, 1), 7_000, "EUR"),  # 8: early, in euros
        ("NW-4", date(2026, 1, 1), 2_000, "USD"),  # paid below
    ):
        place(make_account(ref, lender_id="northwind", due=due, principal=principal, interest=0, fees=0,
                           currency=currency), NOW - timedelta(days=2))  # fmt: skip
    paid = accounts.get("northwind#NW-4")
    assert paid is not None
    assert accounts.save_state(paid, paid.with_changes(status=AccountStatus.PAID), NOW - timedelta(days=1), 4)
    record_upload("acme", "acme-01.csv", 5, UploadStatus.COMPLETED, total=1, accepted=1, rejected=0)
    return seeded


def reports_path(lender_id: str) -> str:
    return f"/lenders/{quote(lender_id, safe='')}/reports"


# --- a lender sees its own ------------------------------------------------------------------------


def test_a_lender_sees_its_uploads_portfolio_and_latest_report(client: Client, northwind: dict[str, Upload]) -> None:
    reply = Client(NOW, NORTHWIND_READER).request("GET", "/lenders/northwind/status")

    assert reply.status == 200, reply.body
    body = reply.body
    assert [(u["file"], u["status"]) for u in body["uploads"]] == [
        ("march-03.csv", "processing"), ("march-02.csv", "completed"), ("march-01.csv", "failed"),
    ]  # fmt: skip
    assert body["uploads"][1] | {"completed_at": None} == {
        "upload_id": northwind["completed"].upload_id, "file": "march-02.csv", "status": "completed",
        "received_at": "2026-03-08T19:00:00Z", "completed_at": None, "total": 5, "accepted": 4, "rejected": 1,
        "error": None,
    }  # fmt: skip
    portfolio = body["portfolio"]
    assert portfolio["accounts"] == 4
    assert portfolio["owed_minor"] == {"EUR": 7_000, "USD": 17_000}
    assert portfolio["by_status"] == [
        {"status": "active", "currency": "EUR", "accounts": 1, "owed_minor": 7_000},
        {"status": "active", "currency": "USD", "accounts": 2, "owed_minor": 15_000},
        {"status": "paid", "currency": "USD", "accounts": 1, "owed_minor": 2_000},
    ]
    assert portfolio["by_stage"] == [
        {"stage": "early", "currency": "EUR", "accounts": 1, "owed_minor": 7_000},
        {"stage": "early", "currency": "USD", "accounts": 1, "owed_minor": 5_000},
        {"stage": "mid", "currency": "USD", "accounts": 1, "owed_minor": 10_000},
    ]
    latest = body["latest_report"]  # the newest finished upload (the running one has no report yet)
    assert latest["upload_id"] == northwind["completed"].upload_id
    assert latest["summary"]["accepted"] == 4 and latest["summary"]["rejected"] == 1


def test_a_lender_gets_short_lived_urls_for_its_own_report_files(client: Client, northwind: dict[str, Upload]) -> None:
    upload = northwind["completed"]
    reply = Client(NOW, NORTHWIND_READER).request("GET", reports_path("northwind"), query=f"upload={upload.upload_id}")

    assert reply.status == 200, reply.body
    assert reply.body["expires_in_seconds"] == 15 * 60
    files = {f["name"]: f for f in reply.body["files"]}
    assert set(files) == {"summary.json", "rejected.csv"}
    for name, file in files.items():
        url = urlsplit(file["url"])
        assert file["key"] == f"reports/northwind/{upload.upload_id}/{name}"
        assert url.path.endswith(f"/reports/northwind/{upload.upload_id}/{name}")
        signed = parse_qs(url.query)
        assert signed["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and signed["X-Amz-Expires"] == ["900"]
    downloaded = requests.get(files["rejected.csv"]["url"], timeout=5)  # moto answers the pre-signed GET
    assert downloaded.status_code == 200 and downloaded.text == "line,reasons\n7,bad email\n"


def test_without_an_upload_the_latest_finished_one_and_a_failed_upload_has_only_its_summary(
    client: Client, northwind: dict[str, Upload]
) -> None:
    reader = Client(NOW, NORTHWIND_READER)
    latest = reader.request("GET", reports_path("northwind"))
    assert latest.status == 200 and latest.body["upload_id"] == northwind["completed"].upload_id

    failed = reader.request("GET", reports_path("northwind"), query=f"upload={northwind['failed'].upload_id}")
    assert failed.status == 200 and [f["name"] for f in failed.body["files"]] == ["summary.json"]
    running = reader.request("GET", reports_path("northwind"), query=f"upload={northwind['running'].upload_id}")
    assert running.status == 200 and running.body["files"] == []


# --- and nothing of another lender's --------------------------------------------------------------


def test_a_lender_cannot_reach_another_lenders_status_reports_queue_or_accounts(
    client: Client, northwind: dict[str, Upload]
) -> None:
    theirs = placed("acme")
    mine = placed("thirdco")
    thirdco = Client(NOW, THIRDCO_READER)

    for reply in (
        thirdco.request("GET", "/lenders/acme/status"),
        thirdco.request("GET", reports_path("acme")),
        thirdco.request("GET", reports_path("northwind"), query=f"upload={northwind['completed'].upload_id}"),
        thirdco.queue("acme"),
    ):
        assert (reply.status, reply.body["code"]) == (403, "forbidden")
    assert thirdco.show(theirs.account_id).status == 404
    assert thirdco.act(theirs.account_id, {"action": "recall", "reason": "not ours"}).status == 404
    assert accounts.get(theirs.account_id) == theirs
    assert thirdco.show(mine.account_id).status == 200
    assert thirdco.queue("thirdco").status == 200


@pytest.mark.parametrize("upload", ["northwind-upload", "u-0000000000000000", "../acme/x", "u-ABC"])
def test_an_upload_of_another_lender_or_of_no_one_is_not_found(
    client: Client, northwind: dict[str, Upload], upload: str
) -> None:
    named = northwind["completed"].upload_id if upload == "northwind-upload" else upload
    reply = Client(NOW, ACME_READER).request("GET", reports_path("acme"), query=f"upload={quote(named)}")
    assert (reply.status, reply.body["code"]) == (404, "upload_not_found")


def test_an_ops_role_sees_every_lender(client: Client, northwind: dict[str, Upload]) -> None:
    ops = Client(NOW, OPERATOR)
    assert ops.request("GET", "/lenders/northwind/status").body["portfolio"]["accounts"] == 4
    assert ops.request("GET", "/lenders/acme/status").status == 200
    files = ops.request("GET", reports_path("acme")).body["files"]
    assert files and all(f["key"].startswith("reports/acme/u-") for f in files)
    assert ops.request("GET", "/lenders/nobody/status").status == 404


@pytest.mark.parametrize(
    ("principal", "headers"),
    [
        (None, None),  # unsigned: no IAM principal in the request context
        (ACME_READER, {"authorization": "Bearer portal-session-token"}),  # a debtor's session
        (f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/some-other-role/bob", None),  # names no cleardue scope
        (f"arn:aws:iam::{ACCOUNT_ID}:root", None),
    ],
)
def test_debtors_unsigned_calls_and_unscoped_principals_are_refused(
    client: Client, northwind: dict[str, Upload], principal: str | None, headers: dict[str, str] | None
) -> None:
    caller = Client(NOW, principal)
    for path in ("/lenders/acme/status", reports_path("acme")):
        reply = caller.request("GET", path, headers=headers)
        assert (reply.status, reply.body["code"]) == (403, "forbidden")


# --- the naming convention ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arn", "scope"),
    [
        ("arn:aws:sts::123456789012:assumed-role/cleardue-ops-operator/ana", None),
        ("arn:aws:sts::123456789012:assumed-role/cleardue-ops/ana", None),
        ("arn:aws:iam::123456789012:user/staff/cleardue-ops-ana", None),
        ("arn:aws:sts::123456789012:assumed-role/cleardue-lender-acme/s", {"acme"}),
        ("arn:aws:sts::123456789012:assumed-role/cleardue-lender-north-wind.reader/s", {"north-wind"}),
        ("arn:aws-us-gov:sts::123456789012:assumed-role/cleardue-lender-acme.x/s", {"acme"}),
        ("arn:aws:iam::123456789012:user/cleardue-lender-acme", {"acme"}),
        ("arn:aws:sts::123456789012:assumed-role/cleardue-operations/ana", "refused"),
        ("arn:aws:sts::123456789012:assumed-role/cleardue-lender-/s", "refused"),
        ("arn:aws:sts::123456789012:assumed-role/cleardue-lender-Acme/s", "refused"),
        ("arn:aws:sts::123456789012:assumed-role/x-cleardue-ops/s", "refused"),
        ("arn:aws:sts::123456789012:federated-user/cleardue-ops-ana", "refused"),
        ("arn:aws:iam::123456789012:role/cleardue-ops-operator", "refused"),  # a role is assumed, never the caller
    ],
)
def test_a_principals_lenders_come_from_its_role_or_user_name(arn: str, scope: Any) -> None:
    if scope == "refused":
        with pytest.raises(tenancy.NoScope):
            tenancy.lenders_of(arn)
    else:
        assert tenancy.lenders_of(arn) == (None if scope is None else frozenset(scope))


# --- the command ----------------------------------------------------------------------------------


def run_lender(argv: list[str], transport: Any) -> tuple[int, list[str]]:
    from local import cli, lender_cli

    lines: list[str] = []
    code = lender_cli.lender_command(cli.build_parser().parse_args(["lender", *argv]), lines.append, transport)
    return code, lines


@pytest.fixture
def keep_authorizer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The local transport installs its principal as the handler's authorizer: undo it after each test."""
    from functions.ops import handler as ops_handler

    monkeypatch.setattr(ops_handler, "authorize", ops_handler.authorize)


def test_the_local_cli_shows_a_lenders_status_and_download_links(
    client: Client, northwind: dict[str, Upload], keep_authorizer: None
) -> None:
    from local import ops_cli

    local = ops_cli.in_process_transport("local:lender-northwind", NOW, frozenset({"northwind"}))

    code, lines = run_lender(["status", "northwind"], local)
    assert code == 0, lines
    text = "\n".join(lines)
    assert lines[0] == "lender northwind (Northwind Credit), as of 2026-03-09T15:00:00Z"
    assert "march-02.csv             completed  received 2026-03-08T19:00:00Z  5 row(s): 4 accepted, 1 rejected" in text
    assert "portfolio: 4 account(s), owed 7000 EUR, 17000 USD (minor units)" in text
    assert f"latest report ({northwind['completed'].upload_id}): completed, 5 row(s): 4 accepted, 1 rejected" in text

    code, lines = run_lender(["download", "northwind", "--upload", northwind["completed"].upload_id], local)
    assert code == 0 and lines[0].endswith("links expire in 15 min:")
    assert [line.split()[0] for line in lines[1:]] == ["summary.json", "rejected.csv"]
    assert all("/reports/northwind/" in line for line in lines[1:])

    code, lines = run_lender(["status", "acme"], local)  # the local scope is the one lender it was opened for
    assert code == 1 and lines == ["error 403 forbidden: You may not see lender 'acme'."]


def test_a_lender_role_signs_its_cli_requests_and_sees_only_its_own(
    client: Client, northwind: dict[str, Upload]
) -> None:
    from local import ops_cli

    from .test_cli import API_URL, CALLER, FakeApiGateway

    signed = ops_cli.signed_transport(
        API_URL, credentials=CALLER, send=FakeApiGateway({CALLER.access_key: NORTHWIND_READER})
    )
    code, lines = run_lender(["download", "northwind"], signed)
    assert code == 0 and northwind["completed"].upload_id in lines[0]
    code, lines = run_lender(["status", "acme"], signed)
    assert code == 1 and lines[0].startswith("error 403 forbidden")
