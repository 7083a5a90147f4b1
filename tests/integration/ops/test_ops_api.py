"""Given an operator with a signed request, when they read the queue or an account, or act on one, then the
account changes under its version lock, the action is audited with their IAM identity and reason, and the
decision engine's next step follows (a resolved dispute resumes reminders, a bankruptcy stops them for good).
Calls without an IAM principal, or with a debtor's session, are refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from functions.core.account import AccountStatus, ContactKind, Dispute, DisputeStatus, Flag
from functions.core.audit import AuditEvent, EventType
from functions.ops import handler as ops_handler
from functions.ops import service
from functions.store import accounts, events
from functions.store import portal as portal_store
from functions.store.accounts import AccountModel

from .conftest import NOW, OPERATOR, Client, placed


def last_event(account_id: str) -> AuditEvent:
    return events.history(account_id)[-1]


def disputed(reason: str = "wrong_amount") -> Any:
    return placed(dispute=Dispute(NOW - timedelta(days=3), reason), flags={Flag.DISPUTE})


def act(client: Client, account_id: str, action: str, reason: str = "checked with the lender", **params: Any) -> Any:
    reply = client.act(account_id, {"action": action, "reason": reason, **params})
    assert reply.status == 200, reply.body
    return reply.body


def assert_audited(account_id: str, action: str, reason: str = "checked with the lender") -> AuditEvent:
    event = last_event(account_id)
    assert (event.type, event.actor, event.detail["action"], event.detail["reason"]) == (
        EventType.OPS_ACTION, OPERATOR, action, reason,
    )  # fmt: skip
    return event


# --- actions --------------------------------------------------------------------------------------


def test_a_verified_dispute_sends_the_verification_first(client: Client) -> None:
    account = disputed()
    assert client.show(account.account_id).body["decision"]["reason"] == "not_collectible"

    body = act(client, account.account_id, "resolve_dispute", outcome="verified", verification_ref="ledger-2026-031")

    saved = accounts.get(account.account_id)
    assert saved is not None and saved.dispute is not None and saved.dispute.status is DisputeStatus.VERIFYING
    assert saved.dispute.verification_ref == "ledger-2026-031"
    assert saved.flags == frozenset() and saved.next_contact_at == NOW  # back in the due index, now
    audited = assert_audited(account.account_id, "resolve_dispute").detail
    assert audited["verification_ref"] == "ledger-2026-031" and audited["send_by"] == "email"
    # FDCPA 809(b): the verification goes first (the sender's test shows it ends the pause once sent).
    assert body["decision"]["contact_now"] == {"template": "dispute_verification", "channel": "email"}


def test_a_verification_mailed_by_letter_resumes_reminders_now(client: Client) -> None:
    account = disputed()
    body = act(
        client, account.account_id, "resolve_dispute", outcome="verified", send_by="letter", verification_ref="l-31"
    )
    saved = accounts.get(account.account_id)
    assert saved is not None and saved.dispute is not None and saved.dispute.status is DisputeStatus.VERIFIED
    assert body["decision"]["contact_now"] == {"template": "reminder", "channel": "email"}


def test_an_upheld_dispute_lowers_the_balance_and_collection_goes_on_for_the_rest(client: Client) -> None:
    account = disputed()
    body = act(client, account.account_id, "resolve_dispute", outcome="upheld", amount_minor=2_500, component="fees")
    assert body["account"]["fees_minor"] == 0 and body["account"]["owed_minor"] == 12_850
    assert body["account"]["dispute"]["status"] == "upheld"
    assert assert_audited(account.account_id, "resolve_dispute").detail["adjust_code"] == "dispute_upheld"
    assert body["decision"]["contact_now"] is not None


def test_a_conversation_pauses_the_next_attempt(client: Client) -> None:
    account = placed()
    body = act(client, account.account_id, "record_conversation", medium="phone", at="2026-03-09T14:00:00Z")
    saved = accounts.get(account.account_id)
    assert saved is not None and saved.recent_contacts[-1].kind is ContactKind.CONVERSATION
    assert assert_audited(account.account_id, "record_conversation").detail["medium"] == "phone"
    assert body["decision"]["contact_now"] is None and body["decision"]["reason"] == "held"
    assert any("recent conversation" in why for why in body["decision"]["why"])


def test_a_bankruptcy_notice_stops_reminders_for_good(client: Client) -> None:
    account = placed()
    body = act(client, account.account_id, "record_notice", notice="bankruptcy", received_on="2026-03-06",
               reference="case-26-10442")  # fmt: skip
    saved = accounts.get(account.account_id)
    assert saved is not None and Flag.BANKRUPTCY in saved.flags and saved.next_contact_at is None
    assert assert_audited(account.account_id, "record_notice").detail["notice"] == "bankruptcy"
    assert body["decision"] == {"contact_now": None, "reason": "not_collectible", "why": ["not collectible"],
                                "next_look_at": None}  # fmt: skip
    client.now = NOW + timedelta(days=120)
    assert client.show(account.account_id).body["decision"]["reason"] == "not_collectible"


def test_a_balance_adjustment_with_its_code(client: Client) -> None:
    account = placed()
    body = act(client, account.account_id, "adjust_balance", delta_minor=-850, code="interest_waiver",
               component="interest")  # fmt: skip
    assert body["account"]["interest_minor"] == 0 and body["account"]["version"] == account.version + 1
    event = assert_audited(account.account_id, "adjust_balance")
    assert (event.detail["owed_before"], event.detail["owed_after"], event.detail["code"]) == (
        15_350, 14_500, "interest_waiver",
    )  # fmt: skip


@pytest.mark.parametrize(("action", "params", "status"), [
    ("recall", {}, AccountStatus.RECALLED),
    ("close", {"code": "uncollectible"}, AccountStatus.CLOSED),
])  # fmt: skip
def test_recall_and_close_take_the_account_out_for_good(
    client: Client, action: str, params: dict[str, Any], status: AccountStatus
) -> None:
    account = placed()
    body = act(client, account.account_id, action, **params)
    saved = accounts.get(account.account_id)
    assert saved is not None and saved.status is status and saved.next_contact_at is None
    assert_audited(account.account_id, action)
    assert body["decision"]["reason"] == "not_collectible" and body["decision"]["next_look_at"] is None


def test_an_approved_settlement_is_offered_in_the_portal_and_handles_the_hardship_referral(client: Client) -> None:
    account = placed(hardship_requested_at=NOW - timedelta(days=2))
    body = act(client, account.account_id, "approve_settlement", amount_minor=7_675, days=10)
    state = portal_store.get(account.account_id)
    assert state.settlement_open(NOW) == 7_675 and state.settlement_expires_at == NOW + timedelta(days=10)
    assert body["account"]["hardship_requested_at"] is None
    event = assert_audited(account.account_id, "approve_settlement")
    assert event.detail["within_automatic_bounds"] is False and event.detail["resolves"] == ["hardship"]


def test_resending_the_validation_notice_makes_it_the_next_message(client: Client) -> None:
    account = placed("thirdco", validation_notice_at=NOW - timedelta(days=20))
    body = act(client, account.account_id, "resend_validation_notice")
    assert body["decision"]["contact_now"] == {"template": "validation_notice", "channel": "email"}
    assert body["account"]["validation_notice_at"] is None and body["account"]["next_contact_at"] is not None
    refused = client.act(placed().account_id, {"action": "resend_validation_notice", "reason": "asked"})
    assert (refused.status, refused.body["code"]) == (422, "not_third_party")


# --- queue and account view -----------------------------------------------------------------------


def test_the_queue_lists_one_lenders_accounts_needing_a_person_oldest_first(client: Client) -> None:
    dispute = disputed()
    hardship = placed(hardship_requested_at=NOW - timedelta(days=8))
    chargeback = placed(flags={Flag.DISPUTE})
    events.append(AuditEvent(chargeback.account_id, NOW - timedelta(hours=5), EventType.PAYMENT_DISPUTED,
                             "dispute:dp_1", "stripe", {"reason": "fraudulent"}))  # fmt: skip
    quiet = placed()
    elsewhere = placed("thirdco", hardship_requested_at=NOW - timedelta(days=30))

    body = client.queue("acme").body

    mine = [
        item
        for item in body["items"]
        if item["account_id"]
        in {dispute.account_id, hardship.account_id, chargeback.account_id, quiet.account_id, elsewhere.account_id}
    ]
    assert [(item["account_id"], item["reason"]) for item in mine] == [
        (hardship.account_id, "hardship"), (dispute.account_id, "dispute"), (chargeback.account_id, "chargeback"),
    ]  # fmt: skip
    assert all(item["account_id"].startswith("acme#") for item in body["items"])
    assert mine[0]["age_days"] == 8 and mine[0]["overdue"] is True  # 5 business days passed
    assert mine[1]["age_days"] == 3 and mine[1]["overdue"] is False
    assert mine[1]["due_by"] == "2026-04-05T15:00:00Z"
    only_disputes = client.request("GET", "/ops/queue", query="lender=acme&reason=chargeback").body["items"]
    assert chargeback.account_id in [i["account_id"] for i in only_disputes]
    assert {i["reason"] for i in only_disputes} == {"chargeback"}


def test_marking_an_item_handled_takes_it_off_the_queue(client: Client) -> None:
    account = placed(hardship_requested_at=NOW - timedelta(days=1))
    assert client.show(account.account_id).body["queue"][0]["reason"] == "hardship"
    act(client, account.account_id, "mark_handled", resolves=["hardship"], reason="called back, no offer wanted")
    assert client.show(account.account_id).body["queue"] == []


def test_the_account_view_shows_state_timeline_and_why(client: Client) -> None:
    account = disputed()
    act(client, account.account_id, "record_conversation", reason="debtor called about the dispute")
    body = client.show(account.account_id).body
    assert body["account"]["status"] == "active" and body["account"]["flags"] == ["dispute"]
    assert "email" not in body["account"] and body["account"]["ref"].startswith("••••")
    assert body["timeline"][-1].startswith("2026-03-09T15:00:00Z  #1  ops: record conversation  by " + OPERATOR)
    assert body["decision"]["reason"] == "not_collectible"
    assert body["queue"][0]["reason"] == "dispute"


# --- refusals and bad input -----------------------------------------------------------------------


@pytest.mark.parametrize("headers", [None, {"authorization": "Bearer portal-session-token"}])
def test_unsigned_or_debtor_calls_are_refused(client: Client, headers: dict[str, str] | None) -> None:
    account = placed()
    debtor = Client(NOW, principal=None if headers is None else OPERATOR)
    for reply in (
        debtor.queue("acme", headers=headers),
        debtor.show(account.account_id, headers=headers),
        debtor.act(account.account_id, {"action": "recall", "reason": "x"}, headers=headers),
    ):
        assert (reply.status, reply.body["code"]) == (403, "forbidden")
    assert accounts.get(account.account_id) == account and events.history(account.account_id) == []


def test_a_lender_scoped_principal_cannot_see_another_lenders_account(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    theirs = placed("acme")
    mine = placed("thirdco")
    scoped = service.Principal("lender:thirdco", frozenset({"thirdco"}))
    monkeypatch.setattr(ops_handler, "authorize", lambda event: scoped)
    assert client.show(theirs.account_id).status == 404
    assert client.act(theirs.account_id, {"action": "recall", "reason": "x"}).status == 404
    assert client.queue("acme").status == 403
    assert client.show(mine.account_id).status == 200
    assert accounts.get(theirs.account_id) == theirs


@pytest.mark.parametrize(("body", "status", "code"), [
    ("{not json", 422, "invalid_request"),
    ({"action": "explode", "reason": "x"}, 422, "invalid_request"),
    ({"action": "recall"}, 422, "invalid_request"),
    ({"action": "recall", "reason": ""}, 422, "invalid_request"),
    ({"action": "adjust_balance", "reason": "x", "delta_minor": -1, "code": "because"}, 422, "invalid_request"),
    ({"action": "adjust_balance", "reason": "x", "delta_minor": 5, "code": "goodwill"}, 422, "increase_not_allowed"),
    ({"action": "resolve_dispute", "reason": "x", "outcome": "verified"}, 422, "no_open_dispute"),
    ({"action": "recall", "reason": "x", "expected_version": 7}, 409, "version_conflict"),
])  # fmt: skip
def test_bad_input_is_a_clear_4xx(client: Client, body: Any, status: int, code: str) -> None:
    account = placed()
    reply = client.act(account.account_id, body)
    assert (reply.status, reply.body["code"]) == (status, code), reply.body
    assert reply.body["message"]
    assert accounts.get(account.account_id) == account


def test_unknown_accounts_and_a_missing_lender(client: Client) -> None:
    assert client.show("acme#NOPE").status == 404
    assert client.act("acme#NOPE", {"action": "recall", "reason": "x"}).status == 404
    assert client.request("GET", "/ops/queue").status == 400
    assert client.request("GET", "/ops/queue", query="lender=acme&reason=bored").status == 400
    assert client.request("GET", "/ops/nothing").status == 404


def test_a_concurrent_change_is_a_409_and_nothing_is_audited(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    account = placed()
    real = service.lenders.get_or_default

    def meanwhile(lender_id: str) -> Any:  # another writer saves the account between our read and our write
        current = accounts.get(account.account_id)
        assert current is not None
        accounts.save_state(current, current.with_changes(tier=3), NOW, 4)
        return real(lender_id)

    monkeypatch.setattr(service.lenders, "get_or_default", meanwhile)
    reply = client.act(account.account_id, {"action": "recall", "reason": "lender asked"})
    assert (reply.status, reply.body["code"]) == (409, "version_conflict")
    saved = accounts.get(account.account_id)
    assert saved is not None and saved.status is AccountStatus.ACTIVE and events.history(account.account_id) == []


def test_repeated_lockouts_reach_the_queue_through_the_portals_lock_mark(client: Client) -> None:
    account = placed()
    for hours in (30, 2):  # two lockouts (the portal counts them on the item and audits each)
        portal_store.record_failure(account.account_id, 1, NOW + timedelta(minutes=15))
        events.append(AuditEvent(account.account_id, NOW - timedelta(hours=hours), EventType.PORTAL_LOCKED,
                                 f"portal:lock-{hours}", "debtor", {"locked_until": "later"}))  # fmt: skip

    items = [i for i in client.queue("acme").body["items"] if i["account_id"] == account.account_id]

    assert [(i["reason"], i["since"]) for i in items] == [("lockouts", "2026-03-09T13:00:00Z")]


def test_a_dispute_flag_from_the_lenders_file_is_not_silently_left(client: Client) -> None:
    """The lender's upload owns its flags: resolving says so, and outreach waits for the lender's next file."""
    account = placed()
    AccountModel(account.account_id).update(actions=[AccountModel.lender_flags.set({Flag.DISPUTE.value})])
    reply = client.act(account.account_id, {"action": "resolve_dispute", "reason": "ledger ok", "outcome": "verified"})
    assert reply.status == 200, reply.body
    assert reply.body["lender_flags_kept"] == ["dispute"]
    assert "next upload drops the flag" in reply.body["note"]
    assert reply.body["decision"]["contact_now"] is None and reply.body["account"]["flags"] == ["dispute"]

    quiet = placed(flags={Flag.DISPUTE})  # a chargeback's flag: cleardue's own, cleared, nothing kept
    body = act(client, quiet.account_id, "resolve_dispute", outcome="verified")
    assert "lender_flags_kept" not in body and body["decision"]["contact_now"] is not None
