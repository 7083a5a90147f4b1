"""The daily reports function on moto: a real-shaped EventBridge scheduled event writes each lender's report
(HTML with charts, CSVs, summary.json) under reports/<lender>/<date>/ and the latest.json pointer; the report
holds only its own lender's accounts and none of the debtors' personal data."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest

from functions import names
from functions.core.audit import AuditEvent, EventType
from functions.core.experiments import Choice
from functions.core.lender import LenderProfile
from functions.core.money import Money
from functions.core.payments import PaymentFact, apply_payment
from functions.reports import handler as reports_handler
from functions.reports import service
from functions.store import accounts, events, lenders
from functions.store import experiments as experiment_store
from tests.conftest import BUCKET
from tests.events.factories import make_account, place, scheduled_event
from tests.integration.reports.portfolio import AS_OF, PLACED, REPORT_DAY, SEGMENT, at

PII = ("Dana Reyes", "dana.reyes@example.com", "+13125550147")


@pytest.fixture
def reports(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv(names.ENV_PORTFOLIO_BUCKET, BUCKET)
    reports_handler._runtime.cache_clear()
    yield aws["s3"]
    reports_handler._runtime.cache_clear()


def given_two_lenders() -> list[str]:
    """acme: three accounts, reminded (an experiment's variants), one paid; thirdco: one account, untouched."""
    for lender_id in ("acme", "thirdco"):
        lenders.put(LenderProfile.default_for(lender_id))
    ids = []
    for n in range(3):
        account = make_account(f"A-{n}", lender_id="acme")
        place(account, PLACED)
        ids.append(account.account_id)
        for day, variant in ((0, "a"), (3, "b")):
            decision = f"stage early; experiment: {SEGMENT} reminder/{variant} (warm-up)"
            events.append(
                AuditEvent(
                    account.account_id, at(day), EventType.REMINDER_SENT, f"job-{n}-{day}", "sender",
                    {"channel": "email", "template": "reminder", "variant": variant, "stage": "early",
                     "tone": "friendly", "decision": decision, "message_id": f"m-{n}-{day}"},
                )
            )  # fmt: skip
            experiment_store.add_exposure("acme", Choice(SEGMENT, "reminder", variant, "warm-up"))
    before = accounts.get(ids[0])
    assert before is not None
    after = apply_payment(before, PaymentFact("pi_1", Money(5_000, "USD"), at(4), source="checkout"))
    assert accounts.save_state(before, after, at(4), shards=4)
    payment = after.payments[-1]
    events.append(
        AuditEvent(
            ids[0], at(4), EventType.PAYMENT_APPLIED, "pi_1", "webhooks",
            {"payment": "pi_1", "amount_minor": 5_000, "currency": "USD", "fees_minor": payment.fees_minor,
             "interest_minor": payment.interest_minor, "principal_minor": payment.principal_minor,
             "status": after.status.value},
        )
    )  # fmt: skip
    place(make_account("T-1", lender_id="thirdco"), PLACED)
    return ids


def read(s3: Any, key: str) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def test_the_daily_schedule_writes_each_lenders_report_to_s3(reports: Any, context: Any) -> None:
    given_two_lenders()

    result = reports_handler.lambda_handler(scheduled_event(AS_OF), context)

    prefix = f"reports/acme/{REPORT_DAY}/"
    assert result["written"] == {"acme": prefix, "thirdco": f"reports/thirdco/{REPORT_DAY}/"}
    keys = {o["Key"] for o in reports.list_objects_v2(Bucket=BUCKET, Prefix="reports/acme/")["Contents"]}
    expected = {"report.html", "kpis.csv", "daily.csv", "messages.csv", "funnel.csv", "experiments.csv", "summary.json"}
    assert keys == {prefix + name for name in expected} | {"reports/acme/latest.json"}
    head = reports.head_object(Bucket=BUCKET, Key=prefix + "report.html")
    assert head["ContentType"].startswith("text/html")

    page = read(reports, prefix + "report.html").decode()
    assert page.count('<img class="chart"') >= 5 and 'id="kpis"' in page
    rows = list(csv.DictReader(io.StringIO(read(reports, prefix + "kpis.csv").decode())))
    overall = {(r["metric"], r["currency"]): r["value"] for r in rows if r["group"] == "all"}
    assert overall[("accounts", "")] == "3"  # only acme's
    assert overall[("messages", "")] == "6"
    assert overall[("collected_minor", "USD")] == "5000"
    standings = list(csv.DictReader(io.StringIO(read(reports, prefix + "experiments.csv").decode())))
    assert {(r["segment"], r["variant"], r["exposures"]) for r in standings if r["segment"] == SEGMENT} == {
        (SEGMENT, "a", "3"),
        (SEGMENT, "b", "3"),
    }
    latest = json.loads(read(reports, "reports/acme/latest.json"))
    assert latest["date"] == REPORT_DAY and latest["prefix"] == prefix and "report.html" in latest["files"]
    summary = json.loads(read(reports, prefix + "summary.json"))
    assert summary["violations"] == 0 and summary["accounts"] == 3

    for key in keys:  # the debtors' personal data never reaches the report
        body = read(reports, key).decode()
        assert not any(value in body for value in PII), key


def test_an_earlier_days_rerun_leaves_the_latest_pointer_alone(reports: Any, context: Any) -> None:
    given_two_lenders()
    reports_handler.lambda_handler(scheduled_event(AS_OF), context)

    earlier = AS_OF - timedelta(days=2)
    reports_handler.lambda_handler(scheduled_event(earlier), context)

    assert json.loads(read(reports, "reports/acme/latest.json"))["date"] == REPORT_DAY
    assert read(reports, f"reports/acme/{earlier.date().isoformat()}/report.html").startswith(b"<!doctype html>")


def test_reading_the_trails_with_one_scan_gives_the_same_report(reports: Any) -> None:
    given_two_lenders()

    by_query = service.report_for_lender("acme", AS_OF)
    by_scan = service.report_for_lender("acme", AS_OF, scan_trails=True)

    assert by_scan.files["kpis.csv"] == by_query.files["kpis.csv"]
    assert by_scan.files["daily.csv"] == by_query.files["daily.csv"]
    assert by_scan.figures.overall.messages == 6
