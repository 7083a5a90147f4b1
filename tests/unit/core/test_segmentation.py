"""Tiers from balance, days past due, payment history and an optional score."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from functions.core.account import (
    Installment,
    InstallmentStatus,
    Plan,
    PlanStatus,
    Promise,
    PromiseStatus,
    Stage,
)
from functions.core.lender import LenderProfile
from functions.core.money import Money
from functions.core.segmentation import segment
from tests.events.factories import make_account

RULES = LenderProfile(lender_id="acme", creditor_name="Acme").rules()
AT = datetime(2026, 1, 1, tzinfo=UTC)
BROKEN_PROMISE = Promise(Money(1000, "USD"), date(2026, 1, 5), AT, PromiseStatus.BROKEN)
MISSED_PLAN = Plan(
    "p1", AT, (Installment(1, date(2026, 1, 5), Money(500, "USD"), InstallmentStatus.MISSED),), PlanStatus.CURRENT
)


@pytest.mark.parametrize(
    ("principal", "dpd", "state", "score", "tier", "why"),
    [
        (150_000, 5, {}, None, 1, "high balance"),
        (20_000, 75, {}, None, 1, "over 60 days past due"),
        (20_000, 5, {}, 0.9, 1, "high risk score"),
        (20_000, 5, {"promise": BROKEN_PROMISE}, None, 3, "broken promise or plan"),
        (20_000, 5, {"plan": MISSED_PLAN}, None, 3, "broken promise or plan"),
        (3_000, 5, {}, None, 4, "low balance or low risk"),
        (20_000, 5, {}, 0.1, 4, "low balance or low risk"),
        (20_000, 12, {}, None, 2, "newly delinquent, good history"),
        (20_000, 45, {}, None, 3, "lingering delinquency"),
        (150_000, 5, {"promise": BROKEN_PROMISE}, None, 1, "high balance"),  # balance outranks history
    ],
)
def test_tier_by_balance_dpd_history_and_score(principal, dpd, state, score, tier, why) -> None:
    account = make_account(principal=principal, interest=0, fees=0).with_changes(**state)
    result = segment(account, dpd, RULES, score)
    assert (result.tier, result.why) == (tier, why)


def test_stage_comes_from_the_lenders_bounds() -> None:
    assert segment(make_account(), 16, RULES).stage is Stage.MID
    assert segment(make_account(), 0, RULES).stage is Stage.NONE
    assert segment(make_account(), -4, RULES).stage is Stage.PRE_DUE


def test_thresholds_are_the_lenders() -> None:
    strict = LenderProfile.model_validate(
        {"lender_id": "acme", "creditor_name": "Acme", "outreach": {"segmentation": {"high_balance_minor": 10_000}}}
    ).rules()
    assert segment(make_account(principal=12_000), 5, strict).tier == 1
