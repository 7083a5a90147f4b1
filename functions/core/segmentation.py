"""Segmentation: an account's stage (from days past due) and tier (from balance, DPD, history, score).

Tiers (issue 4), each with its own treatment in the policy (`OutreachPolicy.tiers`):
1 high balance or high risk, 2 newly delinquent with a good history, 3 chronic late payer,
4 low balance / low risk. The first rule that matches decides, in that order of precedence:
a high balance, a long delinquency or a high risk score → 1; a broken promise, a broken plan or a
missed installment → 3; a low balance (or a low score) → 4; a new delinquency → 2; otherwise 3
(a delinquency that lingers without a broken arrangement is still a chronic one).
"""

from __future__ import annotations

from dataclasses import dataclass

from functions.core.account import Account, InstallmentStatus, PlanStatus, PromiseStatus, Stage, stage_for
from functions.core.compliance import owed_minor
from functions.core.policy import Rules, SegmentationPolicy


@dataclass(frozen=True, slots=True)
class Segment:
    stage: Stage
    tier: int
    why: str  # the rule that set the tier, for the decision's record


def broken_arrangements(account: Account) -> int:
    """How often the debtor has not kept an arrangement: a broken promise or plan, each missed installment."""
    count = 1 if account.promise is not None and account.promise.status is PromiseStatus.BROKEN else 0
    if account.plan is not None:
        count += account.plan.status is PlanStatus.BROKEN
        count += sum(1 for i in account.plan.installments if i.status is InstallmentStatus.MISSED)
    return count


def tier_for(
    account: Account, dpd: int, policy: SegmentationPolicy, score: float | None = None, owed: int | None = None
) -> tuple[int, str]:
    """The tier (1-4) and the rule that chose it. `score` is a risk of not paying (0..1), when one exists;
    `owed` is the balance in minor units when the caller has it (the decision's hot path)."""
    if owed is None:
        owed = owed_minor(account)
    if owed >= policy.high_balance_minor:
        return 1, "high balance"
    if dpd > policy.high_risk_dpd:
        return 1, f"over {policy.high_risk_dpd} days past due"
    if score is not None and score >= policy.high_risk_score:
        return 1, "high risk score"
    if broken_arrangements(account):
        return 3, "broken promise or plan"
    if owed < policy.low_balance_minor or (score is not None and score <= policy.low_risk_score):
        return 4, "low balance or low risk"
    if dpd <= policy.new_delinquency_dpd:
        return 2, "newly delinquent, good history"
    return 3, "lingering delinquency"


def score_matters(account: Account, dpd: int, policy: SegmentationPolicy) -> bool:
    """False when `tier_for` decides before it reads a score (a high balance, a long delinquency): the
    decision then skips computing one."""
    return owed_minor(account) < policy.high_balance_minor and dpd <= policy.high_risk_dpd


def segment(account: Account, dpd: int, rules: Rules, score: float | None = None) -> Segment:
    tier, why = tier_for(account, dpd, rules.segmentation, score)
    return Segment(stage_for(dpd, rules.bounds), tier, why)
