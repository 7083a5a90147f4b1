"""`cleardue up --once` against a moto server: a CSV lands, accounts appear, emails go out, the trail records it."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_string
from email.header import decode_header, make_header
from pathlib import Path

import boto3
import pytest
import requests
from boto3.dynamodb.conditions import Attr
from moto.server import ThreadedMotoServer

from functions import names
from functions.core.clock import parse_utc

pytestmark = pytest.mark.e2e
CLEARDUE = Path(sys.executable).parent / "cleardue"
AT = "2026-03-08T19:00:00Z"  # inside 08:00-21:00 in every sample time zone (Honolulu to Puerto Rico)


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # An in-process server shares moto's backends with every in-process mock that ran before it (an email an
    # earlier test sent would be counted here): start from empty.
    requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
    yield endpoint
    server.stop()


@pytest.fixture(scope="module")
def first_run(moto_server: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    state = tmp_path_factory.mktemp("state")
    result = up(moto_server, state)
    return {"endpoint": moto_server, "state": state, "result": result}


def up(endpoint: str, state: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    env.pop("AWS_PROFILE", None)
    return subprocess.run(
        [str(CLEARDUE), "up", "--once", "--at", AT, "--state-dir", str(state), *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def ses_messages(endpoint: str) -> list[dict]:
    """What SES accepted (the sender sends raw MIME), with each message's decoded subject."""
    ses = requests.get(f"{endpoint}/moto-api/data.json", timeout=10).json()["ses"]
    messages = []
    for message in (*ses.get("Message", []), *ses.get("RawMessage", [])):
        mime = message_from_string(message["raw_data"]) if "raw_data" in message else None
        subject = str(make_header(decode_header(mime["Subject"]))) if mime else message["subject"]
        messages.append({**message, "subject": subject, "mime": mime})
    return messages


def audit_events(endpoint: str, outputs: dict, event_type: str) -> list[dict]:
    table = boto3.resource(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).Table(outputs[names.OUTPUT_EVENTS_TABLE])
    return table.scan(FilterExpression=Attr("type").eq(event_type))["Items"]


