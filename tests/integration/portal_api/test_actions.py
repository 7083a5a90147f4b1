"""Given a verified debtor, when they pay, plan, promise, dispute, ask for help or set preferences, then the
account changes as they chose (optimistic lock), Stripe gets one deterministic Checkout, and it is audited."""

import json
from datetime import date, timedelta

import boto3
import pytest

from functions.core.account import Block, Channel, Flag, PlanStatus, PromiseStatus
from functions.core.audit import EventType
from functions.payments.stripe_gateway import PaymentsError
from functions.store import accounts, events
from functions.store.accounts import AccountModel

from .conftest import NOW, placed, token_for


def trail(account_id: str) -> list:
    return [(event.type, event.detail) for event in events.history(account_id)][1:]  # after PORTAL_VERIFIED


@pytest.fixture
def debtor(portal):
    portal.verify()
    return portal


def test_the_account_shows_the_itemized_breakdown_in_the_debtors_language(debtor) -> None:
    debtor.client.put("/preferences", {"language": "es"})
    debtor.verify()  # the next session speaks Spanish

    body = debtor.client.get("/account").body

    assert body["creditor"] == "Acme Lending"
    assert body["reference"] == "••••" + debtor.account.external_ref[-4:]
    assert body["balance"]["total"] == {"minor": 15_350, "currency": "USD", "display": "153,50\xa0US$"}
    assert (
        body["balance"]["principal"]["minor"] + body["balance"]["interest"]["minor"] + body["balance"]["fees"]["minor"]
        == 15_350
    )
    assert body["itemization"]["balance_then"]["minor"] == 15_350
    assert body["due_now"]["minor"] == 15_350
    assert body["options"]["pay_partial"]["min"]["minor"] == 1_000
    assert body["options"]["plan"] == {
        "max_installments": 6,
        "min_installment": {"minor": 2_500, "currency": "USD", "display": "25,00\xa0US$"},
        "max_start_date": "2026-04-08",
    }
    assert body["options"]["promise"] == {"max_date": "2026-03-23"}
    assert body["preferences"]["language"] == "es"


def test_paying_in_full_opens_one_checkout_with_the_account_in_it(debtor) -> None:
    first = debtor.client.post("/payments", {})
    again = debtor.client.post("/payments", {})  # a double tap

    assert first.status == 200
    assert first.body == again.body
    call = debtor.gateway.calls[0]
    assert call["kind"] == "payment"
    assert call["amount"].minor == 15_350 and call["amount"].currency == "USD"
    assert (call["account_id"], call["lender_id"]) == (debtor.account_id, "acme")
    assert call["idempotency_key"] == debtor.gateway.calls[1]["idempotency_key"]
    assert call["success_url"].startswith("https://pay.test.cleardue.example/?checkout=success")
    assert call["cancel_url"] == "https://pay.test.cleardue.example/?checkout=cancel"
    assert first.body["checkout_url"].startswith("https://checkout.stripe.test/")
    assert trail(debtor.account_id)[0][0] is EventType.PORTAL_CHECKOUT_STARTED


def test_a_partial_payment_within_the_minimum_and_the_total(debtor) -> None:
    ok = debtor.client.post("/payments", {"amount_minor": 1_000})
    low = debtor.client.post("/payments", {"amount_minor": 999})
    high = debtor.client.post("/payments", {"amount_minor": 15_351})
    negative = debtor.client.post("/payments", {"amount_minor": -5})
    text = debtor.client.post("/payments", {"amount_minor": "ten"})

    assert ok.status == 200 and debtor.gateway.calls[0]["amount"].minor == 1_000
    assert (low.status, low.body["code"]) == (422, "amount_out_of_range")
    assert "10.00 to 153.50" in low.body["message"]
    assert (high.status, high.body["code"]) == (422, "amount_out_of_range")
    assert (negative.status, negative.body["code"], negative.body["field"]) == (422, "invalid_request", "amount_minor")
    assert (text.status, text.body["field"]) == (422, "amount_minor")
    assert len(debtor.gateway.calls) == 1


