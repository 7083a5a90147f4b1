"""Given a lender testing reminder wordings (and tones), the scheduler picks a variant (and a tone) from the stored
standings, the sender counts its exposure once, and a payment within the reward window rewards it once (signed
Stripe webhooks)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from functions.core.account import Channel
from functions.core.compliance import gate_policy
from functions.core.experiments import CHANNEL, TONE, Choice, Standing, parse_choice, parse_choices
from functions.core.jobs import Job
from functions.core.lender import LenderProfile
from functions.scheduler.service import Scheduler
from functions.sender.handler import email_handler, sms_handler
from functions.store import experiments as store
from functions.store import lenders
from functions.webhooks.handler import stripe_handler
from local.lambda_events import LocalLambdaContext
from tests.events.factories import job_event, make_account, place
from tests.integration.webhooks.conftest import SENDER
from tests.integration.webhooks.helpers import body_of, drain, http_event, signature, stripe_event

TICK = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # 10:00 in Chicago; due 2026-02-20: mid stage
ACCOUNT = make_account("A-7")
SEGMENT = "mid#2#en"
PROFILE = LenderProfile(
    lender_id="acme",
    creditor_name="Acme",
    outreach={"experiments": {"enabled": True, "min_exposures": 10, "exploration": 0, "reward_window_days": 7}},
)


def standing(variant: str):
    return store.standings("acme", SEGMENT).get(f"reminder#{variant}")


def seed(variant: str, exposures: int, rewards: int) -> None:
    store.ExperimentModel(f"acme#{SEGMENT}", f"reminder#{variant}", exposures=exposures, rewards=rewards).save()


@pytest.fixture
def sent_b(hooks: dict[str, Any]) -> Job:
    """A scheduler run over the placed account (b far ahead in the stored standings), its job sent by email."""
    boto3.client("ses").verify_domain_identity(Domain=SENDER.split("@")[1])
    lenders.put(PROFILE)
    seed("a", 1_000, 10)
    seed("b", 1_000, 300)
    place(ACCOUNT, TICK - timedelta(hours=1))
    rules = PROFILE.rules()
    scheduler = Scheduler(hooks["sqs"], {Channel.EMAIL: hooks["queue_url"]}, 4, lambda _: (rules, gate_policy(rules)))
    summary = scheduler.run(TICK)
    assert summary.enqueued == 1
    (raw,) = drain(hooks["sqs"], hooks["queue_url"])
    job = Job.model_validate(raw)
    assert job.variant == "b"
    assert parse_choice(job.reason) == Choice(SEGMENT, "reminder", "b", "thompson")
    assert email_handler(job_event([job], TICK), LocalLambdaContext("cleardue-email-sender")) == {
        "batchItemFailures": []
    }
    return job


def pay(payment_id: str, event_id: str, at: datetime) -> str:
    event = stripe_event(
        "rubymock_payment_intent.succeeded.json",
        event_id=event_id,
        created=at,
        account_id=ACCOUNT.account_id,
        id=payment_id,
        amount=3_000,
        amount_received=3_000,
    )
    body = body_of(event)
    response = stripe_handler(http_event(body, signature(body), at), LocalLambdaContext("cleardue-webhooks"))
    assert response["statusCode"] == 200
    return str(response["body"])


def test_a_sent_variant_counts_one_exposure_even_when_the_batch_is_delivered_again(sent_b: Job) -> None:
    assert (standing("b").exposures, standing("a").exposures) == (1_001, 1_000)
    again = email_handler(job_event([sent_b], TICK + timedelta(minutes=5)), LocalLambdaContext("cleardue-email-sender"))
    assert again == {"batchItemFailures": []}
    assert standing("b").exposures == 1_001


def test_a_payment_two_days_later_rewards_the_variant_once_even_when_delivered_twice(sent_b: Job) -> None:
    paid_at = TICK + timedelta(days=2)
    assert '"applied"' in pay("pi_exp_1", "evt_exp_1", paid_at)
    pay("pi_exp_1", "evt_exp_1", paid_at)  # Stripe's redelivery
    assert (standing("b").rewards, standing("a").rewards) == (301, 10)
    # A second payment after the same message does not reward it twice: one reward per message.
    pay("pi_exp_2", "evt_exp_2", paid_at + timedelta(hours=3))
    assert standing("b").rewards == 301


def test_a_payment_after_the_window_rewards_nothing(sent_b: Job) -> None:
    assert '"applied"' in pay("pi_late", "evt_late", TICK + timedelta(days=7, minutes=1))
    assert (standing("b").rewards, standing("a").rewards) == (300, 10)


def test_a_lender_without_experiments_sends_a_and_writes_no_statistics(hooks: dict[str, Any]) -> None:
    lenders.put(LenderProfile(lender_id="acme", creditor_name="Acme"))
    place(ACCOUNT, TICK - timedelta(hours=1))
    rules = LenderProfile(lender_id="acme", creditor_name="Acme").rules()
    Scheduler(hooks["sqs"], {Channel.EMAIL: hooks["queue_url"]}, 4, lambda _: (rules, gate_policy(rules))).run(TICK)
    (raw,) = drain(hooks["sqs"], hooks["queue_url"])
    assert raw["variant"] == "a" and parse_choice(raw["reason"]) is None
    assert store.standings("acme", SEGMENT) == {}


def test_a_reward_is_written_once_per_message_whatever_retries_the_webhook(hooks: dict[str, Any]) -> None:
    # A delivery that rewarded and then failed before the payment's audit event is retried by Stripe:
    # the marker written in the reward's transaction turns the second reward into a no-op.
    choice = Choice(SEGMENT, "reminder", "b", "thompson")
    assert store.add_reward("acme", ACCOUNT.account_id, "job:abc", [choice]) is True
    assert store.add_reward("acme", ACCOUNT.account_id, "job:abc", [choice]) is False
    assert store.add_reward("acme", ACCOUNT.account_id, "job:def", [choice]) is True
    assert standing("b").rewards == 2


def test_a_lender_testing_tones_learns_the_tone_with_the_wording(hooks: dict[str, Any]) -> None:
    # Given a lender testing friendly against firm reminders, and firm far behind in the stored standings,
    boto3.client("ses").verify_domain_identity(Domain=SENDER.split("@")[1])
    outreach = {"experiments": {**PROFILE.outreach.experiments.model_dump(), "tones": ["friendly", "firm"]}}
    profile = LenderProfile(lender_id="acme", creditor_name="Acme", outreach=outreach)
    lenders.put(profile)
    seed("a", 1_000, 10)
    seed("b", 1_000, 300)
    store.ExperimentModel(f"acme#{SEGMENT}", f"{TONE}#friendly", exposures=1_000, rewards=300).save()
    store.ExperimentModel(f"acme#{SEGMENT}", f"{TONE}#firm", exposures=1_000, rewards=10).save()
    place(ACCOUNT, TICK - timedelta(hours=1))
    rules = profile.rules()
    Scheduler(hooks["sqs"], {Channel.EMAIL: hooks["queue_url"]}, 4, lambda _: (rules, gate_policy(rules))).run(TICK)
    (raw,) = drain(hooks["sqs"], hooks["queue_url"])
    job = Job.model_validate(raw)
    # when the scheduler decides, the reminder goes out friendly, and the reason says both choices;
    assert (job.variant, job.tone.value) == ("b", "friendly")
    assert parse_choices(job.reason) == (
        Choice(SEGMENT, "reminder", "b", "thompson"), Choice(SEGMENT, TONE, "friendly", "thompson"),
    )  # fmt: skip
    assert email_handler(job_event([job], TICK), LocalLambdaContext("cleardue-email-sender")) == {
        "batchItemFailures": []
    }
    tone = store.standings("acme", SEGMENT)
    # then sending it counts one exposure for each, and a payment two days later rewards each once.
    assert (tone[f"{TONE}#friendly"].exposures, tone[f"{TONE}#firm"].exposures, standing("b").exposures) == (
        1_001, 1_000, 1_001,
    )  # fmt: skip
    paid_at = TICK + timedelta(days=2)
    assert '"applied"' in pay("pi_tone_1", "evt_tone_1", paid_at)
    pay("pi_tone_1", "evt_tone_1", paid_at)  # Stripe's redelivery
    tone = store.standings("acme", SEGMENT)
    assert (tone[f"{TONE}#friendly"].rewards, tone[f"{TONE}#firm"].rewards, standing("b").rewards) == (301, 10, 301)


def test_a_lender_testing_channels_texts_first_where_texts_paid_and_the_text_is_counted_and_rewarded(
    hooks: dict[str, Any],
) -> None:
    # Given a lender testing email against texts, texts far ahead in its standings, and a debtor who may be texted,
    outreach = {"experiments": {**PROFILE.outreach.experiments.model_dump(), "channels": ["email", "sms"]}}
    profile = LenderProfile(lender_id="acme", creditor_name="Acme", outreach=outreach)
    lenders.put(profile)
    store.ExperimentModel(f"acme#{SEGMENT}", f"{CHANNEL}#email", exposures=1_000, rewards=10).save()
    store.ExperimentModel(f"acme#{SEGMENT}", f"{CHANNEL}#sms", exposures=1_000, rewards=300).save()
    debtor = replace(ACCOUNT.debtor, phone_is_mobile=True, sms_consent=True)
    place(ACCOUNT.with_changes(debtor=debtor), TICK - timedelta(hours=1))
    rules = profile.rules()
    queues = {Channel.EMAIL: hooks["queue_url"], Channel.SMS: hooks["sms_queue_url"]}
    Scheduler(hooks["sqs"], queues, 4, lambda _: (rules, gate_policy(rules))).run(TICK)
    # when the scheduler decides, the reminder goes to the text queue (the policy's order alone says email first),
    assert drain(hooks["sqs"], hooks["queue_url"]) == []
    (raw,) = drain(hooks["sqs"], hooks["sms_queue_url"])
    job = Job.model_validate(raw)
    assert job.channel is Channel.SMS and Choice(SEGMENT, CHANNEL, "sms", "thompson") in parse_choices(job.reason)
    assert sms_handler(job_event([job], TICK), LocalLambdaContext("cleardue-sms-sender")) == {"batchItemFailures": []}
    # then sending it counts one exposure of the text arm, and a payment two days later rewards it once.
    counted = store.standings("acme", SEGMENT)
    assert (counted[f"{CHANNEL}#sms"].exposures, counted[f"{CHANNEL}#email"].exposures) == (1_001, 1_000)
    paid_at = TICK + timedelta(days=2)
    assert '"applied"' in pay("pi_channel_1", "evt_channel_1", paid_at)
    pay("pi_channel_1", "evt_channel_1", paid_at)  # Stripe's redelivery
    counted = store.standings("acme", SEGMENT)
    assert (counted[f"{CHANNEL}#sms"].rewards, counted[f"{CHANNEL}#email"].rewards) == (301, 10)


def test_a_new_segment_starts_from_what_the_lenders_other_segments_learned(hooks: dict[str, Any]) -> None:
    # Given a lender whose other segments found b far better (none of it in the account's segment, mid#2#en),
    boto3.client("ses").verify_domain_identity(Domain=SENDER.split("@")[1])
    outreach = {"experiments": {**PROFILE.outreach.experiments.model_dump(), "pool_weight": 400}}
    profile = LenderProfile(lender_id="acme", creditor_name="Acme", outreach=outreach)
    lenders.put(profile)
    for segment, (a, b) in {"early#2#en": ((300, 3), (300, 60)), "late#1#es": ((200, 2), (200, 40))}.items():
        store.ExperimentModel(f"acme#{segment}", "reminder#a", exposures=a[0], rewards=a[1]).save()
        store.ExperimentModel(f"acme#{segment}", "reminder#b", exposures=b[0], rewards=b[1]).save()
    store.ExperimentModel("acme#mid#2#fr", "reminder#a", exposures=50, rewards=0).save()  # outside the pool
    rules = profile.rules()
    assert rules.experiments is not None
    # when the scheduler's run reads the standings, the segment's arms carry the pool as a prior (400 of the
    # 500 exposures each, at the others' rates: 4 and 80 rewards), read in one batch with every other segment;
    run = store.RunStandings()
    standings = run.of("acme", rules.experiments)
    assert standings(SEGMENT) == {"reminder#a": Standing(400, 4), "reminder#b": Standing(400, 80)}
    assert standings("early#2#en")["reminder#b"] == Standing(300 + 200, 60 + 40)
    # a language without templates is a segment of its own that gets the same prior but is not in it;
    assert standings("mid#2#fr")["reminder#a"] == Standing(50 + 400, 4)
    assert standings(SEGMENT)["reminder#a"] == Standing(400, 4)
    assert run.failures == 0
    # without pooling the segment is on its own;
    unpooled = store.RunStandings().of("acme", replace(rules.experiments, pool_weight=0))
    assert unpooled(SEGMENT) == {}
    # and the decision there is Thompson's, not a warm-up pick: b, as the lender learned.
    place(ACCOUNT, TICK - timedelta(hours=1))
    Scheduler(hooks["sqs"], {Channel.EMAIL: hooks["queue_url"]}, 4, lambda _: (rules, gate_policy(rules))).run(TICK)
    (raw,) = drain(hooks["sqs"], hooks["queue_url"])
    assert parse_choice(raw["reason"]) == Choice(SEGMENT, "reminder", "b", "thompson")


def test_an_unreadable_pool_counts_as_unseen_for_the_run(
    hooks: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*_: object, **__: object) -> None:
        raise store.StoreError("throttled")

    monkeypatch.setattr(store, "pooled_standings", fail)
    rules = PROFILE.rules()
    assert rules.experiments is not None and rules.experiments.pool_weight > 0
    seed("b", 1_000, 300)
    run = store.RunStandings()
    assert run.of("acme", rules.experiments)(SEGMENT) == {}
    assert run.failures == 1
