"""`cleardue up`: the local stack running the real handlers on a (virtual) clock."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import yaml

from functions import names
from functions.charger.handler import lambda_handler as charger_handler
from functions.core import links
from functions.core.account import Account
from functions.core.clock import ensure_utc, floor_to_slot, iso_utc
from functions.core.lender import LenderProfile
from functions.ingest.handler import lambda_handler as ingest_handler
from functions.scheduler.handler import lambda_handler as scheduler_handler
from functions.sender.handler import email_handler, sms_handler
from functions.store import accounts, uploads
from functions.store.accounts import AccountModel
from functions.store.uploads import UploadStatus
from local.lambda_events import LocalLambdaContext, scheduled_event
from local.pumps import S3NotificationPump, SqsPump
from local.stack import LINK_KEY_SECRET, PORTFOLIO_BUCKET, LocalStack

SCHEDULE_EVERY = timedelta(minutes=15)
SCHEDULE_RULE_ARN = "arn:aws:events:us-east-1:123456789012:rule/cleardue-schedule"
SAMPLE_DIR = Path(__file__).parent
SAMPLE_PORTFOLIO = SAMPLE_DIR / "sample_portfolio.csv"
SAMPLE_LENDER = SAMPLE_DIR / "sample_lender.json"


class VirtualClock:
    """Real time by default; `speed` virtual seconds pass per real second; `start` sets the origin."""

    def __init__(self, start: datetime | None = None, speed: float = 1.0) -> None:
        self._origin = ensure_utc(start) if start else datetime.now(UTC)
        self._speed = speed
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self._origin + timedelta(seconds=(time.monotonic() - self._t0) * self._speed)

    def real_seconds_until(self, moment: datetime) -> float:
        return max(0.0, (moment - self.now()).total_seconds() / self._speed)


def _births(portfolio: Path) -> dict[str, str]:
    """external_ref -> date_of_birth of a portfolio file, when it has both columns (demo links only)."""
    with portfolio.open(encoding="utf-8-sig", newline="") as handle:
        rows = csv.DictReader(handle)
        if not rows.fieldnames or not {"external_ref", "date_of_birth"} <= set(rows.fieldnames):
            return {}
        return {row["external_ref"]: row["date_of_birth"] for row in rows if row.get("date_of_birth")}


def _mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}•••@{domain}"


@dataclass
class CycleReport:
    at: datetime
    uploads: list[dict[str, Any]] = field(default_factory=list)
    schedule: dict[str, Any] | None = None
    emails: list[dict[str, Any]] = field(default_factory=list)
    texts: list[dict[str, str]] = field(default_factory=list)
    send_failures: int = 0
    charges: int = 0  # installment charge jobs the charger handled (Stripe's answers arrive by webhook)
    charge_failures: int = 0


class LocalRunner:
    def __init__(self, stack: LocalStack, clock: VirtualClock, out: Callable[[str], None] = print) -> None:
        self.stack = stack
        self.clock = clock
        self.out = out
        self.quiet_idle_ticks = False  # the long-running loop prints only ticks that found something due
        sqs = boto3.client("sqs")
        self._s3 = boto3.client("s3")
        assert stack.email is not None
        assert stack.ingest is not None
        self._ingest = S3NotificationPump(sqs, stack.notifications_url, self._logged(ingest_handler), "cleardue-ingest")
        self._chunks = SqsPump(sqs, stack.ingest.url, stack.ingest.arn, self._logged(ingest_handler), "cleardue-ingest")
        self._uploads_in_flight: list[str] = []
        self._email = SqsPump(sqs, stack.email.url, stack.email.arn, self._logged(email_handler), "cleardue-sender")
        assert stack.sms is not None
        self._sms = SqsPump(sqs, stack.sms.url, stack.sms.arn, self._logged(sms_handler), "cleardue-sms-sender")
        assert stack.charges is not None
        # Plan installments: the charger reaches Stripe (the emulator `cleardue up` starts; STRIPE_* in the env).
        self._charges = SqsPump(
            sqs, stack.charges.url, stack.charges.arn, self._logged(charger_handler), "cleardue-charger"
        )
        self._texts_seen = len(stack.sent_texts())
        self._scheduler = self._logged(scheduler_handler)
        self._emails_seen = len(stack.sent_emails())
        self._demo_births: dict[str, str] = {}  # external_ref -> date of birth, to print with demo pay links

    def _logged(self, handler: Callable[[dict[str, Any], Any], Any]) -> Callable[[dict[str, Any], Any], Any]:
        def invoke(event: dict[str, Any], context: Any) -> Any:
            with self.stack.function_output():
                return handler(event, context)

        return invoke

    def load_lender(self, policy: Path, at: datetime) -> LenderProfile:
        """Upload the lender's policy file as a lender would, and let ingest apply it now."""
        text = policy.read_text(encoding="utf-8")
        document = json.loads(text) if policy.suffix == ".json" else yaml.safe_load(text)
        profile = LenderProfile.model_validate(document)  # fail early, with pydantic's message
        key = f"{names.POLICY_PREFIX}{profile.lender_id}/policy{policy.suffix}"
        self._s3.put_object(Bucket=PORTFOLIO_BUCKET, Key=key, Body=text.encode("utf-8"))
        for result in self._ingest.drain(at).results:
            for file in result.get("files", []):
                self.out(f"policy {key}: {file['status']} {file.get('errors') or ''}".rstrip())
        if profile.sender_email:
            self.stack.verify_sender(str(profile.sender_email))
        return profile

    def upload_portfolio(self, portfolio: Path, lender_id: str) -> str:
        key = f"portfolios/{lender_id}/{portfolio.name}"
        self._demo_births.update(_births(portfolio))
        self._s3.put_object(Bucket=PORTFOLIO_BUCKET, Key=key, Body=portfolio.read_bytes(), ContentType="text/csv")
        self.out(f"uploaded s3://{PORTFOLIO_BUCKET}/{key}")
        return key

    def cycle(self, at: datetime, schedule: bool = True) -> CycleReport:
        """Ingest what arrived, run the scheduler for the tick at `at` (if `schedule`), send what is queued."""
        report = CycleReport(at=at)
        for result in self._ingest.drain(at).results:
            for file in result.get("files", []):
                if file["kind"] == "portfolio" and file["status"] == "queued":
                    self._uploads_in_flight.append(file["upload_id"])
                elif file["kind"] != "portfolio" or file["status"] != "duplicate":
                    report.uploads.append(file)
        while self._chunks.drain(at).processed:
            pass  # a chunk that stops at its time budget queues the next one
        report.uploads.extend(self._finished_uploads())
        if schedule:
            report.schedule = self._scheduler(
                scheduled_event(at, SCHEDULE_RULE_ARN), LocalLambdaContext("cleardue-scheduler")
            )
        charged = self._charges.drain(at)
        report.charges, report.charge_failures = charged.processed, charged.failed
        sent = self._email.drain(at)
        texted = self._sms.drain(at)
        report.send_failures = sent.failed + texted.failed
        if sent.processed:  # moto's inspection API serialises its whole state: ask only when worth it
            emails = self.stack.sent_emails()
            report.emails = emails[self._emails_seen :]
            self._emails_seen = len(emails)
        if texted.processed:
            texts = self.stack.sent_texts()
            report.texts = texts[self._texts_seen :]
            self._texts_seen = len(texts)
        self._print(report)
        return report

    def pay_links(self, lender_id: str, portal_url: str, count: int) -> list[tuple[Account, str, str | None]]:
        """Signed pay links for the lender's first `count` accounts, with the demo date of birth if known."""
        key = boto3.client("secretsmanager").get_secret_value(SecretId=LINK_KEY_SECRET)["SecretString"].encode()
        found: list[tuple[Account, str, str | None]] = []
        for item in AccountModel.by_lender_index.query(lender_id, limit=max(count * 3, 10)):
            account = accounts.get(item.account_id)
            if account is None or account.link_ref is None or not account.is_collectible:
                continue
            link = links.pay_url(portal_url, links.sign(account.link_ref, self.clock.now(), key))
            found.append((account, link, self._demo_births.get(account.external_ref)))
            if len(found) == count:
                break
        return found

    def run_forever(self) -> None:
        self.quiet_idle_ticks = True
        next_tick = self.clock.now()
        while True:
            now = self.clock.now()
            due = now >= next_tick
            self.cycle(next_tick if due else now, schedule=due)
            if due:
                next_tick = floor_to_slot(next_tick) + SCHEDULE_EVERY
            time.sleep(min(1.0, self.clock.real_seconds_until(next_tick)))

    def _finished_uploads(self) -> list[dict[str, Any]]:
        finished = []
        for upload_id in list(self._uploads_in_flight):
            upload = uploads.get(upload_id)
            if upload is None or upload.status is UploadStatus.PROCESSING:
                continue
            self._uploads_in_flight.remove(upload_id)
            key = upload.report_prefix + "summary.json"
            finished.append(json.loads(self._s3.get_object(Bucket=PORTFOLIO_BUCKET, Key=key)["Body"].read()))
        return finished

    def _print(self, report: CycleReport) -> None:
        stamp = f"[{iso_utc(report.at)}]"
        for upload in report.uploads:
            if upload["status"] != "completed":
                reason = upload.get("error") or upload.get("reason") or ""
                self.out(f"{stamp} {upload.get('key') or upload.get('kind')}: {upload['status']} {reason}".rstrip())
                continue
            by_outcome = upload["accepted_by_outcome"]
            self.out(
                f"{stamp} portfolio ingested: {upload['total']} rows, {upload['accepted']} accepted "
                f"({by_outcome['new']} new, {by_outcome['updated']} updated, {by_outcome['unchanged']} unchanged), "
                f"{upload['rejected']} rejected; report s3://{PORTFOLIO_BUCKET}/{upload['rejected_rows']}"
            )
            for line in self._rejections(upload["rejected_rows"]):
                self.out(f"    rejected {line}")
        if report.schedule is not None and (report.schedule["due"] or not self.quiet_idle_ticks):
            s = report.schedule
            self.out(
                f"{stamp} scheduler: {s['due']} due, {s['enqueued']} jobs enqueued, {s['waiting']} waiting for "
                f"their stage, {s['held']} held by a compliance rule until allowed, {s['stopped']} stopped"
            )
        if report.charges or report.charge_failures:
            self.out(
                f"{stamp} charger: {report.charges} installment charge job(s) handled"
                + (f", {report.charge_failures} failed and will be retried" if report.charge_failures else "")
            )
        for email in report.emails:
            to = ", ".join(_mask_email(address) for address in email["destinations"]["ToAddresses"])
            self.out(f"{stamp} email sent to {to}: {email['subject']}")
        for text in report.texts:
            self.out(f"{stamp} text sent to {text['phone'][:-4]}••••: {text['message'][:60]}…")
        if report.send_failures:
            self.out(f"{stamp} sender: {report.send_failures} job(s) failed and will be retried")

    def _rejections(self, rejected_key: str) -> list[str]:
        body = self._s3.get_object(Bucket=PORTFOLIO_BUCKET, Key=rejected_key)["Body"].read().decode("utf-8")
        return [f"line {row['line']}: {row['reasons']}" for row in csv.DictReader(io.StringIO(body))]
