"""Erasure through the ops API and `cleardue erase`: audited with the operator, deferred with its date while
Reg F 1006.100 keeps the records, carried out by the scheduler on that date; the chain verifies throughout."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest

from functions.core.account import Channel, Flag
from functions.core.audit import EventType
from functions.ops import handler as ops_handler
from functions.store import accounts, events
from local import cli, erase_cli, ops_cli
from local.audit_cli import verify

from .conftest import NOW, OPERATOR, placed


@pytest.fixture(autouse=True)
def keep_authorizer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ops_handler, "authorize", ops_handler.authorize)


def erase(client: Any, account_id: str, body: Any) -> Any:
    return client.request("POST", f"/ops/accounts/{quote(account_id, safe='')}/erase", body)


def test_an_account_never_contacted_is_erased_at_once_and_the_operator_audited(client: Any) -> None:
    account = placed()
    accounts.add_debtor_text(account.account_id, "dispute_statement", "t-1", "My name is Dana Reyes", NOW)

    reply = erase(client, account.account_id, {"reason": "email from the debtor, ticket 4411"})

    assert reply.status == 200, reply.body
    assert (reply.body["status"], reply.body["erasure_due_at"]) == ("erased", "2026-03-09T15:00:00Z")
    shown = client.show(account.account_id).body
    assert shown["erasure"]["erased_at"] == "2026-03-09T15:00:00Z"
    assert [text["text"] for text in shown["debtor_texts"]] == []
    trail = events.history(account.account_id)
    assert [event.type for event in trail[-2:]] == [EventType.ERASURE_REQUESTED, EventType.ACCOUNT_ERASED]
    assert trail[-2].actor == OPERATOR and trail[-2].detail["reason"] == "email from the debtor, ticket 4411"
    lines: list[str] = []
    assert verify(account.account_id, lines.append) == 0, lines


def test_a_worked_account_is_deferred_with_the_date_and_contact_stops_now(client: Any) -> None:
    account = placed()
    accounts.record_contact(account.account_id, NOW - timedelta(days=1), "job-1", Channel.EMAIL)
    accounts.add_debtor_text(account.account_id, "hardship_note", "t-1", "Lost my job", NOW)

    reply = erase(client, account.account_id, {"reason": "letter of 2026-03-01"})

    assert reply.status == 200, reply.body
    assert (reply.body["status"], reply.body["erasure_due_at"]) == ("deferred", "2029-03-08T15:00:00Z")
    assert "1006.100" in reply.body["basis"] and "2029" not in reply.body["note"]
    kept = accounts.get(account.account_id)
    assert kept is not None and Flag.CEASE_COMMUNICATION in kept.flags and kept.next_contact_at is None
    shown = client.show(account.account_id).body
    assert shown["erasure"]["erasure_due_at"] == "2029-03-08T15:00:00Z" and shown["erasure"]["erased_at"] is None
    assert [text["text"] for text in shown["debtor_texts"]] == ["Lost my job"]  # kept until the date


def test_erase_needs_a_reason_and_a_visible_account(client: Any) -> None:
    account = placed()

    assert erase(client, account.account_id, {"reason": ""}).status == 422
    assert erase(client, "acme#NOPE", {"reason": "x"}).status == 404
    assert erase(client, account.account_id.replace("acme", "thirdco"), {"reason": "x"}).status == 404


def test_cleardue_erase_prints_the_deferral_date(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ops_cli.OPERATOR_ENV, "ana")
    account = placed()
    accounts.record_contact(account.account_id, NOW - timedelta(days=1), "job-1", Channel.EMAIL)
    local = ops_cli.in_process_transport(f"local:{ops_cli.local_operator()}", NOW)
    args = cli.build_parser().parse_args(["erase", account.account_id, "--reason", "phone call, ticket 9"])
    lines: list[str] = []

    code = erase_cli.erase_command(args, lines.append, local)

    assert code == 0, lines
    assert lines[0] == f"erasure of {account.account_id} DEFERRED until 2029-03-08T15:00:00Z (contact stopped now)"
    assert events.history(account.account_id)[-1].actor == "local:ana"
