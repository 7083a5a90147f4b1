"""POST /webhooks/stripe with captured Stripe events, re-addressed to our accounts and signed with the test secret."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from functions.core.account import AccountStatus, Flag, Installment, Plan, PlanStatus
from functions.core.audit import EventType
from functions.core.jobs import Template
from functions.core.money import Money
from functions.core.payments import parse_reason
from functions.store import accounts, events
from functions.store import webhooks as webhooks_store
from functions.webhooks.handler import STRIPE_TRAIL, stripe_handler
from local.lambda_events import LocalLambdaContext
from tests.events.factories import make_account, place
from tests.integration.webhooks.helpers import (
    body_of,
    drain,
    http_event,
    raw_fixture,
    signature,
    stripe_event,
)

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
ACCOUNT = make_account("A-1001", principal=12_000, interest=850, fees=2_500)  # total 15,350 USD


def deliver(event: dict[str, Any], at: datetime = NOW, **kwargs: Any) -> dict[str, Any]:
    body = body_of(event)
    return stripe_handler(http_event(body, signature(body), at, **kwargs), LocalLambdaContext("cleardue-webhooks"))


def succeeded(
    pi: str, amount: int, evt: str, at: datetime = NOW, account_id: str = ACCOUNT.account_id
) -> dict[str, Any]:
    return stripe_event(
        "rubymock_payment_intent.succeeded.json",
        event_id=evt,
        created=at,
        account_id=account_id,
        id=pi,
        amount=amount,
        amount_received=amount,
    )


def test_a_payment_is_applied_reminders_stop_and_one_receipt_is_queued(hooks: dict[str, Any]) -> None:
    place(ACCOUNT, NOW - timedelta(days=2))
    assert accounts.get(ACCOUNT.account_id).next_contact_at is not None

    response = deliver(succeeded("pi_full", 15_350, "evt_1"))
    checkout = stripe_event(
        "rubymock_checkout.session.completed.payment_mode.json",
        event_id="evt_2",
        created=NOW,
        account_id=ACCOUNT.account_id,
        payment_intent="pi_full",
        amount_total=15_350,
    )
    again = deliver(checkout)  # the same payment announced by another event: applied once

    assert response["statusCode"] == 200 and json.loads(response["body"])["outcome"] == "applied"
    assert json.loads(again["body"])["outcome"] == "duplicate"
    account = accounts.get(ACCOUNT.account_id)
    assert account.status is AccountStatus.PAID
    assert account.balance.total.minor == 0
    assert account.next_contact_at is None  # out of the due index: no further reminder
    assert [p.payment_id for p in account.payments] == ["pi_full"]
    jobs = drain(hooks["sqs"], hooks["queue_url"])
    assert [(j["template"], j["channel"]) for j in jobs] == [(Template.RECEIPT.value, "email")]
    assert parse_reason(jobs[0]["reason"])["payment"] == "pi_full"
    trail = events.history(ACCOUNT.account_id)
    applied = [e for e in trail if e.type is EventType.PAYMENT_APPLIED]
    assert len(applied) == 1 and applied[0].detail["receipt_job"] == jobs[0]["job_id"]
    assert applied[0].detail["fees_minor"] == 2_500 and applied[0].detail["principal_minor"] == 12_000
    assert webhooks_store.engagement_counts(ACCOUNT.account_id) == {
        "any:paid": 1,
        "how:34": 1,
    }  # Tuesday 10:00 CDT: 24 + 10


def test_the_same_event_delivered_twice_is_processed_once(hooks: dict[str, Any]) -> None:
    place(ACCOUNT, NOW)
    event = succeeded("pi_part", 3_000, "evt_same")
    first, second = deliver(event), deliver(event)
    assert first["statusCode"] == second["statusCode"] == 200
    account = accounts.get(ACCOUNT.account_id)
    assert account.balance.total.minor == 12_350 and account.status is AccountStatus.ACTIVE
    assert account.balance.fees.minor == 0 and account.balance.interest.minor == 350
    assert len(drain(hooks["sqs"], hooks["queue_url"])) == 1


def test_a_partial_payment_pushes_the_next_reminder_a_cadence_out(hooks: dict[str, Any]) -> None:
    place(ACCOUNT, NOW - timedelta(days=2))
    deliver(succeeded("pi_part", 1_000, "evt_p"))
    account = accounts.get(ACCOUNT.account_id)
    assert account.next_contact_at == NOW + timedelta(days=3)  # the default lender's cadence


def test_a_refund_restores_the_balance_and_reopens_the_account(hooks: dict[str, Any]) -> None:
    place(ACCOUNT, NOW)
    deliver(succeeded("pi_r", 15_350, "evt_pay"))
    refund = stripe_event(
        "rubymock_charge.refunded.json",
        event_id="evt_refund",
        created=NOW + timedelta(hours=1),
        account_id=ACCOUNT.account_id,
        id="ch_r",
        payment_intent="pi_r",
        amount=15_350,
        amount_refunded=15_350,
    )
    response = deliver(refund, NOW + timedelta(hours=1))
    assert response["statusCode"] == 200
    account = accounts.get(ACCOUNT.account_id)
    assert account.balance == ACCOUNT.balance
    assert account.status is AccountStatus.ACTIVE
    assert account.next_contact_at == NOW + timedelta(hours=1)  # the scheduler looks at it again
    assert [e.type for e in events.history(ACCOUNT.account_id)][-1] is EventType.PAYMENT_REFUNDED


def test_a_late_failure_after_success_changes_nothing(hooks: dict[str, Any]) -> None:
    place(ACCOUNT, NOW)
    deliver(succeeded("pi_1", 2_000, "evt_ok"))
    before = accounts.get(ACCOUNT.account_id)
    failed = stripe_event(
        "rubymock_payment_intent.payment_failed.json",
        event_id="evt_late_fail",
        created=NOW - timedelta(minutes=1),
        account_id=ACCOUNT.account_id,
        id="pi_1",
    )
    response = deliver(failed)
    assert json.loads(response["body"])["outcome"] == "ignored"
    assert accounts.get(ACCOUNT.account_id) == before
    assert [j["template"] for j in drain(hooks["sqs"], hooks["queue_url"])] == ["receipt"]


def test_a_failed_payment_gets_one_notice_with_the_next_step(hooks: dict[str, Any]) -> None:
    place(ACCOUNT, NOW)
    for n, code in enumerate(["insufficient_funds", "insufficient_funds"]):
        failed = stripe_event(
            "rubymock_payment_intent.payment_failed.json",
            event_id=f"evt_fail_{n}",
            created=NOW,
            account_id=ACCOUNT.account_id,
            id="pi_f",
        )
        failed["data"]["object"]["last_payment_error"]["decline_code"] = code
        assert deliver(failed)["statusCode"] == 200
    jobs = drain(hooks["sqs"], hooks["queue_url"])
    assert [j["template"] for j in jobs] == [Template.PAYMENT_FAILED.value]
    assert parse_reason(jobs[0]["reason"]) == {
        "payment": "pi_f",
        "decline": "insufficient_funds",
        "next_step": "plan",
        "retry": "yes",
    }
    failures = [e for e in events.history(ACCOUNT.account_id) if e.type is EventType.PAYMENT_FAILED]
    assert len(failures) == 2 and failures[0].detail["notice_job"] == jobs[0]["job_id"]


def test_a_hard_declined_installment_is_missed_and_two_misses_break_the_plan(hooks: dict[str, Any]) -> None:
    plan = Plan(
        "plan-7",
        NOW,
        tuple(Installment(n, (NOW + timedelta(days=30 * n)).date(), Money(5_000, "USD")) for n in (1, 2, 3)),
        status=PlanStatus.CURRENT,
        customer_id="cus_1",
        payment_method_id="pm_1",
    )
    place(ACCOUNT, NOW)
    before = accounts.get(ACCOUNT.account_id)
    assert accounts.save_state(before, before.with_changes(plan=plan), NOW, 4)
    for n, code in ((1, "stolen_card"), (2, "lost_card")):
        failed = stripe_event(
            "rubymock_payment_intent.payment_failed.json",
            event_id=f"evt_inst_{n}",
            created=NOW,
            account_id=None,
            id=f"pi_inst_{n}",
            metadata={
                "account_id": ACCOUNT.account_id,
                "lender_id": "acme",
                "plan_id": "plan-7",
                "installment": str(n),
            },
        )
        failed["data"]["object"]["last_payment_error"]["decline_code"] = code
        deliver(failed)
    account = accounts.get(ACCOUNT.account_id)
    assert [i.status.value for i in account.plan.installments] == ["missed", "missed", "scheduled"]
    assert all(i.attempts == 1 for i in account.plan.installments[:2])
    assert account.plan.status is PlanStatus.BROKEN
    jobs = drain(hooks["sqs"], hooks["queue_url"])
    assert {parse_reason(j["reason"])["next_step"] for j in jobs} == {"another_card"}
    assert {parse_reason(j["reason"])["retry"] for j in jobs} == {"no"}


def test_setup_intent_saves_the_plan_card(hooks: dict[str, Any]) -> None:
    plan = Plan("plan-9", NOW, (Installment(1, NOW.date(), Money(5_000, "USD")),))
    place(ACCOUNT, NOW)
    before = accounts.get(ACCOUNT.account_id)
    accounts.save_state(before, before.with_changes(plan=plan), NOW, 4)
    event = {
        "id": "evt_seti",
        "object": "event",
        "type": "setup_intent.succeeded",
        "created": int(NOW.timestamp()),
        "livemode": False,
        "data": {
            "object": {
                "id": "seti_1",
                "object": "setup_intent",
                "status": "succeeded",
                "customer": "cus_9",
                "payment_method": "pm_9",
                "metadata": {"account_id": ACCOUNT.account_id, "lender_id": "acme", "plan_id": "plan-9"},
            }
        },
    }
    assert json.loads(deliver(event)["body"])["outcome"] == "applied"
    saved = accounts.get(ACCOUNT.account_id).plan
    assert (saved.status, saved.customer_id, saved.payment_method_id) == (PlanStatus.CURRENT, "cus_9", "pm_9")


def test_a_chargeback_flags_the_account_for_ops(hooks: dict[str, Any]) -> None:
    place(ACCOUNT, NOW)
    dispute = stripe_event(
        "rubymock_charge.dispute.created.json", event_id="evt_dp", created=NOW, account_id=ACCOUNT.account_id
    )
    deliver(dispute)
    account = accounts.get(ACCOUNT.account_id)
    assert Flag.DISPUTE in account.flags
    disputed = [e for e in events.history(ACCOUNT.account_id) if e.type is EventType.PAYMENT_DISPUTED]
    assert disputed[0].detail["reason"] == "fraudulent"


def test_unknown_types_and_unmatched_events_are_acknowledged(hooks: dict[str, Any]) -> None:
    place(ACCOUNT, NOW)
    other = stripe_event("rubymock_charge.refunded.json", event_id="evt_x", created=NOW, account_id=ACCOUNT.account_id)
    other["type"] = "customer.created"
    assert json.loads(deliver(other)["body"])["outcome"] == "ignored"
    # The captured bytes exactly as stripe-ruby-mock recorded them (no metadata: not one of ours).
    raw = raw_fixture("rubymock_payment_intent.succeeded.json")
    response = stripe_handler(http_event(raw, signature(raw), NOW), LocalLambdaContext("cleardue-webhooks"))
    assert response["statusCode"] == 200 and json.loads(response["body"])["outcome"] == "unmatched"


def test_a_base64_body_is_verified_on_its_decoded_bytes(hooks: dict[str, Any]) -> None:
    place(ACCOUNT, NOW)
    response = deliver(succeeded("pi_b64", 1_000, "evt_b64"), base64_encoded=True)
    assert response["statusCode"] == 200
    assert accounts.get(ACCOUNT.account_id).balance.total.minor == 14_350


def test_bad_stale_or_tampered_signatures_are_400_audited_and_counted(hooks: dict[str, Any], capsys: Any) -> None:
    place(ACCOUNT, NOW)
    body = body_of(succeeded("pi_evil", 15_350, "evt_evil"))
    context = LocalLambdaContext("cleardue-webhooks")
    cases = {
        "wrong secret": http_event(body, signature(body, secret="whsec_someone_else"), NOW),
        "stale": http_event(body, signature(body, timestamp=int(time.time()) - 301), NOW),
        "tampered": http_event(body.replace(b"15350", b"99999"), signature(body), NOW),
        "missing header": http_event(body, None, NOW),
        "re-serialised": http_event(json.dumps(json.loads(body)).encode(), signature(body), NOW),
    }
    for name, event in cases.items():
        response = stripe_handler(event, context)
        assert response["statusCode"] == 400, name
        assert json.loads(response["body"])["error"]["code"] == "invalid_signature"
    assert accounts.get(ACCOUNT.account_id).balance.total.minor == 15_350  # nothing applied
    rejected = events.history(STRIPE_TRAIL)
    assert len(rejected) == len(cases) and {e.type for e in rejected} == {EventType.WEBHOOK_REJECTED}
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert sum(sum(m.get("WebhookSignatureFailures", [])) for m in metrics) == len(cases)


def test_the_secret_is_read_once_and_cached(hooks: dict[str, Any]) -> None:
    place(ACCOUNT, NOW)
    deliver(succeeded("pi_c1", 100, "evt_c1"))
    boto3.client("secretsmanager").update_secret(
        SecretId="stripe-test", SecretString=json.dumps({"api_key": "sk", "webhook_secret": "whsec_rotated"})
    )
    assert deliver(succeeded("pi_c2", 100, "evt_c2"))["statusCode"] == 200  # within max_age: the cached secret


def test_a_payment_in_another_currency_is_acknowledged_refused_and_audited(hooks: dict[str, Any]) -> None:
    place(ACCOUNT, NOW)
    euros = succeeded("pi_eur", 1_000, "evt_eur")
    euros["data"]["object"]["currency"] = "eur"
    response = deliver(euros)
    assert response["statusCode"] == 200 and json.loads(response["body"])["outcome"] == "refused"
    assert accounts.get(ACCOUNT.account_id).balance == ACCOUNT.balance
    [refused] = events.history(ACCOUNT.account_id)
    assert refused.type is EventType.PAYMENT_FAILED and "EUR" in refused.detail["refused"]


def test_a_paid_settlement_offer_settles_the_account_and_stops_reminders(hooks: dict[str, Any]) -> None:
    place(ACCOUNT, NOW)
    settlement = succeeded("pi_settle", 9_000, "evt_settle")
    settlement["data"]["object"]["metadata"]["purpose"] = "settlement"  # the portal's Checkout for an offer
    response = deliver(settlement)
    assert json.loads(response["body"])["outcome"] == "applied"
    account = accounts.get(ACCOUNT.account_id)
    assert account.status is AccountStatus.SETTLED and account.next_contact_at is None
    (applied,) = [e for e in events.history(ACCOUNT.account_id) if e.type is EventType.PAYMENT_APPLIED]
    assert applied.detail["status"] == "settled" and applied.detail["source"] == "settlement"
    jobs = drain(hooks["sqs"], hooks["queue_url"])
    assert [j["template"] for j in jobs] == [Template.RECEIPT.value]
