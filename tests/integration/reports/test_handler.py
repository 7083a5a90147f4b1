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
from functions.core import propensity
from functions.core.audit import AuditEvent, EventType
from functions.core.experiments import Choice
from functions.core.lender import LenderProfile
from functions.core.money import Money
from functions.core.payments import PaymentFact, apply_payment
from functions.reports import handler as reports_handler
from functions.reports import service
from functions.reports.settings import ReportsSettings
from functions.store import StoreError, accounts, events, learning, lenders
from functions.store import experiments as experiment_store
from tests.conftest import BUCKET
from tests.events.factories import make_account, place, scheduled_event
from tests.integration.reports.portfolio import AS_OF, PLACED, REPORT_DAY, SEGMENT, at

PII = ("Dana Reyes", "dana.reyes@example.com", "+13125550147")


@pytest.fixture
def reports(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv(names.ENV_PORTFOLIO_BUCKET, BUCKET)
    monkeypatch.setenv(names.ENV_PROPENSITY_MODEL, f"s3://{BUCKET}/{names.PROPENSITY_MODEL_KEY}")  # as deployed
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
    # Responses the webhooks counted in acme's send-time priors (local hour of week: Tuesday 10:00, 10:00, 19:00
    # by email; a Saturday 23:00 portal visit, outside the contact window).
    for segment, hour_of_week in (
        ("early#1#email", 34),
        ("early#1#email", 34),
        ("early#1#email", 43),
        ("early#1#any", 143),
    ):
        learning.add_response("acme", segment, hour_of_week)
    return ids


def read(s3: Any, key: str) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def test_the_daily_schedule_writes_each_lenders_report_to_s3(reports: Any, context: Any) -> None:
    given_two_lenders()

    result = reports_handler.lambda_handler(scheduled_event(AS_OF), context)

    prefix = f"reports/acme/{REPORT_DAY}/"
    assert result["written"] == {"acme": prefix, "thirdco": f"reports/thirdco/{REPORT_DAY}/"}
    keys = {o["Key"] for o in reports.list_objects_v2(Bucket=BUCKET, Prefix="reports/acme/")["Contents"]}
    expected = {"report.html", "kpis.csv", "daily.csv", "messages.csv", "funnel.csv", "experiments.csv", "sendtime.csv"}
    expected |= {"model.csv", "summary.json"}
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
    # What cleardue learned: the send-time priors by the debtor's local hour, and the (shipped) model's evaluation
    assert 'id="h-learned"' in page and 'data-chart="sendtime"' in page and 'data-chart="calibration"' in page
    assert 'id="sendtime"' in page and 'id="reliability"' in page and "never decides whether an account" in page
    learned = list(csv.DictReader(io.StringIO(read(reports, prefix + "sendtime.csv").decode())))
    assert {(r["segment"], r["hour_of_week"], r["weekday"], r["hour"], r["count"]) for r in learned} == {
        ("early#1#email", "34", "Tue", "10", "2"),
        ("early#1#email", "43", "Tue", "19", "1"),
        ("early#1#any", "143", "Sat", "23", "1"),
    }
    model = {
        (r["metric"], r["key"]): r["value"]
        for r in csv.DictReader(io.StringIO(read(reports, prefix + "model.csv").decode()))
    }
    shipped = propensity.default_model()
    assert model[("version", "")] == shipped.version and model[("auc", "")] == str(shipped.evaluation["auc"])
    assert model[("source", "")].startswith(service.SHIPPED_MODEL)  # nothing published at the configured key yet
    assert ("bin_observed", "0.9-1.0") in model
    latest = json.loads(read(reports, "reports/acme/latest.json"))
    assert latest["date"] == REPORT_DAY and latest["prefix"] == prefix and "report.html" in latest["files"]
    summary = json.loads(read(reports, prefix + "summary.json"))
    assert summary["violations"] == 0 and summary["accounts"] == 3
    assert summary["sendtime_responses"] == 4 and summary["model_version"] == shipped.version

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


def test_unreadable_priors_or_model_leave_the_section_not_available_and_the_report_written(
    reports: Any, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    given_two_lenders()
    reports.put_object(Bucket=BUCKET, Key=names.PROPENSITY_MODEL_KEY, Body=b"not a model")

    def unreadable(lender_id: str) -> dict[str, dict[int, int]]:
        raise StoreError("reading send-time priors failed: throttled")

    monkeypatch.setattr(learning, "prior_counts", unreadable)

    result = reports_handler.lambda_handler(scheduled_event(AS_OF), context)

    prefix = f"reports/acme/{REPORT_DAY}/"
    assert result["written"]["acme"] == prefix and not result["failed"]
    page = read(reports, prefix + "report.html").decode()
    assert 'id="sendtime-unavailable"' in page and 'id="model-unavailable"' in page
    assert 'data-chart="sendtime"' not in page and 'data-chart="calibration"' not in page
    assert read(reports, prefix + "sendtime.csv").decode() == "segment,hour_of_week,weekday,hour,count\n"
    assert read(reports, prefix + "model.csv").decode() == "metric,key,value\n"
    assert json.loads(read(reports, prefix + "summary.json"))["model_version"] is None


def test_a_published_model_is_the_one_shown(reports: Any) -> None:
    given_two_lenders()
    shipped = propensity.default_model().to_json()
    published = {**shipped, "version": "p-published0001", "training": {**shipped["training"], "examples": 1234}}
    reports.put_object(Bucket=BUCKET, Key=names.PROPENSITY_MODEL_KEY, Body=json.dumps(published).encode())

    # The location as deployed: PROPENSITY_MODEL in the function's environment, read by its settings.
    report = service.report_for_lender("acme", AS_OF, model_location=ReportsSettings.from_env().propensity_model)

    assert report.figures.model is not None and report.figures.model.version == "p-published0001"
    assert report.figures.model.source == f"s3://{BUCKET}/{names.PROPENSITY_MODEL_KEY}"
    assert "1,234 examples" in report.files["report.html"].decode()