def test_one_cycle_ingests_schedules_sends_and_audits(first_run: dict) -> None:
    result, endpoint = first_run["result"], first_run["endpoint"]
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"AWS (moto server) at {endpoint}" in result.stdout
    assert "52 rows, 49 accepted (49 new, 0 updated, 0 unchanged), 3 rejected" in result.stdout
    assert "rejected line 19: email 'pat.doe@' is not valid" in result.stdout

    outputs = json.loads((first_run["state"] / "outputs.json").read_text())
    assert outputs[names.OUTPUT_AWS_ENDPOINT] == endpoint
    for key in (
        names.OUTPUT_PORTFOLIO_BUCKET,
        names.OUTPUT_ACCOUNTS_TABLE,
        names.OUTPUT_EMAIL_QUEUE_URL,
        names.OUTPUT_EMAIL_DLQ_URL,
        names.OUTPUT_REGION,
    ):
        assert outputs[key]

    messages = ses_messages(endpoint)
    by_recipient = Counter(tuple(sorted(set(m["destinations"]))) for m in messages)
    twice = {to: n for to, n in by_recipient.items() if n > 1}
    assert not twice, f"emailed more than once: {twice}"
    assert len(messages) == 48  # 49 accepted, one reachable by phone only (SMS comes with its own sender)
    assert all(message["subject"].startswith("Northwind Credit: ") for message in messages)
    # Each in the debtor's language, amounts localised by Babel.
    assert any(" was due on " in message["subject"] and "$" in message["subject"] for message in messages)
    assert any(" venció el " in message["subject"] and "US$" in message["subject"] for message in messages)
    # One-click unsubscribe (RFC 8058) on every email, pointing at the portal API.
    assert all(message["mime"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" for message in messages)
    assert all("/unsubscribe?" in message["mime"]["List-Unsubscribe"] for message in messages)
    assert f"one cycle done: {len(messages)} email(s) and 0 text(s) sent" in result.stdout
    assert result.stdout.count("pay link for ") == 3 and "(date of birth " in result.stdout
    assert outputs[names.OUTPUT_PORTAL_URL] and outputs[names.OUTPUT_STRIPE_API_BASE]

    sent_events = audit_events(endpoint, outputs, "reminder_sent")
    assert sorted(e["detail"]["message_id"] for e in sent_events) == sorted(m["id"] for m in messages)
    # The local stack's clock starts at --at and runs in real time: a loaded machine sends a few seconds on.
    sent_at = sorted(parse_utc(e["at"]) for e in sent_events)
    assert parse_utc(AT) <= sent_at[0] and sent_at[-1] < parse_utc(AT) + timedelta(minutes=5), sent_at


def test_running_the_same_cycle_again_sends_nothing_twice(first_run: dict) -> None:
    before = len(ses_messages(first_run["endpoint"]))
    again = up(first_run["endpoint"], first_run["state"])
    assert again.returncode == 0, again.stderr[-3000:]
    assert "scheduler: 0 due" in again.stdout
    assert len(ses_messages(first_run["endpoint"])) == before


def test_another_portfolio_and_lender_can_be_loaded(first_run: dict, tmp_path: Path) -> None:
    portfolio = tmp_path / "june.csv"
    portfolio.write_text(
        "reference,name,email,principal,currency,due_date\nZ-1,Ana Silva,ana.silva@example.com,99.99,EUR,2026-02-01\n"
    )
    result = up(first_run["endpoint"], first_run["state"], "--portfolio", str(portfolio), "--lender", "zeta-bank")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "1 rows, 1 accepted" in result.stdout
    assert any("€99.99" in m["subject"] for m in ses_messages(first_run["endpoint"]))


def test_bad_arguments_are_refused_with_a_message(first_run: dict) -> None:
    result = up(first_run["endpoint"], first_run["state"], "--portfolio", "/nonexistent.csv", "--lender", "x")
    assert result.returncode == 2
    assert "is not a file" in result.stderr


def test_cleardue_upload_follows_a_portfolio_through_the_running_stack(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key not in ("AWS_ENDPOINT_URL", "AWS_PROFILE")}
    state = tmp_path / "state"
    running = subprocess.Popen(
        [str(CLEARDUE), "up", "--state-dir", str(state), "--at", AT],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # outputs.json appears only once the sample lender and portfolio are loaded (the "ready" signal).
        deadline = time.monotonic() + 240
        while not (state / "outputs.json").exists() and time.monotonic() < deadline:
            assert running.poll() is None, "cleardue up exited before it was ready"
            time.sleep(0.5)
        assert (state / "outputs.json").exists(), "cleardue up was not ready within 240 s"
        portfolio = tmp_path / "june.csv"
        portfolio.write_text(
            "ref,name,email,principal,due_date\nJ-1,Ann Bee,ann@example.com,10.00,2026-02-01\n"
            "J-2,Bo Ray,bo@,1,2026-02-01\n"
        )
        result = subprocess.run(
            [
                str(CLEARDUE),
                "upload",
                str(portfolio),
                "--lender",
                "northwind",
                "--state-dir",
                str(state),
                "--timeout",
                "120",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        # Meanwhile the pay page's API answers a genuine pay link for an account of the sample portfolio.
        opened = _open_a_pay_link(json.loads((state / "outputs.json").read_text()))
    finally:
        running.send_signal(signal.SIGINT)
        running.wait(timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "completed: 2 rows = 1 accepted (1 new, 0 updated, 0 unchanged) + 1 rejected" in result.stdout
    assert opened.status_code == 200, opened.text
    assert opened.json()["identity_check"] == "date_of_birth"  # nothing about the debt before verification


def _open_a_pay_link(outputs: dict) -> requests.Response:
    from functions.core import links

    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    endpoint = outputs[names.OUTPUT_AWS_ENDPOINT]
    key = session.client("secretsmanager", endpoint_url=endpoint).get_secret_value(SecretId="cleardue/link-key")
    table = session.resource("dynamodb", endpoint_url=endpoint).Table(outputs[names.OUTPUT_ACCOUNTS_TABLE])
    item = next(i for i in table.scan()["Items"] if i.get("link_ref") and i["account_id"].startswith("northwind#NW-"))
    token = links.sign(item["link_ref"], datetime.now(UTC), key["SecretString"].encode())
    return requests.post(f"{outputs[names.OUTPUT_API_URL]}/link", json={"token": token}, timeout=30)


def test_cleardue_upload_without_a_stack_says_what_to_do(tmp_path: Path) -> None:
    portfolio = tmp_path / "p.csv"
    portfolio.write_text("ref\n")
    result = subprocess.run(
        [str(CLEARDUE), "upload", str(portfolio), "--lender", "acme", "--state-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and "start the local stack (make run)" in result.stderr
