"""Verifying real trails on DynamoDB (moto): written by events.append, tampered with through the raw API."""

import json
import logging
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto.server import ThreadedMotoServer

from functions import names
from functions.core.audit import AuditEvent, BreakKind, EventType
from functions.store import audit_reader, events, tables
from functions.store.events import EventIdModel, EventModel
from functions.store.settings import StoreSettings
from local import cli

AT = datetime(2026, 3, 8, 14, tzinfo=UTC)


def write_trail(account_id: str, count: int) -> None:
    for n in range(1, count + 1):
        kind = EventType.REMINDER_SENT if n % 2 else EventType.PAYMENT_APPLIED
        event = AuditEvent(account_id, AT + timedelta(hours=n), kind, f"job:{n}", "sender", {"job_id": f"j{n}", "n": n})
        assert events.append(event) is not None


def key(account_id: str, seq: int) -> dict:
    return {"account_id": {"S": account_id}, "sk": {"S": f"e#{seq:010d}"}}


def overwrite(dynamodb, account_id: str, seq: int, path: str, value: str) -> None:
    """Set one attribute of a stored event (`path`, dotted for a nested one) through the raw API."""
    client, table = dynamodb
    parts = path.split(".")
    client.update_item(
        TableName=table,
        Key=key(account_id, seq),
        UpdateExpression="SET " + ".".join(f"#p{n}" for n in range(len(parts))) + " = :v",
        ExpressionAttributeNames={f"#p{n}": part for n, part in enumerate(parts)},
        ExpressionAttributeValues={":v": {"S": value}},
    )


def verdicts(page_size: int | None = None) -> dict[str, list[tuple[int, BreakKind]]]:
    found = {}
    for trail in audit_reader.trails(page_size=page_size):
        found[trail.account_id] = [(b.seq, b.kind) for b in trail.verify()]
    return found


@pytest.fixture
def dynamodb(aws):
    write_trail("acme#A-1", 4)
    write_trail("acme#B-2", 3)
    write_trail("zeta#C-3", 5)
    return boto3.client("dynamodb"), aws["settings"].events_table


def test_untouched_trails_verify_across_pages(dynamodb) -> None:
    assert verdicts(page_size=2) == {"acme#A-1": [], "acme#B-2": [], "zeta#C-3": []}
    assert [e.seq for e in audit_reader.trail("zeta#C-3").events] == [1, 2, 3, 4, 5]


def test_a_detail_changed_with_update_item_is_found(dynamodb) -> None:
    overwrite(dynamodb, "acme#B-2", 2, "detail.job_id", "forged")
    assert verdicts() == {"acme#A-1": [], "acme#B-2": [(2, BreakKind.ALTERED)], "zeta#C-3": []}


def test_a_type_no_writer_uses_is_found_not_a_crash(dynamodb) -> None:
    overwrite(dynamodb, "acme#A-1", 3, "type", "debt_forgiven")
    assert audit_reader.trail("acme#A-1").verify()[0].kind == BreakKind.ALTERED


def test_an_item_the_model_cannot_load_is_altered_in_place(dynamodb) -> None:
    overwrite(dynamodb, "zeta#C-3", 2, "at", "yesterday")
    assert [(b.seq, b.kind) for b in audit_reader.trail("zeta#C-3").verify()] == [(2, BreakKind.ALTERED)]


def test_a_deleted_middle_event_is_missing(dynamodb) -> None:
    client, table = dynamodb
    client.delete_item(TableName=table, Key=key("zeta#C-3", 3))
    assert verdicts()["zeta#C-3"] == [(3, BreakKind.MISSING)]


def test_a_deleted_tail_is_found_by_the_markers_left_behind(dynamodb) -> None:
    client, table = dynamodb
    client.delete_item(TableName=table, Key=key("acme#A-1", 4))
    assert verdicts()["acme#A-1"] == [(4, BreakKind.TRUNCATED)]


def test_a_forged_event_put_at_the_head_breaks_the_link(dynamodb) -> None:
    client, table = dynamodb
    forged = AuditEvent("acme#B-2", AT, EventType.PAYMENT_APPLIED, "job:4", "ops", {"amount": 500}).sealed(4, "f" * 64)
    client.put_item(
        TableName=table,
        Item={
            **key("acme#B-2", 4),
            "seq": {"N": "4"},
            "at": {"S": "2026-03-08T14:00:00Z"},
            "event_id": {"S": forged.event_id},
            "type": {"S": forged.type.value},
            "actor": {"S": forged.actor},
            "detail": {"M": {"amount": {"N": "500"}}},
            "prev_hash": {"S": forged.prev_hash},
            "hash": {"S": forged.hash},
        },
    )
    client.put_item(TableName=table, Item={"account_id": {"S": "acme#B-2"}, "sk": {"S": "id#job:4"}, "seq": {"N": "4"}})
    assert verdicts()["acme#B-2"] == [(4, BreakKind.LINK)]