def test_when_stripe_is_down_the_debtor_gets_a_try_again(debtor) -> None:
    debtor.gateway.fail = PaymentsError("api_connection_error", "timeout", retryable=True)

    reply = debtor.client.post("/payments", {})

    assert (reply.status, reply.body["code"]) == (503, "payments_unavailable")


def test_choosing_a_plan_stores_it_awaiting_the_card_and_opens_checkout_in_setup_mode(debtor) -> None:
    reply = debtor.client.post("/plans", {"installments": 3, "start_date": "2026-03-20"})

    assert reply.status == 200
    plan = reply.body["plan"]
    assert [item["amount"]["minor"] for item in plan["installments"]] == [5_116, 5_116, 5_118]
    assert [item["due"] for item in plan["installments"]] == ["2026-03-20", "2026-04-20", "2026-05-20"]
    stored = debtor.fresh().plan
    assert stored is not None and stored.status is PlanStatus.AWAITING_CARD and stored.plan_id == plan["plan_id"]
    call = debtor.gateway.calls[0]
    assert (call["kind"], call["plan_id"], call["account_id"]) == ("setup", plan["plan_id"], debtor.account_id)
    assert trail(debtor.account_id)[0][0] is EventType.PORTAL_PLAN_CHOSEN


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"installments": 7, "start_date": "2026-03-20"}, "plan_installments"),
        ({"installments": 3, "start_date": "2026-04-09"}, "plan_start_date"),
        ({"installments": 3, "start_date": "2026-03-08"}, "plan_start_date"),
        ({"installments": 1, "start_date": "2026-03-20"}, "invalid_request"),
        ({"installments": 3, "start_date": "20/03/2026"}, "invalid_request"),
    ],
)
def test_a_plan_outside_the_lenders_bounds_is_refused(debtor, body, code) -> None:
    reply = debtor.client.post("/plans", body)

    assert (reply.status, reply.body["code"]) == (422, code)
    assert debtor.fresh().plan is None
    assert debtor.gateway.calls == []


def test_a_promise_within_the_lenders_days_is_stored_and_audited(debtor) -> None:
    reply = debtor.client.post("/promises", {"amount_minor": 5_000, "date": "2026-03-20"})
    late = debtor.client.post("/promises", {"amount_minor": 5_000, "date": "2026-03-24"})

    assert reply.status == 200
    assert reply.body["promise"]["amount"]["display"] == "$50.00"
    promise = debtor.fresh().promise
    assert promise is not None and (promise.due, promise.status) == (date(2026, 3, 20), PromiseStatus.PENDING)
    assert (late.status, late.body["code"]) == (422, "promise_date")
    assert trail(debtor.account_id) == [
        (EventType.PORTAL_PROMISE_MADE, {"amount_minor": 5_000, "currency": "USD", "due": "2026-03-20"})
    ]


def test_a_dispute_flags_the_account_so_outreach_stops_and_ops_see_it(debtor) -> None:
    reply = debtor.client.post("/disputes", {"reason": "paid_already", "details": "Paid by cheque in January."})
    again = debtor.client.post("/disputes", {"reason": "other", "details": ""})

    assert reply.status == again.status == 200
    assert again.body["dispute"]["reason"] == "paid_already"
    account = debtor.fresh()
    assert Flag.DISPUTE in account.flags and not account.is_collectible
    assert account.dispute is not None and account.dispute.reason == "paid_already"
    [(kind, detail)] = trail(debtor.account_id)
    # The statement is kept on the account, sealed; the trail references it and never copies it.
    assert kind == EventType.PORTAL_DISPUTE_OPENED and detail["reason"] == "paid_already"
    assert "Paid by cheque" not in json.dumps(detail) and detail["text_chars"] == len("Paid by cheque in January.")
    [text] = accounts.debtor_texts(debtor.account_id)
    assert (text.ref, text.kind, text.text) == (detail["text_ref"], "dispute_statement", "Paid by cheque in January.")
    key = {"account_id": {"S": debtor.account_id}}
    raw = boto3.client("dynamodb").get_item(TableName=AccountModel.Meta.table_name, Key=key)
    assert "Paid by cheque" not in json.dumps(raw["Item"])
    assert debtor.client.get("/account").body["options"] == {
        "pay_full": None,
        "pay_partial": None,
        "plan": None,
        "promise": None,
        "settlement": None,
    }


