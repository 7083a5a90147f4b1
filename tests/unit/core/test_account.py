from collections import Counter
from datetime import date

import pytest

from functions.core.account import AccountStatus, Stage, days_past_due, due_shard, next_stage_opens, stage_for
from tests.events.factories import make_account


@pytest.mark.parametrize(
    ("dpd", "stage"),
    [
        (-30, Stage.NONE),
        (-6, Stage.NONE),
        (-5, Stage.PRE_DUE),
        (-3, Stage.PRE_DUE),
        (-2, Stage.NONE),
        (0, Stage.NONE),
        (1, Stage.EARLY),
        (15, Stage.EARLY),
        (16, Stage.MID),
        (30, Stage.MID),
        (31, Stage.LATE),
        (60, Stage.LATE),
        (61, Stage.ADVANCED),
        (900, Stage.ADVANCED),
    ],
)
def test_stage_by_days_past_due(dpd: int, stage: Stage) -> None:
    assert stage_for(dpd) is stage


def test_days_past_due_counts_calendar_days() -> None:
    assert days_past_due(date(2026, 2, 20), date(2026, 3, 8)) == 16
    assert days_past_due(date(2026, 3, 11), date(2026, 3, 8)) == -3


@pytest.mark.parametrize(("dpd", "opens"), [(-40, -5), (-4, 1), (0, 1), (3, 16), (45, 61), (61, None)])
def test_next_stage_opens(dpd: int, opens: int | None) -> None:
    assert next_stage_opens(dpd) == opens


def test_collectible_only_when_active_with_a_balance() -> None:
    assert make_account().is_collectible
    assert not make_account(principal=0, interest=0, fees=0).is_collectible
    assert not make_account().with_changes(status=AccountStatus.PAID).is_collectible


def test_account_id_and_masked_reference() -> None:
    account = make_account("LN-99887766", lender_id="acme")
    assert account.account_id == "acme#LN-99887766"
    assert account.masked_ref == "••••7766"
    assert make_account("A1").masked_ref == "A1"


def test_due_shards_are_stable_and_spread() -> None:
    shards = Counter(due_shard(f"acme#{n}", 16) for n in range(1600))
    assert set(shards) == {f"{n:02d}" for n in range(16)}
    assert max(shards.values()) < 2 * min(shards.values())
    assert due_shard("acme#1", 16) == due_shard("acme#1", 16)
