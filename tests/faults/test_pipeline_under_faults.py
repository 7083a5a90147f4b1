"""The whole local pipeline under injected faults: ingest -> schedule -> send -> pay -> webhook.

DynamoDB, SES, SNS and SQS requests fail at FAULT_RATE (default 0.2, seed FAULT_SEED) and the SDK's retries
(FAULT_SDK_ATTEMPTS, default 3 as botocore's standard mode) absorb what they can; the Stripe emulator answers
429 / 500 / a lost response at the same rate (local/faults.py). The harness plays AWS's part (S3 and EventBridge
retry a failed invocation, SQS redelivers and dead-letters after 5 receives, Stripe retries webhooks) without
faults, and checks at the end that nothing was lost or sent twice. Prints the run's counts (docs/faults.md).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from functions import names
from functions.core.audit import EventType
from local.faults import FaultInjector

pytestmark = pytest.mark.faults

FAULT_RATE = float(os.environ.get("FAULT_RATE", "0.2"))
FAULT_SEED = int(os.environ.get("FAULT_SEED", "11"))
# Attempts botocore makes before an error reaches the code (standard retry mode: 3); 1 = every fault reaches it.
SDK_ATTEMPTS = int(os.environ.get("FAULT_SDK_ATTEMPTS", "3"))
COPIES = int(os.environ.get("FAULT_COPIES", "3"))  # the sample portfolio, 3 times: 156 rows
PAYMENTS = 6
AT = datetime(2026, 3, 8, 19, 0, tzinfo=UTC)  # inside 08:00-21:00 in every sample time zone
LENDER = "northwind"
SAMPLES = Path(__file__).resolve().parents[2] / "local"
EVENTBRIDGE_AND_S3_ATTEMPTS = 3  # an asynchronous invocation: the first try and 2 retries
SETTLE_SECONDS = 40.0
PAY_ATTEMPTS = 5
WEBHOOK_TIMEOUT_MS = 1_000


def _portfolio(copies: int) -> tuple[str, int]:
    """The sample portfolio `copies` times over, each copy with its own references and addresses."""
    with (SAMPLES / "sample_portfolio.csv").open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        fields, rows = reader.fieldnames or [], list(reader)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for copy in range(copies):
        for row in rows:
            local, at, domain = row["email"].partition("@")
            email = f"{local}+{copy}@{domain}" if at and local and domain else row["email"]
            writer.writerow({**row, "external_ref": f"{row['external_ref']}-{copy}", "email": email})
    return out.getvalue(), copies * len(rows)


def _checkout(injector: FaultInjector, stripe: Any, account_id: str, amount: Any, tries: Counter[str]) -> Any:
    from functions.payments.stripe_gateway import PaymentsError

    for _ in range(PAY_ATTEMPTS):
        try:
            with injector.armed():
                return stripe.checkout_payment(
                    account_id=account_id, lender_id=LENDER, amount=amount, description="Your balance",
                    success_url="https://pay.example/ok", cancel_url="https://pay.example/no",
                    idempotency_key=f"pay:{account_id}:faults",
                )  # fmt: skip
        except PaymentsError as exc:
            if not exc.retryable:
                raise
            tries["debtor_pressed_pay_again"] += 1
    raise AssertionError(f"no checkout session for {account_id} after {PAY_ATTEMPTS} tries")


class _ShortContext:
    def __init__(self, function_name: str, remaining_ms: int) -> None:
        from local.lambda_events import LocalLambdaContext

        self._context = LocalLambdaContext(function_name)
        self._remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining_ms

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


class Harness:
    """The handlers wired as Lambda would invoke them, each invocation inside the injector's scope."""

    def __init__(self, stack: Any, injector: FaultInjector) -> None:
        from functions.charger.handler import lambda_handler as charger_handler
        from functions.ingest.handler import lambda_handler as ingest_handler
        from functions.scheduler.handler import lambda_handler as scheduler_handler
        from functions.sender.handler import email_handler, sms_handler
        from local.pumps import S3NotificationPump, SqsPump

        self.stack, self.injector = stack, injector
        self.sqs = boto3.client("sqs")
        self.redeliveries = 0  # SQS records received again after a failure
        self.handler_errors: list[str] = []  # the errors of the records the batch handlers failed
        self.invocation_failures: Counter[str] = Counter()  # S3 / EventBridge invocations that raised
        self.ingest = S3NotificationPump(self.sqs, stack.notifications_url, self.scoped(ingest_handler), "ingest")
        self.pumps = {
            "ingest": SqsPump(self.sqs, stack.ingest.url, stack.ingest.arn, self.scoped(ingest_handler), "ingest"),
            "charges": SqsPump(self.sqs, stack.charges.url, stack.charges.arn, self.scoped(charger_handler), "charger"),
            "email": SqsPump(self.sqs, stack.email.url, stack.email.arn, self.scoped(email_handler), "sender"),
            "sms": SqsPump(self.sqs, stack.sms.url, stack.sms.arn, self.scoped(sms_handler), "sms-sender"),
        }
        self.queues = {"ingest": stack.ingest, "charges": stack.charges, "email": stack.email, "sms": stack.sms}
        self.scheduler = self.scoped(scheduler_handler)
        # S3 -> Lambda is asynchronous: a failed invocation is tried again soon, not 30 s later.
        self.sqs.set_queue_attributes(QueueUrl=stack.notifications_url, Attributes={"VisibilityTimeout": "1"})

    def scoped(self, handler: Callable[..., Any], timeout_ms: int | None = None) -> Callable[..., Any]:
        """`timeout_ms`: the function's timeout as its context reports it (Powertools idempotency lets a retry
        run again once an invocation that died in progress has timed out)."""

        def invoke(event: dict[str, Any], context: Any) -> Any:
            if timeout_ms is not None:
                context = _ShortContext(context.function_name, timeout_ms)
            self.redeliveries += sum(
                int(record.get("attributes", {}).get("ApproximateReceiveCount", "1")) > 1
                for record in event.get("Records", [])
                if record.get("eventSource") == "aws:sqs"
            )
            with self.stack.function_output(), self.injector.armed():
                try:
                    return handler(event, context)
                finally:  # the records a batch handler failed, kept for the assertion messages
                    processor = getattr(sys.modules.get(handler.__module__), "processor", None)
                    for _, error, _ in getattr(processor, "exceptions", None) or []:
                        self.handler_errors.append(f"{handler.__module__}: {error!r}")

        return invoke

    def tick(self, at: datetime) -> dict[str, Any] | None:
        """EventBridge's scheduled invocation, retried as an asynchronous invocation is."""
        from local.lambda_events import LocalLambdaContext, scheduled_event
        from local.runner import SCHEDULE_RULE_ARN

        for _ in range(EVENTBRIDGE_AND_S3_ATTEMPTS):
            try:
                return self.scheduler(scheduled_event(at, SCHEDULE_RULE_ARN), LocalLambdaContext("scheduler"))
            except Exception:
                logging.getLogger("cleardue.faults").exception("the scheduler failed; EventBridge retries it")
                self.invocation_failures["scheduler"] += 1
        return None

    def in_flight(self, name: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queues[name].url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",  # a chunk that waits for the lender's lock is still work
            ],
        )["Attributes"]
        return sum(int(count) for count in attributes.values())

    def settle(self, at: datetime) -> None:
        """Run S3's and the queues' deliveries until every queue is empty (done or dead-lettered)."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while time.monotonic() < deadline:
            failed = self.ingest.drain(at).failed
            self.invocation_failures["ingest (S3 event)"] += failed
            for pump in self.pumps.values():
                pump.drain(at)
            waiting = sum(self.in_flight(name) for name in self.queues)
            notifications = self.sqs.get_queue_attributes(
                QueueUrl=self.stack.notifications_url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            waiting += sum(int(value) for value in notifications.values())
            if not waiting:
                return
            time.sleep(0.3)
        stuck = {name: self.in_flight(name) for name in self.queues}
        raise AssertionError(f"queues did not settle within {SETTLE_SECONDS} s: {stuck}")

    def dead_letters(self) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        for name, queue in self.queues.items():
            messages: dict[str, dict[str, Any]] = {}
            while batch := self.sqs.receive_message(
                QueueUrl=queue.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=60
            ).get("Messages", []):
                messages.update({m["MessageId"]: json.loads(m["Body"]) for m in batch})
            found[name] = list(messages.values())
        return found


def test_the_pipeline_loses_nothing_and_sends_nothing_twice_under_injected_faults(tmp_path: Path) -> None:
    from functions.charger import handler as charger
    from functions.core.money import Money
    from functions.ingest import handler as ingest
    from functions.payments.stripe_gateway import PaymentsGateway
    from functions.scheduler import handler as scheduler
    from functions.sender import handler as sender
    from functions.store import accounts, audit_reader
    from functions.webhooks import handler as webhooks
    from local.gateway import Gateway, portal_environment
    from local.stack import PORTFOLIO_BUCKET, running
    from local.stripe_emulator import StripeEmulator

    def reset() -> None:
        from aws_lambda_powertools.utilities import parameters

        for module in (charger, scheduler, sender, webhooks, ingest):
            module._runtime.cache_clear()
        parameters.clear_caches()  # the secrets provider's client may still point at an earlier test's moto server
        for channel_runtime in (sender._runtime,):
            channel_runtime.cache_clear()

    injector = FaultInjector(rate=FAULT_RATE, seed=FAULT_SEED, visibility_scale=60.0, sdk_attempts=SDK_ATTEMPTS)
    injector.install()  # before the stack creates a client: every botocore session gets the hook
    saved = dict(os.environ)
    try:
        with (
            running(tmp_path) as stack,
            # Stripe retries a failed delivery for three days; locally ten times within about 12 s.
            StripeEmulator(retry_delays=(0.05, 0.1, 0.2, 0.5, 1.0, 1.5, 2.0, 2.0, 2.0, 2.0)) as emulator,
            Gateway(webhooks_handler=None) as gateway,
        ):
            reset()
            harness = Harness(stack, injector)
            # Stripe retries a failed delivery hours apart, long after the function's timeout; locally the retries
            # come within seconds, so the function's timeout is scaled down with them.
            gateway.webhooks_handler = harness.scoped(webhooks.stripe_handler, timeout_ms=WEBHOOK_TIMEOUT_MS)
            emulator.set_webhook_url(f"{gateway.url}/webhooks/stripe")
            emulator.fault = injector.stripe_fault
            os.environ.update(portal_environment(gateway.url, emulator.base_url, emulator.webhook_secret))
            s3 = boto3.client("s3")

            # Given the sample lender's policy and a portfolio of 156 rows (9 of them invalid)
            policy = (SAMPLES / "sample_lender.json").read_text(encoding="utf-8")
            s3.put_object(Bucket=PORTFOLIO_BUCKET, Key=f"{names.POLICY_PREFIX}{LENDER}/policy.json", Body=policy)
            harness.settle(AT)
            stack.verify_sender(json.loads(policy)["sender_email"])
            text, rows = _portfolio(COPIES)
            s3.put_object(Bucket=PORTFOLIO_BUCKET, Key=f"portfolios/{LENDER}/march.csv", Body=text.encode())

            # When it is ingested, scheduled over a few ticks and sent, all under faults
            harness.settle(AT)
            ticks = [AT + timedelta(minutes=15 * n) for n in range(4)]
            for at in ticks:
                harness.tick(at)
                harness.settle(at)

            # Then the upload's summary counts every row
            summaries = [
                json.loads(s3.get_object(Bucket=PORTFOLIO_BUCKET, Key=item["Key"])["Body"].read())
                for item in s3.list_objects_v2(Bucket=PORTFOLIO_BUCKET, Prefix="reports/").get("Contents", [])
                if item["Key"].endswith("summary.json")
            ]
            completed = [found for found in summaries if "total" in found]  # the policy file has its own
            assert len(completed) == 1, (summaries, harness.dead_letters(), harness.handler_errors[-10:])
            [summary] = completed
            assert summary["status"] == "completed", summary
            assert summary["total"] == rows == summary["accepted"] + summary["rejected"], summary
            assert summary["rejected"] == 3 * COPIES

            # And the debtors of a few accounts pay through Stripe's hosted checkout (the portal's part, unfaulted)
            stripe = PaymentsGateway("sk_test_cleardue_local", emulator.base_url)
            paid_ids = [f"{LENDER}#NW-100231-{copy}" for copy in range(COPIES)][:PAYMENTS]
            paid_ids += [f"{LENDER}#NW-100268-{copy}" for copy in range(COPIES)][: PAYMENTS - len(paid_ids)]
            owed: dict[str, Money] = {}
            # The portal's Stripe call is code under test (functions/payments): faulted, and retried by the debtor
            # pressing Pay again when it answers "try again" (a retryable PaymentsError), with the same key.
            links, pay_again = [], Counter[str]()
            for account_id in paid_ids:
                account = accounts.get(account_id)
                assert account is not None
                owed[account_id] = account.balance.total
                links.append(_checkout(injector, stripe, account_id, account.balance.total, pay_again))
            form = {"email": "d@example.com", "cardnumber": "4242424242424242", "exp": "12/40", "cvc": "123"}
            for link in links:
                assert requests.post(link.url, data=form, allow_redirects=False, timeout=10).status_code == 303
            assert emulator.wait_for_webhooks(timeout=60)
            # Stripe's events carry the real time: receipts are due from now, sent in the debtors' window
            # (New York and Chicago) the next day.
            later = datetime.combine(datetime.now(UTC).date() + timedelta(days=1), datetime.min.time(), UTC)
            later += timedelta(hours=18)
            harness.settle(later)  # the receipts the webhooks queued
            # The next day's ticks, until one finds nothing left due (a tick that failed leaves its work due).
            for n in range(1, 6):
                at = later + timedelta(minutes=15 * n)
                passed = harness.tick(at)
                harness.settle(at)
                if n > 1 and passed is not None and passed["due"] == 0:
                    break

            # -- the verification reads: no handler runs, nothing is faulted -------------------------
            assert not injector.is_armed
            dead = harness.dead_letters()
            trails = {found.account_id: found for found in audit_reader.trails()}
            events = [event for found in trails.values() for event in found.events]
            reminders = [e for e in events if e.type is EventType.REMINDER_SENT]
            emails, texts = stack.sent_emails(), stack.sent_texts()
            deliveries = emulator.deliveries()

            # Nothing sent twice: one provider message per recorded send, one send per job id and channel.
            by_job = Counter((e.detail.get("job_id"), e.detail.get("channel")) for e in reminders)
            duplicated = sum(count - 1 for count in by_job.values() if count > 1)
            duplicated += max(0, len(emails) + len(texts) - len(reminders))
            assert duplicated == 0, (len(emails), len(texts), len(reminders), by_job.most_common(3))
            # Nothing recorded as sent that was not: every recorded send has its provider message.
            unsent = len(reminders) - len(emails) - len(texts)
            phantoms = [e.detail.get("job_id") for e in reminders if not e.detail.get("message_id")]
            assert unsent == 0, (unsent, len(reminders), len(emails), len(texts), phantoms[:5])
            # A send whose record was lost is recorded by its retry without the provider's id (message_id_unknown).
            email_records = [e for e in reminders if e.detail.get("channel") == "email"]
            known = {e.detail["message_id"] for e in email_records if e.detail.get("message_id")}
            unknown = [e for e in email_records if e.detail.get("message_id_unknown")]
            assert known <= {m["id"] for m in emails}
            assert len(known) + len(unknown) == len(email_records) == len(emails)

            # Nothing lost: every accepted account got its first reminder, or its job is in a DLQ.
            dead_jobs = {job.get("account_id") for name in ("email", "sms") for job in dead[name]}
            reminded = {e.account_id for e in reminders}
            rows_read = list(csv.DictReader(io.StringIO(text)))
            accepted = {
                f"{LENDER}#{r['external_ref']}" for r in rows_read if accounts.get(f"{LENDER}#{r['external_ref']}")
            }
            # Without faults every accepted account with an email address is emailed at the first tick (the sample's
            # phone-only debtor has no SMS consent): each of those must be reminded or have its job in a DLQ.
            emailable = {f"{LENDER}#{r['external_ref']}" for r in rows_read if r["email"]} & accepted
            assert len(accepted) == summary["accepted"]
            lost = sorted(emailable - reminded - dead_jobs)
            assert not lost, f"{len(lost)} accounts neither reminded nor dead-lettered: {lost[:5]}"
            # And the next day's reminder: every unpaid one of them got its second, or is still due, or is in a DLQ.
            per_account = Counter(e.account_id for e in reminders if e.detail.get("template") != "receipt")
            still_due = {
                account_id
                for account_id in emailable
                if (found := accounts.get(account_id)) is not None
                and found.next_contact_at is not None
                and found.next_contact_at <= at
            }
            second_lost = sorted(
                account_id
                for account_id in emailable - set(paid_ids) - dead_jobs - still_due
                if per_account[account_id] < 2
            )
            lost.extend(second_lost)
            assert not second_lost, (
                f"{len(second_lost)} next-stage reminders neither sent, due nor DLQ'd: {second_lost[:5]}"
            )
            assert not (reminded & dead_jobs - {j.get("account_id") for j in dead["email"] if j.get("template")})

            # Each payment applied exactly once.
            for account_id in paid_ids:
                account = accounts.get(account_id)
                applied = [e for e in trails[account_id].events if e.type is EventType.PAYMENT_APPLIED]
                assert len(applied) == 1, (account_id, [e.detail for e in applied])
                assert account is not None and account.balance.total.minor == 0, (account_id, owed[account_id])
            assert all(d["delivered"] for d in deliveries if d["final"]), [d for d in deliveries if not d["delivered"]]

            # The trail verifies.
            breaks = [str(b) for found in trails.values() for b in found.verify()]
            assert not breaks, breaks[:5]

            webhook_retries = sum(1 for d in deliveries if d["attempt"] > 1)
            report = {
                "rate": FAULT_RATE,
                "seed": FAULT_SEED,
                "rows": rows,
                "accepted": summary["accepted"],
                "jobs": len(by_job) + sum(len(dead[name]) for name in ("email", "sms")),
                "emails": len(emails),
                "texts": len(texts),
                "payments": len(paid_ids),
                "sends_recorded_by_their_retry": len(unknown),
                "calls_seen": dict(injector.calls),
                "sdk_attempts": SDK_ATTEMPTS,
                "faults_reaching_the_code": injector.by_service(),
                "faults_absorbed_by_sdk_retries": dict(injector.sdk_retries),
                "faults_total": injector.total + sum(injector.sdk_retries.values()),
                "retries": {
                    "sqs_redeliveries": harness.redeliveries,
                    "invocations_retried": dict(harness.invocation_failures),
                    "webhook_redeliveries": webhook_retries,
                    "debtor_pressed_pay_again": pay_again["debtor_pressed_pay_again"],
                },
                "dlq": {name: len(messages) for name, messages in dead.items()},
                "still_due_at_the_end": len(still_due),
                "lost": len(lost),
                "duplicated": duplicated,
            }
            print("\nfaults run: " + json.dumps(report, indent=2))
            (tmp_path / "faults-report.json").write_text(json.dumps(report, indent=2))
    finally:
        injector.uninstall()
        reset()
        os.environ.clear()
        os.environ.update(saved)