def test_a_bad_dispute_reason_names_the_field(debtor) -> None:
    reply = debtor.client.post("/disputes", {"reason": "because", "details": "x"})

    assert (reply.status, reply.body["field"]) == (422, "reason")


def test_hardship_answers_with_a_plan_a_settlement_or_a_person(debtor) -> None:
    plan = debtor.client.post("/hardship", {"monthly_affordable_minor": 4_000})
    settlement = debtor.client.post("/hardship", {"monthly_affordable_minor": 2_100})
    referral = debtor.client.post("/hardship", {"monthly_affordable_minor": 500, "note": "Lost my job"})

    assert plan.body["outcome"] == "plan" and plan.body["offer"]["plan"]["installments"] == 4
    assert settlement.body["outcome"] == "settlement"
    assert settlement.body["offer"]["settlement"]["amount"]["minor"] == 12_280
    assert settlement.body["offer"]["settlement"]["expires_at"] == "2026-03-23T15:00:00Z"
    assert referral.body == {"outcome": "referral", "offer": None, "message": referral.body["message"]}
    assert debtor.fresh().hardship_requested_at == NOW
    assert [kind for kind, _ in trail(debtor.account_id)] == [EventType.PORTAL_HARDSHIP] * 3
    # The note is kept on the account, sealed; the trail references it and never copies it.
    assert "Lost my job" not in json.dumps([detail for _, detail in trail(debtor.account_id)])
    assert [text.text for text in accounts.debtor_texts(debtor.account_id)] == ["Lost my job"]
    # The scheduler sees the open offer with the account (its "ends soon" notice).
    offered = debtor.fresh()
    assert (
        offered.settlement_minor == 12_280 and offered.settlement_expires_at.isoformat() == "2026-03-23T15:00:00+00:00"
    )


def test_preferences_set_the_channel_and_opt_outs_without_lifting_a_bounce(debtor) -> None:
    before = debtor.fresh()
    accounts.save_state(before, before.with_changes(blocked_channels={Channel.SMS: Block.BOUNCED}), NOW, 4)

    out = debtor.client.put(
        "/preferences",
        {"preferred_channel": "sms", "preferred_time": "evening", "opt_out": ["email", "sms"]},
    )
    back = debtor.client.put("/preferences", {"opt_out": []})

    assert out.body["preferences"] == {
        "preferred_channel": "sms",
        "language": "en",
        "preferred_time": "evening",
        "opt_out": ["email"],
    }
    assert back.body["preferences"]["opt_out"] == []
    account = debtor.fresh()
    assert account.blocked_channels == {Channel.SMS: Block.BOUNCED}
    assert account.preferred_channel is Channel.SMS
    # The scheduler and senders read the chosen time and language with the account.
    assert account.preferred_time == "evening"
    debtor.client.put("/preferences", {"language": "es"})
    assert debtor.fresh().debtor.language == "es"
    bad = debtor.client.put("/preferences", {"preferred_time": "midnight"})
    assert (bad.status, bad.body["field"]) == (422, "preferred_time")


def test_one_click_unsubscribe_needs_no_session_and_is_idempotent(portal) -> None:
    form = {"content-type": "application/x-www-form-urlencoded"}
    query = f"t={portal.token}&c=email"

    first = portal.client.post("/unsubscribe", raw="List-Unsubscribe=One-Click", query=query, headers=form)
    second = portal.client.post("/unsubscribe", raw="List-Unsubscribe=One-Click", query=query, headers=form)

    assert first.status == second.status == 200
    assert first.body == {"unsubscribed": "email"}
    assert portal.fresh().blocked_channels == {Channel.EMAIL: Block.OPTED_OUT}
    assert [event.type for event in events.history(portal.account_id)] == [EventType.PORTAL_UNSUBSCRIBED]


