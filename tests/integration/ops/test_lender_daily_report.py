"""A lender's status shows its latest daily report (docs/reports.md): the date from reports/<lender>/latest.json
and 15-minute pre-signed links to its files, all under its own prefix; before the first one, none; another
lender's daily report never shows; a pointer whose date is not a date is ignored."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlsplit

import boto3
import requests

from functions.core.lender import LenderProfile
from functions.ops import lenders as ops_lenders
from functions.reports import service
from functions.store import lenders
from local.lambda_events import ACCOUNT_ID
from tests.integration.reports.portfolio import records

from .conftest import BUCKET, NOW, Client

READER = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/cleardue-lender-dailyco/reports"


def test_the_daily_report_files_ops_offers_are_the_ones_the_reports_function_writes() -> None:
    assert ops_lenders.DAILY_REPORT_FILES == service.REPORT_FILES
    assert ops_lenders.DAILY_REPORT_POINTER == service.LATEST
    assert not ops_lenders.UPLOAD_ID.match("2026-03-08") and not ops_lenders.REPORT_DATE.match("u-0123456789abcdef")


def test_a_lender_sees_its_latest_daily_report_with_short_lived_links(client: Client) -> None:
    lenders.put(LenderProfile(lender_id="dailyco", creditor_name="Daily Co"))
    reader = Client(NOW, READER)
    assert reader.request("GET", "/lenders/dailyco/status").body["latest_daily_report"] is None

    s3 = boto3.client("s3")
    for day in (2, 1):  # yesterday's report, then an older rerun: the pointer stays on the latest
        written = service.build_report(records("dailyco", 3), NOW - timedelta(days=day), lender_id="dailyco")
        service.write_report(written, s3=s3, bucket=BUCKET)
    other = service.build_report(records("otherco", 2), NOW, lender_id="otherco")
    service.write_report(other, s3=s3, bucket=BUCKET)

    daily = reader.request("GET", "/lenders/dailyco/status").body["latest_daily_report"]

    day = (NOW - timedelta(days=1)).date().isoformat()
    assert daily["date"] == day and daily["expires_in_seconds"] == 900
    assert [f["name"] for f in daily["files"]] == list(service.REPORT_FILES)
    for file in daily["files"]:
        assert file["key"] == f"reports/dailyco/{day}/{file['name']}"
        assert urlsplit(file["url"]).path.endswith(file["key"])
    page = requests.get(daily["files"][0]["url"], timeout=5)  # moto answers the pre-signed GET
    assert page.status_code == 200 and page.text.startswith("<!doctype html>")


def test_a_pointer_without_a_real_date_is_ignored(client: Client) -> None:
    lenders.put(LenderProfile(lender_id="oddco", creditor_name="Odd Co"))
    pointer = {"date": "../acme/2026-03-08", "files": ["report.html"]}
    boto3.client("s3").put_object(Bucket=BUCKET, Key="reports/oddco/latest.json", Body=json.dumps(pointer).encode())

    reply = Client(NOW, f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/cleardue-lender-oddco/reports").request(
        "GET", "/lenders/oddco/status"
    )

    assert reply.status == 200 and reply.body["latest_daily_report"] is None
