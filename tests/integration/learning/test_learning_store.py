"""The learning engine on moto: engagement marks and send-time priors written by the webhooks' store calls, the
scheduler placing contacts with them, and `cleardue train` from a real audit trail to a model artifact."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from functions.core.account import Account, Channel
from functions.core.audit import AuditEvent, EventType
from functions.core.compliance import gate_policy
from functions.core.engagement import Signal
from functions.core.lender import LenderProfile
from functions.core.propensity import FEATURES, Model, default_model
from functions.scheduler.service import Scheduler
from functions.store import accounts, events, learning, lenders
from functions.store import webhooks as engagement_store
from local.cli import main
from local.train_cli import export, read_store
from tests.conftest import BUCKET
from tests.events.factories import make_account, place

TICK = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # Tuesday 10:00 in Chicago; due 2026-02-20: mid stage, tier 2
CHICAGO = ZoneInfo("America/Chicago")
FRIDAY_19 = 4 * 24 + 19  # hour of week: inside the 24 hours after the cadence's Friday 10:00


def test_a_response_counts_for_the_account_marks_its_channel_and_feeds_the_segments_prior(aws) -> None:
    account = make_account("E-1")
    place(account, TICK)
    at = datetime(2026, 3, 13, 0, 30, tzinfo=UTC)  # Thursday 19:30 in Chicago
    for _ in range(2):
        assert learning.record_engagement(account, Signal.DELIVERED, Channel.EMAIL, at)
    assert learning.record_engagement(account, Signal.OPENED, Channel.EMAIL, at)
    counts = engagement_store.engagement_counts(account.account_id)
    assert counts["email:delivered"] == 2 and counts["email:opened"] == 1 and counts["how:91"] == 1
    assert counts["email:answered"] == 2  # the deliveries counted when the response came
    assert learning.prior_counts("acme") == {"mid#0#email": {91: 1}}  # deliveries are not responses
    assert learning.record_engagement(account, Signal.PAID, None, at)
    assert learning.prior_counts("acme")["mid#0#any"] == {91: 1}
    assert not learning.record_engagement(make_account("absent"), Signal.OPENED, Channel.EMAIL, at)


def run_scheduler(aws, profile: LenderProfile, model: Model | None = None) -> Account:
    lenders.put(profile)
    account = make_account("S-1")
    place(account, TICK - timedelta(hours=1))
    rules = profile.rules()
    scheduler = Scheduler(
        aws["sqs"], {Channel.EMAIL: aws["queue_url"]}, 4, lambda _: (rules, gate_policy(rules)), model=model
    )
    assert scheduler.run(TICK).enqueued == 1
    stored = accounts.get(account.account_id)
    assert stored is not None and stored.next_contact_at is not None
    return stored


def test_the_scheduler_places_the_next_contact_at_the_hour_the_segment_answers(aws) -> None:
    for _ in range(25):
        learning.add_response("acme", "mid#2#email", FRIDAY_19)
    moment = run_scheduler(aws, LenderProfile(lender_id="acme", creditor_name="Acme")).next_contact_at
    assert moment is not None and (moment.astimezone(CHICAGO).weekday(), moment.astimezone(CHICAGO).hour) == (4, 19)


def test_a_reminder_due_in_the_morning_waits_for_the_evening_its_segment_answers_then_goes(aws) -> None:
    # Given a segment that answers on Tuesday evenings, and a reminder due on Tuesday at 10:00 (Chicago),
    for _ in range(25):
        learning.add_response("acme", "mid#2#email", 1 * 24 + 19)
    profile = LenderProfile(lender_id="acme", creditor_name="Acme")
    lenders.put(profile)
    account = make_account("S-1")
    place(account, TICK - timedelta(hours=1))
    rules = profile.rules()
    scheduler = Scheduler(aws["sqs"], {Channel.EMAIL: aws["queue_url"]}, 4, lambda _: (rules, gate_policy(rules)))
    # when the scheduler runs at 10:00, nothing is sent: the reminder is timed to 19:00 today,
    morning = scheduler.run(TICK)
    assert (morning.enqueued, morning.timed, morning.held) == (0, 1, 0)
    evening = accounts.get(account.account_id).next_contact_at  # type: ignore[union-attr]
    assert evening is not None and evening.astimezone(CHICAGO).strftime("%a %H:%M") == "Tue 19:00"
    # and the run at 19:00 sends it, placing the next contact by the cadence and the prior (Friday 19:00).
    assert scheduler.run(evening).enqueued == 1
    following = accounts.get(account.account_id).next_contact_at  # type: ignore[union-attr]
    assert following is not None and following.astimezone(CHICAGO).strftime("%a %H:%M") == "Fri 19:00"


def test_with_learning_off_the_scheduler_keeps_the_cadences_hour(aws) -> None:
    for _ in range(25):
        learning.add_response("acme", "mid#2#email", FRIDAY_19)
    profile = LenderProfile(lender_id="acme", creditor_name="Acme", outreach={"learning": False})
    assert run_scheduler(aws, profile, unlikely_payer()).next_contact_at == TICK + timedelta(days=3)


def unlikely_payer() -> Model:
    """A model that gives every account a 5 % chance of paying within 30 days."""
    n = len(FEATURES)
    return Model("test", FEATURES, (0.0,) * n, (1.0,) * n, math.log(0.05 / 0.95), (0.0,) * n)


def test_the_scheduler_tiers_by_the_propensity_model_it_was_given(aws) -> None:
    stored = run_scheduler(aws, LenderProfile(lender_id="acme", creditor_name="Acme"), unlikely_payer())
    assert stored.tier == 1  # risk 0.95: the most intense treatment (the shipped model: p 0.58, tier 2)
    off = LenderProfile(lender_id="acme", creditor_name="Acme", outreach={"learning": {"propensity": False}})
    assert run_scheduler(aws, off, unlikely_payer()).tier == 2


def test_an_absent_or_unreadable_model_falls_back_to_the_shipped_one(aws) -> None:
    import pytest

    from functions.scheduler import handler
    from functions.store import StoreError

    assert learning.load_model(f"s3://{BUCKET}/models/propensity/latest.json") == default_model()  # none yet
    with pytest.raises(StoreError):
        learning.load_model("s3://no-such-bucket/models/propensity/latest.json")
    with pytest.raises(StoreError):
        learning.load_model("https://example.com/model.json")
    aws["s3"].put_object(Bucket=BUCKET, Key="models/propensity/latest.json", Body=b'{"kind": "other"}')
    with pytest.raises(StoreError):
        learning.load_model(f"s3://{BUCKET}/models/propensity/latest.json")
    handler._model.cache_clear()
    assert handler._model(f"s3://{BUCKET}/models/propensity/latest.json") == default_model()
    assert handler._model(None) == default_model()
    handler._model.cache_clear()


def build_trail() -> None:
    """40 accounts reminded every 5 days from 1 January: the small debts' debtors visit the pay page and pay
    on day 12; the big ones never answer."""
    start = datetime(2026, 1, 1, 15, tzinfo=UTC)
    for n in range(40):
        payer = n % 2 == 0
        account = make_account(f"T-{n}", principal=3_000 if payer else 60_000, due=start.date() - timedelta(days=5))
        place(account, start)
        trail = [(day, EventType.REMINDER_SENT, {"template": "reminder"}) for day in range(0, 50, 5)]
        if payer:
            trail += [
                (11, EventType.PORTAL_VERIFIED, {}),
                (12, EventType.PAYMENT_APPLIED, {"amount_minor": 6_350, "credit_minor": 0}),
            ]
        for day, kind, detail in sorted(trail, key=lambda entry: entry[0]):
            at = start + timedelta(days=day, minutes=n)
            events.append(AuditEvent(account.account_id, at, kind, f"{kind}:{day}", "test", detail))
    events.append(
        AuditEvent("acme#T-0", start + timedelta(days=90), EventType.REMINDER_SENT, "late", "test", {"template": "x"})
    )


def test_cleardue_train_learns_from_the_audit_trail_and_writes_the_artifact(aws, tmp_path: Path, capsys) -> None:
    build_trail()
    settings = aws["settings"]
    artifact = tmp_path / "propensity.json"
    tables = ["--accounts-table", settings.accounts_table, "--events-table", settings.events_table]
    code = main(["train", *tables, "--seed", "3", "--out", str(artifact), "--bucket", BUCKET])
    printed = capsys.readouterr().out
    assert code == 0, printed
    model = Model.from_json(json.loads(artifact.read_text()))
    assert model.training["accounts"] == 32 and model.evaluation["examples"] > 0
    assert model.evaluation["auc"] > 0.75  # small debts that visit the pay page pay
    assert f"AUC {model.evaluation['auc']}" in printed and "reliability" in printed
    keys = {o["Key"] for o in aws["s3"].list_objects_v2(Bucket=BUCKET, Prefix="models/")["Contents"]}
    assert keys == {f"models/propensity/{model.version}.json", "models/propensity/latest.json"}
    loaded = learning.load_model(f"s3://{BUCKET}/models/propensity/latest.json")
    assert loaded.version == model.version

    # The same trail from a directory export trains the same model.
    found_accounts, trails = read_store()
    export(found_accounts.values(), trails, tmp_path / "export")
    again = tmp_path / "again.json"
    assert main(["train", "--from", str(tmp_path / "export"), "--seed", "3", "--out", str(again)]) == 0
    assert Model.from_json(json.loads(again.read_text())).version == model.version
