"""Plans: equal installments in minor units, the remainder on the last, within the lender's bounds."""

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.core import plans
from functions.core.account import PlanStatus
from functions.core.lender import PlanBounds
from functions.core.money import Money

TODAY = date(2026, 1, 31)
NOW = datetime(2026, 1, 31, 15, tzinfo=UTC)
BOUNDS = PlanBounds(max_installments=6, min_installment_minor=2_500, max_start_days=30, interval_days=30)


@given(st.integers(min_value=1, max_value=10**9), st.integers(min_value=1, max_value=36))
def test_installments_always_add_up_exactly_and_differ_only_on_the_last(minor: int, count: int) -> None:
    parts = plans.split_equal(Money(minor, "USD"), count)

    assert sum(part.minor for part in parts) == minor
    assert len({part.minor for part in parts[:-1]}) <= 1
    assert 0 <= parts[-1].minor - parts[0].minor < count


def test_a_monthly_plan_keeps_the_day_and_clamps_to_the_month_end() -> None:
    plan = plans.build(
        account_id="acme#A-1", version=3, balance=Money(10_001, "USD"), installments=3,
        start=date(2026, 1, 31), today=TODAY, now=NOW, bounds=BOUNDS,
    )  # fmt: skip

    assert [item.due for item in plan.installments] == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)]
    assert [item.amount.minor for item in plan.installments] == [3_333, 3_333, 3_335]
    assert plan.status is PlanStatus.AWAITING_CARD
    assert plan.plan_id == plans.plan_id_for("acme#A-1", 3, date(2026, 1, 31), 3)


def test_a_weekly_interval_steps_in_days() -> None:
    assert plans.due_dates(date(2026, 3, 1), 3, 7) == [date(2026, 3, 1), date(2026, 3, 8), date(2026, 3, 15)]


def test_installments_below_the_minimum_are_not_offered() -> None:
    terms = plans.terms(Money(9_999, "USD"), TODAY, BOUNDS)

    assert terms is not None and terms.max_installments == 3  # 4 x 24.99 would be under 25.00
    assert plans.terms(Money(4_999, "USD"), TODAY, BOUNDS) is None


@pytest.mark.parametrize(
    ("installments", "start", "code"),
    [
        (4, date(2026, 2, 1), "plan_installments"),
        (1, date(2026, 2, 1), "plan_installments"),
        (2, date(2026, 1, 30), "plan_start_date"),
        (2, date(2026, 3, 3), "plan_start_date"),
    ],
)
def test_choices_outside_the_bounds_are_refused_with_what_would_fit(installments: int, start: date, code: str) -> None:
    with pytest.raises(plans.PlanRejected) as refused:
        plans.build(
            account_id="acme#A-1", version=0, balance=Money(9_999, "USD"), installments=installments,
            start=start, today=TODAY, now=NOW, bounds=BOUNDS,
        )  # fmt: skip

    assert refused.value.code == code


def test_the_last_start_date_allowed_is_accepted() -> None:
    plan = plans.build(
        account_id="acme#A-1", version=0, balance=Money(9_999, "USD"), installments=3,
        start=date(2026, 3, 2), today=TODAY, now=NOW, bounds=BOUNDS,
    )  # fmt: skip

    assert plan.installments[0].due == date(2026, 3, 2)
