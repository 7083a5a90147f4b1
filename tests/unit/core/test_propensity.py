"""The propensity model: one feature function, deterministic training, held-out evaluation, never eligibility."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from functions.core import propensity
from functions.core.account import Block, Channel, Dispute, Flag, Payment, Promise, PromiseStatus
from functions.core.audit import AuditEvent, EventType
from functions.core.compliance import gate_policy
from functions.core.decision import Learned, NoContactReason, decide
from functions.core.lender import LenderProfile
from functions.core.money import Money
from functions.core.propensity import FEATURES, Facts, Model, auc, facts_at, facts_of, features
from local.train_cli import synthetic_examples
from tests.events.factories import make_account

NOW = datetime(2026, 3, 8, 14, 0, tzinfo=UTC)  # 09:00 in Chicago; due 2026-02-20: 16 days past due
RULES = LenderProfile(lender_id="acme", creditor_name="Acme").rules()


def constant(p: float) -> Model:
    """A model that says `p` for everyone (only the intercept)."""
    import math

    return Model("test", FEATURES, (0.0,) * len(FEATURES), (1.0,) * len(FEATURES), math.log(p / (1 - p)), (0.0,) * 10)


def test_the_same_seed_trains_the_same_model_and_a_known_signal_is_found() -> None:
    examples = synthetic_examples(3_000, seed=3)
    first = propensity.train(examples, seed=11)
    again = propensity.train(synthetic_examples(3_000, seed=3), seed=11)
    assert first.coefficients == again.coefficients and first.intercept == again.intercept
    assert first.evaluation == again.evaluation and first.version == again.version
    assert first.evaluation["auc"] > 0.75  # the synthetic population's true model has a clear signal
    other = propensity.train(examples, seed=12)  # another split of the same accounts
    assert other.version != first.version
    # The signs the population was drawn with: later, bigger debts pay less; visits and kept promises more.
    weights = dict(zip(FEATURES, first.coefficients, strict=True))
    assert weights["dpd_months"] < 0 and weights["promise_broken"] < 0
    assert weights["log_portal_visits"] > 0 and weights["promise_kept"] > 0


def test_the_evaluation_reports_auc_brier_and_reliability_on_held_out_accounts() -> None:
    model = propensity.train(synthetic_examples(2_000, seed=5), seed=5, holdout=0.25)
    evaluation = model.evaluation
    assert evaluation["examples"] == 500 and model.training["examples"] == 1_500
    assert 0 < evaluation["brier"] < 0.25
    bins = evaluation["reliability"]
    assert sum(b["count"] for b in bins) == 500
    assert all(abs(b["predicted"] - b["observed"]) < 0.25 for b in bins if b["count"] >= 50)  # calibrated


def test_auc_counts_ties_as_half() -> None:
    assert auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75
    assert auc([0.5, 0.5], [0, 1]) == 0.5
    assert auc([0.2, 0.3], [1, 1]) is None


def test_the_artifact_round_trips_and_the_shipped_default_loads() -> None:
    model = propensity.train(synthetic_examples(800, seed=2), seed=2)
    loaded = Model.from_json(json.loads(json.dumps(model.to_json())))
    x = features(Facts(dpd=20, owed_minor=30_000, portal_visits=2))
    assert loaded.probability(x) == model.probability(x) and loaded.version == model.version
    default = propensity.default_model()
    assert default.features == FEATURES and default.evaluation["auc"] > 0.75
    with pytest.raises(ValueError, match="features"):
        Model.from_json({**model.to_json(), "features": ["dpd_months"]})
    with pytest.raises(ValueError, match="kind"):
        Model.from_json({**model.to_json(), "kind": "something else"})


def test_scoring_and_training_read_the_same_features_from_account_and_trail() -> None:
    paid_at = NOW - timedelta(days=5)
    account = make_account().with_changes(
        payments=(Payment("pi_1", Money(2_000, "USD"), paid_at),),
        promise=Promise(Money(2_000, "USD"), date(2026, 3, 4), NOW - timedelta(days=8), PromiseStatus.KEPT),
        contacts_sent=2,
        engagement={"any:portal_visit": 1},
    )
    trail = [
        AuditEvent(account.account_id, NOW - timedelta(days=10), EventType.REMINDER_SENT, "r1", "sender",
                   {"template": "reminder"}),
        AuditEvent(account.account_id, NOW - timedelta(days=8), EventType.PORTAL_VERIFIED, "v1", "portal", {}),
        AuditEvent(account.account_id, NOW - timedelta(days=8), EventType.PORTAL_PROMISE_MADE, "p1", "portal", {}),
        AuditEvent(account.account_id, NOW - timedelta(days=7), EventType.REMINDER_SENT, "r2", "sender",
                   {"template": "promise_due"}),
        AuditEvent(account.account_id, paid_at, EventType.PAYMENT_APPLIED, "pay", "webhooks",
                   {"amount_minor": 2_000, "credit_minor": 0}),
        AuditEvent(account.account_id, paid_at, EventType.REMINDER_SENT, "receipt", "sender", {"template": "receipt"}),
    ]  # fmt: skip
    dpd = 16
    assert facts_at(account, trail, NOW) == facts_of(account, dpd, NOW)
    before = facts_at(account, trail, paid_at - timedelta(hours=1))  # as it stood before the payment
    assert before.payments == 0 and before.owed_minor == facts_of(account, dpd, NOW).owed_minor + 2_000
    assert not before.promise_kept


def test_examples_are_the_messages_sent_labelled_by_a_payment_within_30_days() -> None:
    account = make_account()
    at = datetime(2026, 1, 1, 15, tzinfo=UTC)

    def sent(day: int) -> AuditEvent:
        return AuditEvent(account.account_id, at + timedelta(days=day), EventType.REMINDER_SENT, f"r{day}", "s", {})

    paid = AuditEvent(account.account_id, at + timedelta(days=40), EventType.PAYMENT_APPLIED, "pay", "w", {})
    trail = [sent(0), sent(20), sent(45), paid]
    found = propensity.examples_from_trails(
        {account.account_id: account}, {account.account_id: trail}, at + timedelta(days=60)
    )
    assert [e.y for e in found] == [0, 1]  # day 0: none within 30 days; day 20: paid on day 40; day 45: unknown yet


def test_the_score_sets_the_tier_but_the_gate_refuses_whatever_the_score() -> None:
    account = make_account()
    unlikely = decide(account.with_changes(next_contact_at=NOW), NOW, RULES, gate_policy(RULES),
                      learned=Learned(propensity=constant(0.05)))  # fmt: skip
    likely = decide(account.with_changes(next_contact_at=NOW), NOW, RULES, gate_policy(RULES),
                    learned=Learned(propensity=constant(0.95)))  # fmt: skip
    assert (unlikely.tier, likely.tier) == (1, 4)  # high risk: the most intense treatment; likely to pay: light
    refused = [
        account.with_changes(blocked_channels={Channel.EMAIL: Block.OPTED_OUT, Channel.SMS: Block.OPTED_OUT}),
        account.with_changes(flags=frozenset({Flag.BANKRUPTCY})),
        account.with_changes(dispute=Dispute(NOW - timedelta(days=1), "not mine")),
        make_account(email=None),  # no usable channel at all
    ]
    for blocked in refused:
        for p in (0.001, 0.5, 0.999):
            for learned in (Learned(propensity=constant(p)), None):
                plan = decide(blocked.with_changes(next_contact_at=NOW), NOW, RULES, gate_policy(RULES),
                              score=None if learned else 1 - p, learned=learned)  # fmt: skip
                assert plan.job is None, (blocked, p)
                assert plan.reason != NoContactReason.HELD or plan.next_contact_at > NOW


def test_learning_off_uses_no_score() -> None:
    off = LenderProfile(lender_id="acme", creditor_name="Acme", outreach={"learning": False}).rules()
    account = make_account().with_changes(next_contact_at=NOW)
    plan = decide(account, NOW, off, gate_policy(off), learned=Learned(propensity=constant(0.05)))
    assert plan.tier == 2  # the tier from balance and history alone


def test_the_fast_features_are_the_facts_features() -> None:
    """`features_of` (the decision's, without `Facts`) computes what `features(facts_of(...))` does, over the golden
    test's sample (payments, promises kept and broken, plans with missed installments, engagement, consent),
    with or without the balance passed in."""
    import random

    from functions.core.compliance import owed_minor
    from tests.unit.core.test_decision_golden import _account

    rng = random.Random(31)
    for n in range(1_500):
        account = _account(rng, n, NOW)
        if account.payments and n % 3 == 0:  # credits and refunds count against what was paid
            first = account.payments[0]
            payments = (Payment(first.payment_id, first.amount, first.at, credit_minor=200, refunded_minor=300),)
            account = account.with_changes(payments=payments + account.payments[1:])
        dpd = rng.randint(-15, 400)
        expected = features(facts_of(account, dpd, NOW))
        assert propensity.features_of(account, dpd, NOW) == expected
        assert propensity.features_of(account, dpd, NOW, owed_minor(account)) == expected


def test_the_written_out_score_is_the_loops() -> None:
    """`Model.probability` for the ten shipped features adds the same terms in the same order as the loop does."""
    import math
    import random

    model = propensity.default_model()
    rng = random.Random(5)
    for _ in range(2_000):
        x = tuple(rng.choice((0.0, 1.0, rng.uniform(-3, 12))) for _ in FEATURES)
        z = model._bias
        for w, v in zip(model._weights, x, strict=True):
            z += w * v
        expected = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
        assert model.probability(x) == expected
    with pytest.raises(ValueError):
        model.probability((1.0,) * (len(FEATURES) - 1))
