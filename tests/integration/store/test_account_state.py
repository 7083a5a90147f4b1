"""The state that arises through cleardue round-trips through the accounts table, under a version lock."""

from __future__ import annotations

from datetime import UTC, date, datetime

from functions.core.account import (
    Block,
    Channel,
    Dispute,
    Flag,
    Installment,
    Payment,
    Plan,
    PlanStatus,
    Promise,
)
from functions.core.money import Money
from functions.store import accounts
from tests.events.factories import make_account, place

NOW = datetime(2026, 3, 8, 15, 0, tzinfo=UTC)


def test_state_round_trips_and_a_stale_version_loses(aws) -> None:
    account = make_account("A-1")
    place(account, NOW)
    before = accounts.get(account.account_id)
    assert before is not None and before.version == 0 and before.plan is None
    after = before.with_changes(
        blocked_channels={Channel.EMAIL: Block.BOUNCED},
        preferred_channel=Channel.SMS,
        promise=Promise(Money(5000, "USD"), date(2026, 3, 20), NOW),
        plan=Plan(
            "p-1",
            NOW,
            (
                Installment(1, date(2026, 4, 1), Money(2500, "USD")),
                Installment(2, date(2026, 5, 1), Money(2500, "USD")),
            ),
            status=PlanStatus.CURRENT,
            customer_id="cus_1",
            payment_method_id="pm_1",
        ),
        payments=(Payment("pi_1", Money(1000, "USD"), NOW, fees_minor=1000),),
        credit=Money(5, "USD"),
        dispute=Dispute(NOW, "not mine"),
        validation_notice_at=NOW,
        tier=2,
    )
    assert accounts.save_state(before, after, NOW, shards=4)
    stored = accounts.get(account.account_id)
    assert stored is not None and stored.version == 1
    assert stored.with_changes(version=0) == after
    # A writer that read `before` too now conflicts instead of overwriting.
    assert not accounts.save_state(before, before.with_changes(tier=4), NOW, shards=4)
    assert accounts.save_state(stored, stored.with_changes(plan=None, next_contact_at=None), NOW, shards=4)
    final = accounts.get(account.account_id)
    assert final is not None and final.plan is None and final.next_contact_at is None and final.version == 2


def test_cleardue_flags_are_kept_apart_from_the_lenders(aws) -> None:
    account = make_account("A-2")
    place(account, NOW)
    assert accounts.set_flag(account.account_id, Flag.ATTORNEY, True, NOW)
    stored = accounts.get(account.account_id)
    assert stored is not None and Flag.ATTORNEY in stored.flags
    assert accounts.set_flag(account.account_id, Flag.ATTORNEY, False, NOW)
    stored = accounts.get(account.account_id)
    assert stored is not None and Flag.ATTORNEY not in stored.flags
    assert not accounts.set_flag("nobody#x", Flag.ATTORNEY, True, NOW)


def test_each_placed_account_is_found_by_its_own_link_ref(aws) -> None:
    first, second = make_account("L-1"), make_account("L-2")
    place(first, NOW)
    place(second, NOW)
    one, two = accounts.get(first.account_id), accounts.get(second.account_id)
    assert one is not None and two is not None and one.link_ref and two.link_ref and one.link_ref != two.link_ref
    found = accounts.by_link_ref(one.link_ref)
    assert found is not None and found.account_id == first.account_id
    assert accounts.by_link_ref("x" * 22) is None