def test_one_account_is_read_by_query(dynamodb) -> None:
    client, table = dynamodb
    client.delete_item(TableName=table, Key=key("acme#B-2", 1))
    assert [(b.seq, b.kind) for b in audit_reader.trail("acme#B-2").verify()] == [(1, BreakKind.MISSING)]
    assert audit_reader.trail("nobody#X").verify() == []


def test_an_account_whose_items_come_back_in_two_runs_is_read_again_whole(dynamodb, monkeypatch) -> None:
    real = events.EventModel._get_connection()
    items = real.scan()["Items"]
    first = [i for i in items if i["account_id"]["S"] == "acme#A-1"]
    interleaved = first[:2] + [i for i in items if i["account_id"]["S"] != "acme#A-1"] + first[2:]

    class SplitScan:
        def scan(self, **_: object) -> dict:
            return {"Items": interleaved}

        def query(self, *args: object, **kwargs: object) -> dict:
            return real.query(*args, **kwargs)

    monkeypatch.setattr(events.EventModel, "_get_connection", lambda: SplitScan())
    seen = [(trail.account_id, len(trail.events)) for trail in audit_reader.trails()]

    assert seen[-1] == ("acme#A-1", 4)  # the partial first run is superseded by the whole trail
    assert dict(seen) == {"acme#A-1": 4, "acme#B-2": 3, "zeta#C-3": 5}


# --- `cleardue audit verify` --------------------------------------------------------------------------------


def test_the_command_says_a_clean_trail_verifies_and_exits_0(dynamodb, capsys) -> None:
    _, table = dynamodb
    assert cli.main(["audit", "verify", "--table", table]) == 0
    assert capsys.readouterr().out.splitlines() == ["3 account(s), 12 event(s), 0 break(s): the trail verifies"]


def test_the_command_prints_each_break_and_exits_1(dynamodb, capsys) -> None:
    client, table = dynamodb
    client.delete_item(TableName=table, Key=key("zeta#C-3", 3))
    overwrite(dynamodb, "acme#A-1", 1, "actor", "insider")

    assert cli.main(["audit", "verify", "--table", table]) == 1

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("acme#A-1 seq 1: altered: content does not match its hash")
    assert lines[1] == "zeta#C-3 seq 3: missing: event 3 is not in the trail"
    assert lines[2] == "3 account(s), 11 event(s), 2 break(s): the trail does NOT verify"


def test_the_command_verifies_one_account(dynamodb, capsys) -> None:
    client, table = dynamodb
    client.delete_item(TableName=table, Key=key("zeta#C-3", 3))

    assert cli.main(["audit", "verify", "--table", table, "--account", "acme#B-2"]) == 0
    assert capsys.readouterr().out.splitlines() == ["1 account(s), 3 event(s), 0 break(s): the trail verifies"]
    assert cli.main(["audit", "verify", "--table", table, "--account", "zeta#C-3"]) == 1
    assert cli.main(["audit", "verify", "--table", table, "--account", "nobody#X"]) == 2
    assert "no audit trail for nobody#X" in capsys.readouterr().err


def test_the_command_needs_the_local_stack_or_a_table(tmp_path, capsys) -> None:
    assert cli.main(["audit", "verify", "--state-dir", str(tmp_path)]) == 2
    assert "outputs.json not found" in capsys.readouterr().err


@pytest.fixture
def local_stack(tmp_path, monkeypatch):
    """A moto server and the outputs.json `cleardue up` writes, with trails in its events table."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)  # restored after the test, whatever the command sets
    settings = StoreSettings(region="us-east-1", events_table="local-events")
    tables.configure(settings)
    EventModel.create_table(wait=True)
    write_trail("acme#A-1", 3)
    outputs = {names.OUTPUT_AWS_ENDPOINT: endpoint, names.OUTPUT_REGION: "us-east-1"}
    (tmp_path / "outputs.json").write_text(json.dumps({**outputs, names.OUTPUT_EVENTS_TABLE: "local-events"}))
    yield tmp_path, boto3.client("dynamodb", endpoint_url=endpoint)
    server.stop()
    EventModel._connection = EventIdModel._connection = None


def test_the_command_finds_the_local_stack_from_its_outputs(local_stack, monkeypatch, capsys) -> None:
    state, client = local_stack
    monkeypatch.delenv("AWS_ENDPOINT_URL")  # as in a fresh shell: outputs.json says where the stack is

    assert cli.main(["audit", "verify", "--state-dir", str(state)]) == 0
    overwrite((client, "local-events"), "acme#A-1", 2, "prev_hash", "0" * 64)
    assert cli.main(["audit", "verify", "--state-dir", str(state)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines[1:-1]] == ["acme#A-1 seq 2", "acme#A-1 seq 2"]
    assert lines[-1] == "1 account(s), 3 event(s), 2 break(s): the trail does NOT verify"
