"""Given a portfolio ingested through the real handler, the accounts table holds no plaintext PII; every reader
still sees the debtor; erasure shreds the debtor's key and the audit chain still verifies.

Reads the raw DynamoDB items with boto3 (what anyone with dynamodb:GetItem or a backup would see)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from functions.core import pii as core_pii
from functions.core.account import Channel, Flag
from functions.core.audit import EventType
from functions.core.lender import LenderProfile
from functions.store import StoreError, accounts, erasure, events, lenders, pii
from functions.store import webhooks as webhooks_store
from functions.store.accounts import AccountModel
from local.audit_cli import verify
from tests.events.factories import make_account, place
from tests.integration.ingest.test_ingest_handler import put, run

AT = datetime(2026, 3, 8, 14, 0, tzinfo=UTC)
HEADER = "external_ref,name,email,phone,postal_code,timezone,currency,principal,due_date,date_of_birth\r\n"
ROWS = (
    "P-1,Maria Garcia,Maria.Garcia@Example.com,+12125550100,10027,America/New_York,USD,57.34,2026-03-11,1970-03-13\r\n"
    "P-2,James Johnson,james.johnson@example.org,+13125550101,60601,America/Chicago,USD,141.68,2026-03-12,"
    "1991-01-03\r\n"
)
SAMPLE_PII = (
    "Maria",
    "Garcia",
    "maria.garcia",
    "2125550100",
    "10027",
    "1970-03-13",
    "James",
    "Johnson",
    "3125550101",
    "60601",
    "1991-01-03",
)


@pytest.fixture
def ingested(aws: dict[str, Any], context: Any) -> dict[str, Any]:
    lenders.put(LenderProfile(lender_id="acme", creditor_name="Acme Lending", identity_check="date_of_birth"))
    run(aws, context, put(aws, "portfolios/acme/pii.csv", HEADER + ROWS))
    return aws


def raw_items() -> list[dict[str, Any]]:
    table = boto3.client("dynamodb")
    return table.scan(TableName=AccountModel.Meta.table_name)["Items"]


def test_the_stored_items_hold_no_plaintext_pii(ingested) -> None:
    dump = json.dumps(raw_items())

    assert [value for value in SAMPLE_PII if value.casefold() in dump.casefold()] == []
    maria = accounts.get("acme#P-1")
    assert maria is not None
    assert (maria.debtor.name, maria.debtor.email, maria.debtor.phone, maria.debtor.postal_code) == (
        "Maria Garcia",
        "Maria.Garcia@example.com",
        "+12125550100",
        "10027",
    )


def test_the_webhooks_find_accounts_by_blind_index(ingested) -> None:
    assert webhooks_store.account_ids_by_email("MARIA.GARCIA@example.com") == ["acme#P-1"]
    assert webhooks_store.account_ids_by_phone("+13125550101") == ["acme#P-2"]
    assert webhooks_store.account_ids_by_phone("+13125550199") == []


def test_ingest_makes_no_kms_call_per_row(ingested) -> None:
    # One KEK for the tenant and one for the indexes: GenerateDataKey once each, whatever the row count.
    assert pii.keyring().kms_calls <= 2


def test_a_field_copied_to_another_account_does_not_open(ingested) -> None:
    maria = AccountModel.get("acme#P-1")
    AccountModel("acme#P-2").update(actions=[AccountModel.email.set(maria.email)])

    with pytest.raises(core_pii.PiiError):
        accounts.get("acme#P-2")


def test_a_reupload_keeps_the_debtor_key_so_free_text_stays_readable(ingested, context) -> None:
    accounts.add_debtor_text("acme#P-1", "dispute_statement", "t-1", "I paid in January", AT)
    changed = ROWS.replace("Maria.Garcia@Example.com", "maria@example.net")

    run(ingested, context, put(ingested, "portfolios/acme/pii-2.csv", HEADER + changed))

    maria = accounts.get("acme#P-1")
    assert maria is not None and maria.debtor.email == "maria@example.net"
    assert [text.text for text in accounts.debtor_texts("acme#P-1")] == ["I paid in January"]
    assert webhooks_store.account_ids_by_email("maria@example.net") == ["acme#P-1"]
    assert webhooks_store.account_ids_by_email("maria.garcia@example.com") == []


def test_erasure_of_an_account_never_worked_shreds_the_key_and_the_chain_still_verifies(ingested, context) -> None:
    accounts.add_debtor_text("acme#P-1", "hardship_note", "t-1", "Lost my job", AT)
    events_before = len(events.history("acme#P-1"))

    outcome = erasure.request("acme#P-1", "ops:alice", "GDPR request from maria.garcia@example.com", AT)

    assert (outcome.status, outcome.due_at) == ("erased", AT)
    [item] = [item for item in raw_items() if item["account_id"]["S"] == "acme#P-1"]
    assert not set(accounts.PII_ATTRIBUTES) & set(item) and "debtor_texts" not in item and "erased_at" in item
    erased = accounts.get("acme#P-1")
    assert erased is not None and (erased.debtor.name, erased.debtor.email, erased.debtor.phone) == ("", None, None)
    assert Flag.CEASE_COMMUNICATION in erased.flags and erased.next_contact_at is None
    assert webhooks_store.account_ids_by_email("maria.garcia@example.com") == []
    trail = events.history("acme#P-1")
    assert [event.type for event in trail[events_before:]] == [EventType.ERASURE_REQUESTED, EventType.ACCOUNT_ERASED]
    assert "maria" not in json.dumps([event.detail for event in trail]).casefold()
    lines: list[str] = []
    assert verify(None, lines.append) == 0, lines
    # The lender sends the account again: it stays erased, and the report says why.
    run(ingested, context, put(ingested, "portfolios/acme/pii-3.csv", HEADER + ROWS))
    assert accounts.get("acme#P-1").debtor.email is None
    again = erasure.request("acme#P-1", "ops:alice", "again", AT + timedelta(days=1))
    assert again.status == "already_erased"


def test_erasure_of_a_worked_account_is_deferred_with_its_date_then_carried_out(aws) -> None:
    contacted = datetime(2026, 3, 1, 15, tzinfo=UTC)
    place(replace(make_account("W-1"), last_contact_at=None), AT)
    accounts.record_contact("acme#W-1", contacted, "job-1", Channel.EMAIL)

    outcome = erasure.request("acme#W-1", "ops:alice", "debtor asked by letter", AT)

    due = datetime(2029, 3, 1, 15, tzinfo=UTC)
    assert (outcome.status, outcome.due_at) == ("deferred", due)
    kept = accounts.get("acme#W-1")
    assert kept is not None and kept.debtor.email == "dana.reyes@example.com"  # kept, sealed, until the date
    assert Flag.CEASE_COMMUNICATION in kept.flags and kept.next_contact_at is None  # but never contacted again
    assert erasure.run_due(due - timedelta(seconds=1)) == []
    assert erasure.run_due(due) == ["acme#W-1"]
    assert accounts.get("acme#W-1").debtor.email is None
    assert erasure.run_due(due + timedelta(days=1)) == []
    requested = events.history("acme#W-1")[-2]
    assert requested.detail["erasure_due_at"] == "2029-03-01T15:00:00Z" and requested.detail["deferred"] is True
    lines: list[str] = []
    assert verify("acme#W-1", lines.append) == 0, lines


def test_an_unknown_account_cannot_be_erased(aws) -> None:
    with pytest.raises(StoreError):
        erasure.request("acme#NOPE", "ops:alice", "x", AT)
