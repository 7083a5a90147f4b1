"""Installments charged off-session, end to end on moto and the Stripe emulator: the scheduler queues the
due attempt, the charger charges the saved card once under the attempt's key, and the emulator's signed
webhook, through the real webhooks handler, marks the installment paid, failed or missed."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import requests

from functions import names
from functions.charger import handler as charger
from functions.charger.handler import lambda_handler as charger_handler
from functions.core.account import Account, Installment, InstallmentStatus, Plan, PlanStatus
from functions.core.audit import EventType
from functions.core.clock import at_local_time, local_date
from functions.core.installments import CHARGE_TIME, ChargeJob, idempotency_key
from functions.core.money import Money
from functions.payments.stripe_gateway import PaymentsGateway
from functions.scheduler.handler import lambda_handler as scheduler_handler
from functions.store import accounts, events
from local.lambda_events import LocalLambdaContext
from local.stripe_emulator import StripeEmulator
from tests.events.factories import make_account, place, scheduled_event, sqs_event
from tests.integration.webhooks.helpers import drain

PLAN_ID = "plan_charger_test"
ACCOUNT = make_account("C-5005")  # owes 153.50 (America/Chicago)
TZ = ACCOUNT.debtor.timezone


def _today() -> date:
    return local_date(datetime.now(UTC), TZ)


def on_plan(
    stack: dict[str, Any], card: str, dues: list[date], paid: int = 0, account: Account = ACCOUNT, unscheduled=False
) -> Account:
    """An account whose plan got its card through Checkout in setup mode (the webhook made it current)."""
    emulator: StripeEmulator = stack["emulator"]
    now = datetime.now(UTC)
    place(account, now)
    if unscheduled:  # out of the due index, as the scheduler leaves an account no channel can reach
        placed = accounts.get(account.account_id)
        assert accounts.reschedule(account.account_id, placed.next_contact_at, None, 4)
    before = accounts.get(account.account_id)
    statuses = [InstallmentStatus.PAID] * paid + [InstallmentStatus.SCHEDULED] * (len(dues) - paid)
    items = tuple(Installment(n + 1, day, Money(5_000, "USD"), statuses[n]) for n, day in enumerate(dues))
    assert accounts.save_state(before, before.with_changes(plan=Plan(PLAN_ID, now, items)), now, 4)
    link = PaymentsGateway("sk_test_cleardue_local", emulator.base_url).checkout_setup(
        account_id=account.account_id, lender_id=account.lender_id, plan_id=PLAN_ID,
        success_url="https://pay.example/ok", cancel_url="https://pay.example/no", idempotency_key=f"setup:{PLAN_ID}",
    )  # fmt: skip
    form = {"email": "dana@example.com", "cardnumber": card, "exp": "12/40", "cvc": "123", "name": "D R"}
    assert requests.post(link.url, data=form, allow_redirects=False, timeout=10).status_code == 303
    assert emulator.wait_for_webhooks(timeout=30)
    saved = accounts.get(account.account_id)
    assert saved.plan.status is PlanStatus.CURRENT and saved.next_contact_at is not None
    return saved


def schedule(stack: dict[str, Any], at: datetime) -> list[dict[str, Any]]:
    """One scheduler tick at `at`; the charge jobs it queued."""
    scheduler_handler(scheduled_event(at), LocalLambdaContext("cleardue-scheduler"))
    return drain(stack["sqs"], stack["charges_url"])


def charge(stack: dict[str, Any], jobs: list[dict[str, Any]], at: datetime) -> dict[str, Any]:
    response = charger_handler(sqs_event([json.dumps(job) for job in jobs], at), LocalLambdaContext("cleardue-charger"))
    assert stack["emulator"].wait_for_webhooks(timeout=30)
    return response


def stripe_events(emulator: StripeEmulator, kind: str) -> list[dict[str, Any]]:
    reply = requests.get(
        f"{emulator.base_url}/v1/events", params={"type": kind, "limit": 100},
        headers={"Authorization": "Bearer sk_test_cleardue_local"}, timeout=10,
    )  # fmt: skip
    return reply.json()["data"]


def attempts_audited() -> list[dict[str, Any]]:
    return [e.detail for e in events.history(ACCOUNT.account_id) if e.type is EventType.INSTALLMENT_CHARGE_ATTEMPTED]


def test_a_due_installment_is_charged_once_and_the_signed_webhook_marks_it_paid(stripe_local) -> None:
    today = _today()
    on_plan(stripe_local, "4242424242424242", [today - timedelta(days=1), today + timedelta(days=29)])
    now = datetime.now(UTC)

    [job] = schedule(stripe_local, now)
    assert (job["installment"], job["attempt"], job["job_id"]) == (1, 1, idempotency_key(PLAN_ID, 1, 1))
    # The same job twice in one batch, then once more after the webhook: one charge at Stripe.
    assert charge(stripe_local, [job, job], now) == {"batchItemFailures": []}
    assert charge(stripe_local, [job], now + timedelta(minutes=5)) == {"batchItemFailures": []}

    [succeeded] = stripe_events(stripe_local["emulator"], "payment_intent.succeeded")
    intent = succeeded["data"]["object"]
    assert (intent["amount"], intent["metadata"]["installment"], intent["metadata"]["purpose"]) == (
        5_000, "1", "installment",
    )  # fmt: skip
    account = accounts.get(ACCOUNT.account_id)
    first, second = account.plan.installments
    assert (first.status, first.payment_id, second.status) == (
        InstallmentStatus.PAID, intent["id"], InstallmentStatus.SCHEDULED,
    )  # fmt: skip
    assert account.balance.total.minor == 15_350 - 5_000
    assert [(d["installment"], d["attempt"], d["payment"], d["status"]) for d in attempts_audited()] == [
        (1, 1, intent["id"], "succeeded")
    ]
    [receipt] = [j for j in drain(stripe_local["sqs"], stripe_local["queue_url"]) if j["template"] == "receipt"]
    assert intent["id"] in receipt["reason"]
    # Nothing else is due before the second installment's day; the account is looked at again by then.
    assert schedule(stripe_local, now + timedelta(hours=2)) == []
    assert accounts.get(ACCOUNT.account_id).next_contact_at <= at_local_time(
        today + timedelta(days=29), CHARGE_TIME, TZ
    )


def test_a_debtor_no_channel_reaches_is_charged_once_the_card_is_saved(stripe_local) -> None:
    today = _today()
    unreachable = make_account("C-5005", email=None)  # a phone without consent to texts: no usable channel
    on_plan(stripe_local, "4242424242424242", [today - timedelta(days=1), today + timedelta(days=29)],
            account=unreachable, unscheduled=True)  # fmt: skip
    now = datetime.now(UTC)
    assert accounts.get(ACCOUNT.account_id).next_contact_at <= now  # the card's webhook put it before the scheduler

    [job] = schedule(stripe_local, now)
    assert charge(stripe_local, [job], now) == {"batchItemFailures": []}

    after = accounts.get(ACCOUNT.account_id)
    assert after.plan.installments[0].status is InstallmentStatus.PAID
    assert after.next_contact_at <= at_local_time(today + timedelta(days=29), CHARGE_TIME, TZ)  # the next charge day


def test_a_soft_decline_fails_the_installment_tells_the_debtor_and_is_retried_on_its_retry_day(stripe_local) -> None:
    today = _today()
    on_plan(stripe_local, "4000000000009995", [today - timedelta(days=1), today + timedelta(days=29)])  # insufficient
    now = datetime.now(UTC)

    [job] = schedule(stripe_local, now)
    assert charge(stripe_local, [job], now) == {"batchItemFailures": []}

    first = accounts.get(ACCOUNT.account_id).plan.installments[0]
    assert (first.status, first.attempts) == (InstallmentStatus.FAILED, 1)
    [notice] = [j for j in drain(stripe_local["sqs"], stripe_local["queue_url"]) if j["template"] == "payment_failed"]
    assert "decline=insufficient_funds" in notice["reason"] and "retry=yes" in notice["reason"]
    assert attempts_audited()[0]["decline"] == "insufficient_funds"

    # Not retried before its day (the default plan rules: 2 retries over 5 grace days, 2 days apart) ...
    assert schedule(stripe_local, now + timedelta(hours=2)) == []
    retry_at = at_local_time(today - timedelta(days=1) + timedelta(days=2), CHARGE_TIME, TZ)
    assert accounts.get(ACCOUNT.account_id).next_contact_at <= retry_at
    # ... then charged again under the next attempt's key.
    [retry] = schedule(stripe_local, retry_at)
    assert (retry["attempt"], retry["job_id"]) == (2, idempotency_key(PLAN_ID, 1, 2))
    assert charge(stripe_local, [retry], retry_at) == {"batchItemFailures": []}
    again = accounts.get(ACCOUNT.account_id).plan.installments[0]
    assert (again.status, again.attempts) == (InstallmentStatus.FAILED, 2)
    assert len(stripe_events(stripe_local["emulator"], "payment_intent.payment_failed")) == 2


def test_a_card_declined_off_session_misses_and_a_second_consecutive_miss_breaks_the_plan(stripe_local) -> None:
    today = _today()
    dues = [today - timedelta(days=31), today - timedelta(days=1), today + timedelta(days=29)]
    on_plan(stripe_local, "4000000000000341", dues)  # saved fine, declined off-session (generic_decline: no retry)
    now = datetime.now(UTC)

    jobs = schedule(stripe_local, now)
    assert [(j["installment"], j["attempt"]) for j in jobs] == [(1, 1), (2, 1)]
    assert charge(stripe_local, jobs, now) == {"batchItemFailures": []}

    account = accounts.get(ACCOUNT.account_id)
    assert [i.status for i in account.plan.installments] == [
        InstallmentStatus.MISSED, InstallmentStatus.MISSED, InstallmentStatus.SCHEDULED,
    ]  # fmt: skip
    assert account.plan.status is PlanStatus.BROKEN
    notices = [j for j in drain(stripe_local["sqs"], stripe_local["queue_url"]) if j["template"] == "payment_failed"]
    assert len(notices) == 2 and all("retry=no" in n["reason"] for n in notices)
    assert schedule(stripe_local, now + timedelta(hours=2)) == []  # a broken plan's card is not charged again


def test_an_installment_not_yet_due_or_already_paid_is_not_charged(stripe_local) -> None:
    today = _today()
    on_plan(stripe_local, "4242424242424242", [today - timedelta(days=30), today + timedelta(days=1)], paid=1)
    now = datetime.now(UTC)

    assert schedule(stripe_local, now) == []
    stale = [
        ChargeJob(job_id=idempotency_key(PLAN_ID, n, 1), account_id=ACCOUNT.account_id, plan_id=PLAN_ID,
                  installment=n, attempt=1, scheduled_for=now).model_dump(mode="json")
        for n in (1, 2)
    ]  # fmt: skip
    assert charge(stripe_local, stale, now) == {"batchItemFailures": []}

    assert stripe_events(stripe_local["emulator"], "payment_intent.succeeded") == []
    assert attempts_audited() == []


def test_a_stripe_outage_fails_only_that_record_and_the_retry_charges_once(stripe_local, monkeypatch) -> None:
    today = _today()
    on_plan(stripe_local, "4242424242424242", [today - timedelta(days=1), today + timedelta(days=29)])
    now = datetime.now(UTC)
    [job] = schedule(stripe_local, now)
    poison = {"not": "a charge job"}

    monkeypatch.setenv(names.ENV_STRIPE_API_BASE, "http://127.0.0.1:9")  # nothing listens: connection refused
    charger._runtime.cache_clear()
    response = charger_handler(sqs_event([json.dumps(job), json.dumps(poison)], now), LocalLambdaContext("charger"))

    assert sorted(item["itemIdentifier"] for item in response["batchItemFailures"]) == ["msg-0", "msg-1"]
    assert accounts.get(ACCOUNT.account_id).plan.installments[0].payment_id is None
    assert attempts_audited() == []

    monkeypatch.setenv(names.ENV_STRIPE_API_BASE, stripe_local["emulator"].base_url)  # Stripe is back: SQS redelivers
    charger._runtime.cache_clear()
    assert charge(stripe_local, [job], now + timedelta(minutes=1)) == {"batchItemFailures": []}
    assert len(stripe_events(stripe_local["emulator"], "payment_intent.succeeded")) == 1
    assert accounts.get(ACCOUNT.account_id).plan.installments[0].status is InstallmentStatus.PAID
