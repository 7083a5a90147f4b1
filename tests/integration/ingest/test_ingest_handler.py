"""Given a portfolio CSV in S3, when S3 notifies the ingest function, then accounts, audit and a report exist."""

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

from functions.core.clock import parse_utc
from functions.ingest.handler import lambda_handler
from functions.store import accounts, events, uploads
from tests.conftest import BUCKET
from tests.events.factories import s3_object_created

AT = datetime(2026, 3, 8, 14, 0, tzinfo=UTC)
PORTFOLIO = (
    "\ufeffexternal_ref,name,email,phone,timezone,language,currency,principal,interest,fees,due_date,product\r\n"
    "R-1,Dana Reyes,dana@example.com,+13125550147,America/Chicago,en,USD,120.00,8.50,25.00,2026-02-20,card\r\n"
    'R-2,Luis Gómez,luis@example.org,,America/Puerto_Rico,es,USD,"1,500.00",0,0,2026-04-30,loan\r\n'
    "R-3,Bad Email,bad@,,America/Chicago,en,USD,10,0,0,2026-02-20,card\r\n"
    "R-4,No Due,nodue@example.com,,America/Chicago,en,USD,10,0,0,,card\r\n"
)


def upload(aws: dict[str, Any], key: str, body: str) -> dict[str, Any]:
    response = aws["s3"].put_object(Bucket=BUCKET, Key=key, Body=body.encode("utf-8"))
    return s3_object_created(BUCKET, key, response["ETag"].strip('"'), AT)


def read_report(aws: dict[str, Any], key: str) -> bytes:
    return aws["s3"].get_object(Bucket=BUCKET, Key=key)["Body"].read()


def test_valid_rows_become_accounts_and_rejected_rows_are_reported_with_line_and_reason(aws, context) -> None:
    result = lambda_handler(upload(aws, "portfolios/acme/march 2026.csv", PORTFOLIO), context)

    (outcome,) = result["uploads"]
    assert (outcome["status"], outcome["total"], outcome["accepted"], outcome["rejected"]) == ("completed", 4, 2, 2)
    dana = accounts.get("acme#R-1")
    assert dana is not None
    assert dana.balance.total.minor == 15350
    assert dana.next_contact_at == AT  # past due: due at once
    luis = accounts.get("acme#R-2")
    assert luis is not None and luis.debtor.language == "es"
    assert luis.next_contact_at == parse_utc("2026-04-25T13:00:00Z")  # pre-due window, 09:00 AST
    assert accounts.get("acme#R-3") is None

    summary = json.loads(read_report(aws, outcome["report_key"]))
    assert summary["total"] == summary["accepted"] + summary["rejected"]
    rejected = list(csv.DictReader(io.StringIO(read_report(aws, summary["rejected_rows"]).decode())))
    assert [(row["line"], row["external_ref"]) for row in rejected] == [("4", "R-3"), ("5", "R-4")]
    assert "There must be something after the @-sign" in rejected[0]["reason"]
    assert "due_date" in rejected[1]["reason"]

    (placed,) = events.history("acme#R-1")
    assert placed.type == "account_placed"
    assert placed.detail["line"] == 2
    assert "dana" not in json.dumps(placed.detail).lower()  # the audit trail references, never copies PII


def test_redelivered_notification_is_processed_once(aws, context) -> None:
    event = upload(aws, "portfolios/acme/p.csv", PORTFOLIO)
    lambda_handler(event, context)
    (again,) = lambda_handler(event, context)["uploads"]
    assert again["status"] == "duplicate"
    assert len(events.history("acme#R-1")) == 1


def test_a_new_version_of_the_file_updates_balances_and_keeps_the_schedule(aws, context) -> None:
    lambda_handler(upload(aws, "portfolios/acme/p.csv", PORTFOLIO), context)
    lambda_handler(upload(aws, "portfolios/acme/p.csv", PORTFOLIO.replace("120.00,8.50", "100.00,8.50")), context)
    dana = accounts.get("acme#R-1")
    assert dana is not None and dana.balance.principal.minor == 10000
    assert [event.type for event in events.history("acme#R-1")] == ["account_placed", "account_updated"]
    assert dana.next_contact_at == AT


def test_an_unreadable_file_fails_with_a_report_and_loses_nothing_silently(aws, context) -> None:
    (outcome,) = lambda_handler(upload(aws, "portfolios/acme/wrong.csv", "id,who\n1,2\n"), context)["uploads"]
    assert outcome["status"] == "failed"
    assert "missing required column" in outcome["error"]
    assert json.loads(read_report(aws, outcome["report_key"]))["status"] == "failed"
    record = uploads.get(outcome["upload_id"])
    assert record is not None and record.status == "failed"


def test_objects_outside_the_portfolio_layout_are_ignored(aws, context) -> None:
    (outcome,) = lambda_handler(upload(aws, "portfolios/notes.csv", PORTFOLIO), context)["uploads"]
    assert outcome["status"] == "ignored"