def test_an_expired_link_still_unsubscribes_but_a_forged_one_does_not(portal) -> None:
    other = placed(f"U-{portal.account.external_ref}")
    expired = token_for(other, ttl=timedelta(hours=1))
    forged = portal.token[:-2] + ("AA" if not portal.token.endswith("AA") else "BB")

    ok = portal.client.post("/unsubscribe", query=f"t={expired}&c=sms", auth=False)
    bad = portal.client.post("/unsubscribe", query=f"t={forged}&c=sms", auth=False)
    no_channel = portal.client.post("/unsubscribe", query=f"t={portal.token}&c=fax", auth=False)

    assert ok.status == 200 and accounts.get(other.account_id).blocked_channels == {Channel.SMS: Block.OPTED_OUT}
    assert (bad.status, bad.body["code"]) == (400, "link_invalid")
    assert (no_channel.status, no_channel.body["field"]) == (422, "c")
    assert portal.fresh().blocked_channels == {}


def test_bad_requests_get_a_clear_4xx_never_a_500(debtor) -> None:
    replies = {
        "not json": debtor.client.post("/payments", raw="{not json"),
        "extra field": debtor.client.post("/promises", {"amount_minor": 100, "date": "2026-03-20", "x": 1}),
        "missing field": debtor.client.post("/promises", {"date": "2026-03-20"}),
        "unknown route": debtor.client.get("/accounts"),
        "wrong method": debtor.client.request("DELETE", "/account"),
        "empty token": debtor.client.post("/link", {"token": ""}),
    }

    statuses = {name: reply.status for name, reply in replies.items()}
    assert statuses == {
        "not json": 422,
        "extra field": 422,
        "missing field": 422,
        "unknown route": 404,
        "wrong method": 404,
        "empty token": 422,
    }
    assert all(set(reply.body) >= {"code", "message"} for reply in replies.values())
    assert replies["missing field"].body["field"] == "amount_minor"


def test_a_paid_account_has_nothing_to_pay(debtor) -> None:
    from functions.core.account import AccountStatus

    before = debtor.fresh()
    accounts.save_state(before, before.with_changes(status=AccountStatus.PAID), NOW, 4)

    reply = debtor.client.post("/payments", {})

    assert (reply.status, reply.body["code"]) == (409, "nothing_due")


def test_the_openapi_document_describes_every_route(portal) -> None:
    reply = portal.client.get("/openapi.json", auth=False)

    assert reply.status == 200
    assert set(reply.body["paths"]) == {
        "/link", "/session", "/unsubscribe", "/account", "/payments", "/plans", "/promises", "/disputes",
        "/hardship", "/preferences",
    }  # fmt: skip
    assert reply.body["components"]["securitySchemes"]["session"]["scheme"] == "bearer"


def test_a_settlement_offer_shows_on_the_account_and_can_be_paid_until_it_lapses(debtor) -> None:
    nothing_yet = debtor.client.post("/payments", {"settlement": True})
    debtor.client.post("/hardship", {"monthly_affordable_minor": 2_100})

    offered = debtor.client.get("/account").body["options"]["settlement"]
    paid = debtor.client.post("/payments", {"settlement": True})
    both = debtor.client.post("/payments", {"settlement": True, "amount_minor": 5_000})
    debtor.client.now = NOW + timedelta(days=14)
    debtor.verify()
    lapsed = debtor.client.post("/payments", {"settlement": True})

    assert (nothing_yet.status, nothing_yet.body["code"]) == (409, "no_settlement_offer")
    assert offered == {
        "amount": {"minor": 12_280, "currency": "USD", "display": "$122.80"},
        "expires_at": "2026-03-23T15:00:00Z",
    }
    assert paid.status == 200
    call = debtor.gateway.calls[0]
    assert (call["amount"].minor, call["purpose"]) == (12_280, "settlement")
    assert (both.status, lapsed.status) == (422, 409)
    assert debtor.client.get("/account").body["options"]["settlement"] is None


def test_a_third_party_collectors_account_carries_the_disclosure_and_the_validation_period(debtor) -> None:
    from .conftest import lender

    lender(regime="third_party")
    before = debtor.fresh()
    accounts.save_state(before, before.with_changes(validation_notice_at=NOW - timedelta(days=3)), NOW, 4)

    body = debtor.client.get("/account").body

    assert body["disclosure"].startswith("This is a communication from a debt collector.")
    assert body["validation_period_ends"] == "2026-04-12"  # sent Fri 6 March: received Fri 13, + 30 days
