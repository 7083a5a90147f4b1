"""Given lenders' files in S3, when S3 notifies ingest and its chunks run, then accounts, reports and the
upload's record say exactly what happened to every row."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.core.account import Flag
from functions.core.clock import parse_utc
from functions.core.lender import LenderProfile
from functions.ingest.handler import lambda_handler
from functions.store import accounts, events, lenders, uploads
from functions.store.accounts import AccountModel
from tests.conftest import BUCKET, FACT_KEY
from tests.events.factories import s3_object_created, sqs_event

AT = datetime(2026, 3, 8, 14, 0, tzinfo=UTC)
HEADER = "external_ref,name,email,phone,timezone,language,currency,principal,interest,fees,due_date,recalled\r\n"
PORTFOLIO = (
    "\ufeff"
    + HEADER
    + "R-1,Dana Reyes,dana@example.com,+13125550147,America/Chicago,en,USD,120.00,8.50,25.00,2026-02-20,\r\n"
    + 'R-2,Luis Gómez,luis@example.org,,America/Puerto_Rico,es,USD,"1,500.00",0,0,2026-04-30,no\r\n'
    + "R-3,Bad Email,bad@,,America/Chicago,en,USD,10,0,0,2026-02-20,\r\n"
    + "R-4,No Due,nodue@example.com,12,America/Chicago,en,USD,10,0,0,,\r\n"
)


@pytest.fixture
def lender(aws: dict[str, Any]) -> LenderProfile:
    profile = LenderProfile(lender_id="acme", creditor_name="Acme Lending", timezone="America/Chicago")
    lenders.put(profile)
    return profile


def put(aws: dict[str, Any], key: str, body: str | bytes) -> dict[str, Any]:
    data = body.encode("utf-8") if isinstance(body, str) else body
    response = aws["s3"].put_object(Bucket=BUCKET, Key=key, Body=data)
    return s3_object_created(BUCKET, key, response["ETag"].strip('"'), AT)


def run(aws: dict[str, Any], context: Any, event: dict[str, Any], receive_count: int = 1) -> list[dict[str, Any]]:
    """Deliver the S3 event, then every queued chunk (as the SQS event source would), until none is left."""
    files = lambda_handler(event, context)["files"]
    while (
        messages := aws["sqs"].receive_message(QueueUrl=aws["ingest_queue_url"], MaxNumberOfMessages=1).get("Messages")
    ):
        (message,) = messages
        response = lambda_handler(sqs_event([message["Body"]], AT, receive_count), context)
        assert response["batchItemFailures"] == []
        aws["sqs"].delete_message(QueueUrl=aws["ingest_queue_url"], ReceiptHandle=message["ReceiptHandle"])
    return files


def summary_of(aws: dict[str, Any], upload_id: str) -> dict[str, Any]:
    upload = uploads.get(upload_id)
    assert upload is not None
    body = aws["s3"].get_object(Bucket=BUCKET, Key=upload.report_prefix + "summary.json")["Body"].read()
    return json.loads(body)


def rejected_rows(aws: dict[str, Any], summary: dict[str, Any]) -> list[dict[str, str]]:
    body = aws["s3"].get_object(Bucket=BUCKET, Key=summary["rejected_rows"])["Body"].read().decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_valid_rows_become_accounts_and_every_rejected_row_is_reported(aws, context, lender) -> None:
    (file,) = run(aws, context, put(aws, "portfolios/acme/march 2026.csv", PORTFOLIO))

    summary = summary_of(aws, file["upload_id"])
    assert (summary["status"], summary["total"], summary["accepted"], summary["rejected"]) == ("completed", 4, 2, 2)
    assert summary["total"] == summary["accepted"] + summary["rejected"]
    assert summary["accepted_by_outcome"] == {"new": 2, "updated": 0, "unchanged": 0}
    dana = accounts.get("acme#R-1")
    assert dana is not None and dana.balance.total.minor == 15350
    assert dana.next_contact_at == AT  # past due: due at once
    luis = accounts.get("acme#R-2")
    assert luis is not None and luis.next_contact_at == parse_utc("2026-04-25T13:00:00Z")  # pre-due, 09:00 AST
    assert accounts.get("acme#R-3") is None

    rows = rejected_rows(aws, summary)
    assert [(row["line"], row["external_ref"], row["email"]) for row in rows] == [
        ("4", "R-3", "bad@"),
        ("5", "R-4", "nodue@example.com"),
    ]
    assert "There must be something after the @-sign" in rows[0]["reasons"]
    assert "phone '12'" in rows[1]["reasons"] and "due_date is required" in rows[1]["reasons"]  # every reason
    (completed,) = events.history("lender#acme")
    assert (completed.type, completed.detail["accepted"]) == ("upload_completed", 2)


def test_a_redelivered_event_or_the_same_file_again_changes_nothing(aws, context, lender) -> None:
    event = put(aws, "portfolios/acme/p.csv", PORTFOLIO)
    (first,) = run(aws, context, event)
    before = AccountModel.get("acme#R-1").updated_at
    (again,) = run(aws, context, event)
    assert again["status"] == "duplicate"
    (copy,) = run(aws, context, put(aws, "portfolios/acme/p-copy.csv", PORTFOLIO))
    assert summary_of(aws, copy["upload_id"])["accepted_by_outcome"] == {"new": 0, "updated": 0, "unchanged": 2}
    assert AccountModel.get("acme#R-1").updated_at == before  # not even rewritten


def test_a_new_balance_never_overwrites_what_happened_through_cleardue(aws, context, lender) -> None:
    run(aws, context, put(aws, "portfolios/acme/p.csv", PORTFOLIO))
    AccountModel("acme#R-1").update(
        actions=[
            AccountModel.status.set("paid"),
            AccountModel.contacts_sent.set(4),
            AccountModel.flags.add({"dispute"}),
        ]
    )
    (file,) = run(aws, context, put(aws, "portfolios/acme/p.csv", PORTFOLIO.replace("120.00,8.50", "100.00,8.50")))

    assert summary_of(aws, file["upload_id"])["accepted_by_outcome"] == {"new": 0, "updated": 1, "unchanged": 1}
    dana = accounts.get("acme#R-1")
    assert dana is not None
    assert dana.balance.principal.minor == 10000  # the lender's fact
    assert (dana.status, dana.contacts_sent, dana.flags) == ("paid", 4, {Flag.DISPUTE})  # cleardue's history


def test_a_recall_flag_suppresses_the_account(aws, context, lender) -> None:
    run(aws, context, put(aws, "portfolios/acme/p.csv", PORTFOLIO))
    recalled = PORTFOLIO.replace("2026-02-20,\r\n", "2026-02-20,yes\r\n", 1)
    run(aws, context, put(aws, "portfolios/acme/p.csv", recalled))
    dana = accounts.get("acme#R-1")
    assert dana is not None and dana.flags == {Flag.RECALLED}
    assert not dana.is_collectible and dana.next_contact_at is None  # out of the due index


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "the file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ((HEADER + "R-1,Zoë,z@example.com,,,,USD,1,0,0,2026-01-01,\r\n").encode("latin-1"), "line 2 is not UTF-8"),
        (b"id,who\n1,2\n", "missing required column(s): external_ref, name, principal, due_date"),
    ],
)
def test_a_bad_file_fails_the_upload_with_a_clear_report(aws, context, lender, body: bytes, reason: str) -> None:
    (file,) = run(aws, context, put(aws, "portfolios/acme/bad.csv", body))
    summary = summary_of(aws, file["upload_id"])
    assert summary["status"] == "failed" and reason in summary["error"]
    record = uploads.get(file["upload_id"])
    assert record is not None and record.status == "failed"
    assert events.history("lender#acme")[-1].type == "upload_failed"


def test_a_portfolio_for_an_unknown_lender_fails(aws, context) -> None:
    (file,) = run(aws, context, put(aws, "portfolios/nobody/p.csv", PORTFOLIO))
    assert file["status"] == "failed"
    assert "unknown lender 'nobody'" in summary_of(aws, file["upload_id"])["error"]
    assert accounts.get("nobody#R-1") is None


def test_policy_files_are_validated_and_a_bad_one_leaves_the_previous_in_force(aws, context) -> None:
    yaml_policy = "creditor_name: Zeta Bank\ncurrency: EUR\ntimezone: Europe/Madrid\ncountry: ES\ncadence_days: 4\n"
    (accepted,) = run(aws, context, put(aws, "lenders/zeta/policy.yaml", yaml_policy))
    assert accepted["status"] == "accepted"
    (rejected,) = run(aws, context, put(aws, "lenders/zeta/policy.yaml", "creditor_name: Zeta\ncurrency: EURO\n"))
    assert rejected["status"] == "rejected"
    assert any("currency" in error for error in rejected["errors"])
    profile = lenders.get("zeta")
    assert profile is not None and (profile.currency, profile.cadence_days) == ("EUR", 4)
    (mismatch,) = run(
        aws, context, put(aws, "lenders/zeta/policy.json", '{"lender_id": "other", "creditor_name": "X"}')
    )
    assert mismatch["status"] == "rejected"
    assert [e.type for e in events.history("lender#zeta")] == ["policy_updated", "policy_rejected", "policy_rejected"]


def test_small_time_budgets_checkpoint_and_continue_with_nothing_lost(aws, context, lender, monkeypatch) -> None:
    monkeypatch.setenv("INGEST_CHUNK_SECONDS", "0.001")  # every chunk stops after its first row
    rows = "".join(
        f"C-{n},Debtor {n},d{n}@example.com,,America/Chicago,en,USD,{n}.00,0,0,2026-02-20,\r\n" for n in range(1, 31)
    )
    bad = "C-X,No Amount,x@example.com,,America/Chicago,en,USD,,0,0,2026-02-20,\r\n"
    duplicate = "C-5,Again,again@example.com,,America/Chicago,en,USD,5.00,0,0,2026-02-20,\r\n"
    (file,) = run(aws, context, put(aws, "portfolios/acme/big.csv", HEADER + rows + bad + duplicate))

    summary = summary_of(aws, file["upload_id"])
    assert summary["chunks"] >= 10
    assert (summary["total"], summary["accepted"], summary["rejected"]) == (32, 30, 2)
    assert [row["line"] for row in rejected_rows(aws, summary)] == ["32", "33"]
    duplicated = rejected_rows(aws, summary)[1]
    assert "duplicate external_ref 'C-5'" in duplicated["reasons"]
    # Caught in a later chunk than the first C-5, and still reported with its raw row.
    assert (duplicated["external_ref"], duplicated["name"], duplicated["email"]) == (
        "C-5",
        "Again",
        "again@example.com",
    )
    assert accounts.get("acme#C-30") is not None


def test_a_replayed_chunk_counts_and_writes_each_row_once(aws, context, lender) -> None:
    event = put(aws, "portfolios/acme/p.csv", PORTFOLIO)
    (file,) = lambda_handler(event, context)["files"]
    (message,) = aws["sqs"].receive_message(QueueUrl=aws["ingest_queue_url"])["Messages"]
    upload_id = file["upload_id"]
    ingestion_checkpoint = uploads.checkpoint
    uploads.checkpoint = lambda upload, previous: False  # the first try dies before its checkpoint
    try:
        lambda_handler(sqs_event([message["Body"]], AT), context)
    finally:
        uploads.checkpoint = ingestion_checkpoint
    assert uploads.get(upload_id).offset == 0
    lambda_handler(sqs_event([message["Body"]], AT + timedelta(minutes=16), receive_count=2), context)
    summary = summary_of(aws, upload_id)
    assert (summary["total"], summary["accepted"], summary["rejected"]) == (4, 2, 2)
    assert summary["accepted_by_outcome"]["new"] == 2


def test_a_poison_chunk_message_is_reported_failed_for_the_dlq(aws, context, lender) -> None:
    response = lambda_handler(sqs_event(['{"upload_id": "nope"}'], AT), context)
    assert response["batchItemFailures"] == [{"itemIdentifier": "msg-0"}]


def test_identity_facts_are_stored_only_as_keyed_hashes(aws, context, lender) -> None:
    body = "ref,name,email,dob,principal,due_date\nV-1,Vera Lind,vera@example.com,1980-05-17,10,2026-02-20\n"
    run(aws, context, put(aws, "portfolios/acme/v.csv", body))
    item = AccountModel.get("acme#V-1")
    stored = json.dumps(item.serialize())
    assert "1980" not in stored
    from functions.core.verification import fact_matches

    assert fact_matches(FACT_KEY, "acme#V-1", "date_of_birth", "1980-05-17", item.verification["date_of_birth"])


def test_an_unclosed_quote_that_swallows_the_file_fails_it_with_a_reason(aws, context, lender) -> None:
    runaway = HEADER + 'R-1,"Dana Reyes,dana@example.com\r\n' + ("x" * 200 + "\r\n") * 1000
    (file,) = run(aws, context, put(aws, "portfolios/acme/runaway.csv", runaway))
    summary = summary_of(aws, file["upload_id"])
    assert summary["status"] == "failed" and "field larger than field limit" in summary["error"]


def test_a_reupload_never_bills_again_a_payment_the_lender_has_not_heard_of(aws, context, lender) -> None:
    from functions.core import payments
    from functions.core.account import AccountStatus
    from functions.core.money import Money

    run(aws, context, put(aws, "portfolios/acme/p.csv", PORTFOLIO))
    placed = accounts.get("acme#R-1")  # 120.00 + 8.50 + 25.00 = 153.50
    paid_at = AT + timedelta(days=1)
    fact = payments.PaymentFact("pi_1", Money(5_000, "USD"), paid_at)
    assert accounts.save_state(placed, payments.apply_payment(placed, fact), paid_at, 4)
    assert accounts.get("acme#R-1").balance.total.minor == 10_350

    # The lender's next file still has its old figures plus a 5.00 fee, and no word of the payment.
    newer = PORTFOLIO.replace("120.00,8.50,25.00", "120.00,8.50,30.00")
    (file,) = run(aws, context, put(aws, "portfolios/acme/p.csv", newer))
    assert summary_of(aws, file["upload_id"])["accepted_by_outcome"] == {"new": 0, "updated": 1, "unchanged": 1}
    dana = accounts.get("acme#R-1")
    assert dana.balance.total.minor == 15_850 - 5_000 and dana.status is AccountStatus.ACTIVE
    assert [p.payment_id for p in dana.payments] == ["pi_1"] and dana.version == placed.version + 2

    # A file that knows of it (last payment on that day, the balance net of it) is taken as it is.
    header = HEADER.replace(",recalled", ",recalled,last_payment_date,last_payment_amount")
    known = (
        PORTFOLIO.replace(HEADER, header)
        .replace("120.00,8.50,25.00,2026-02-20,\r\n", "103.50,0,0,2026-02-20,,2026-03-09,50.00\r\n")
        .replace("2026-04-30,no\r\n", "2026-04-30,no,,\r\n")
    )
    run(aws, context, put(aws, "portfolios/acme/p.csv", known))
    assert accounts.get("acme#R-1").balance.total.minor == 10_350

    # One that says everything is paid (the debtor paid the lender directly) closes it as paid.
    cleared = known.replace("103.50,0,0,", "0,0,0,")
    run(aws, context, put(aws, "portfolios/acme/p.csv", cleared))
    done = accounts.get("acme#R-1")
    assert done.balance.total.minor == 0 and done.status is AccountStatus.PAID and done.next_contact_at is None


def test_an_event_redelivered_after_the_first_chunk_could_not_be_queued_resumes_the_upload(
    aws, context, lender, monkeypatch
) -> None:
    # Given S3's first delivery recorded the upload, then SQS failed to take its first chunk (the invocation failed)
    from botocore.exceptions import EndpointConnectionError

    from functions.ingest import handler

    event = put(aws, "portfolios/acme/p.csv", PORTFOLIO)
    sqs = handler._runtime()[2]
    with monkeypatch.context() as patched:
        patched.setattr(
            sqs, "send_message", lambda **_: (_ for _ in ()).throw(EndpointConnectionError(endpoint_url="x"))
        )
        with pytest.raises(EndpointConnectionError):
            lambda_handler(event, context)

    # When S3 retries the invocation with the same event
    (file,) = run(aws, context, event)

    # Then the upload is not taken for a duplicate and left processing forever: it completes
    assert file["status"] == "queued"
    assert summary_of(aws, file["upload_id"])["accepted"] == 2
