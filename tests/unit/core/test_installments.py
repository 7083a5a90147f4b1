"""Installments charged off-session: which attempt is due, under which key, and when to look again."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from functions.core import installments, payments
from functions.core.account import Flag, Installment, InstallmentStatus, Plan, PlanStatus
from functions.core.lender import PlanBounds
from functions.core.money import Money
from tests.events.factories import make_account

BOUNDS = PlanBounds(max_retries=1, missed_grace_days=4)  # one retry, 4 days after the due date
DUES = (date(2026, 3, 11), date(2026, 4, 11), date(2026, 5, 11))
# America/Chicago is UTC-5 in March after DST: 09:00 local is 14:00 UTC.
CHARGE_MOMENT = datetime(2026, 3, 11, 14, 0, tzinfo=UTC)


def on_plan(*items: Installment, status: PlanStatus = PlanStatus.CURRENT, card: bool = True, **changes: object):
    plan = Plan(
        "plan_abc",
        datetime(2026, 3, 1, tzinfo=UTC),
        items or tuple(Installment(n + 1, day, Money(5_000, "USD")) for n, day in enumerate(DUES)),
        status,
        customer_id="cus_1" if card else None,
        payment_method_id="pm_1" if card else None,
    )
    return make_account(principal=12_000, interest=850, fees=2_150).with_changes(plan=plan, **changes)


def test_an_installment_is_charged_from_nine_on_its_local_due_day_under_a_key_per_attempt() -> None:
    account = on_plan()

    assert installments.due_charges(account, CHARGE_MOMENT - timedelta(seconds=1), BOUNDS) == ()
    [charge] = installments.due_charges(account, CHARGE_MOMENT, BOUNDS)

    assert (charge.installment, charge.attempt, charge.amount, charge.day) == (1, 1, Money(5_000, "USD"), DUES[0])
    assert (charge.customer_id, charge.payment_method_id) == ("cus_1", "pm_1")
    assert charge.key == "installment:plan_abc:1:1"
    job = charge.job(CHARGE_MOMENT)
    assert (job.job_id, job.account_id, job.installment, job.attempt) == (charge.key, account.account_id, 1, 1)


def test_the_due_day_is_the_debtors_local_date_not_utcs() -> None:
    # 09:00 on 11 March in Tokyo (UTC+9) is midnight UTC: an hour earlier it is the 10th's 23:00 UTC, 08:00 there.
    account = on_plan()
    tokyo = account.with_changes(debtor=replace(account.debtor, timezone="Asia/Tokyo"))
    assert installments.due_charges(tokyo, datetime(2026, 3, 10, 23, 0, tzinfo=UTC), BOUNDS) == ()
    assert len(installments.due_charges(tokyo, datetime(2026, 3, 11, 0, 0, tzinfo=UTC), BOUNDS)) == 1


def test_nothing_is_charged_without_a_current_plan_with_a_card_on_a_collectible_account() -> None:
    later = CHARGE_MOMENT + timedelta(days=40)
    assert installments.due_charges(on_plan(status=PlanStatus.AWAITING_CARD, card=False), later, BOUNDS) == ()
    assert installments.due_charges(on_plan(card=False), later, BOUNDS) == ()
    for status in (PlanStatus.BROKEN, PlanStatus.COMPLETED, PlanStatus.CANCELLED):
        assert installments.due_charges(on_plan(status=status), later, BOUNDS) == ()
    assert installments.due_charges(on_plan(flags=frozenset({Flag.BANKRUPTCY})), later, BOUNDS) == ()
    assert installments.due_charges(on_plan(flags=frozenset({Flag.DISPUTE})), later, BOUNDS) == ()
    assert installments.next_look(on_plan(flags=frozenset({Flag.DISPUTE})), later, BOUNDS) is None


def test_paid_missed_and_in_flight_installments_are_not_charged() -> None:
    usd = Money(5_000, "USD")
    account = on_plan(
        Installment(1, DUES[0], usd, InstallmentStatus.PAID, payment_id="pi_paid"),
        Installment(2, DUES[1], usd, InstallmentStatus.MISSED, attempts=1, payment_id="pi_hard"),
        Installment(3, DUES[2], usd, InstallmentStatus.SCHEDULED, payment_id="pi_in_flight"),
    )
    assert installments.due_charges(account, datetime(2026, 6, 1, tzinfo=UTC), BOUNDS) == ()
    assert installments.in_flight(account, account.plan.installments[2])


def test_late_installments_are_charged_oldest_first_and_never_above_what_is_owed() -> None:
    account = on_plan()  # owes 15,000: three installments of 5,000
    paid_part = payments.apply_payment(account, payments.PaymentFact("pi_x", Money(6_000, "USD"), CHARGE_MOMENT))

    charges = installments.due_charges(paid_part, datetime(2026, 5, 20, tzinfo=UTC), BOUNDS)

    assert [(c.installment, c.amount.minor) for c in charges] == [(1, 5_000), (2, 4_000)]


def test_a_soft_decline_is_retried_once_on_its_retry_day_with_a_new_key_and_a_hard_one_never() -> None:
    account = on_plan()
    [first] = installments.due_charges(account, CHARGE_MOMENT, BOUNDS)
    charging = installments.record_charge(account, first, "pi_1")
    assert installments.due_charges(charging, CHARGE_MOMENT + timedelta(hours=2), BOUNDS) == ()

    declined = payments.PaymentFailure("pi_1", CHARGE_MOMENT, "insufficient_funds", "plan_abc", 1)
    soft, _ = payments.apply_failure(charging, declined, BOUNDS.max_retries)
    assert soft.plan.installments[0].status is InstallmentStatus.FAILED
    retry_at = CHARGE_MOMENT + timedelta(days=4)  # spacing: 4 grace days over 1 retry
    assert installments.next_look(soft, CHARGE_MOMENT + timedelta(hours=1), BOUNDS) == retry_at
    assert installments.due_charges(soft, retry_at - timedelta(minutes=1), BOUNDS) == ()
    [retry] = installments.due_charges(soft, retry_at, BOUNDS)
    assert (retry.attempt, retry.key) == (2, "installment:plan_abc:1:2")

    retrying = installments.record_charge(soft, retry, "pi_2")
    again, _ = payments.apply_failure(
        retrying, payments.PaymentFailure("pi_2", retry_at, "insufficient_funds", "plan_abc", 1), BOUNDS.max_retries
    )
    assert again.plan.installments[0].status is InstallmentStatus.MISSED
    assert installments.due_charges(again, retry_at + timedelta(days=10), BOUNDS) == ()

    hard, _ = payments.apply_failure(
        charging, payments.PaymentFailure("pi_1", CHARGE_MOMENT, "stolen_card", "plan_abc", 1), BOUNDS.max_retries
    )
    assert hard.plan.installments[0].status is InstallmentStatus.MISSED
    assert installments.due_charges(hard, retry_at + timedelta(days=10), BOUNDS) == ()


def test_recording_a_charge_is_idempotent_and_yields_to_the_webhook_that_got_there_first() -> None:
    account = on_plan()
    [charge] = installments.due_charges(account, CHARGE_MOMENT, BOUNDS)

    recorded = installments.record_charge(account, charge, "pi_1")
    assert recorded.plan.installments[0].payment_id == "pi_1"
    assert installments.record_charge(recorded, charge, "pi_1") is recorded

    paid = payments.apply_payment(
        account, payments.PaymentFact("pi_1", Money(5_000, "USD"), CHARGE_MOMENT, "installment", "plan_abc", 1)
    )
    assert installments.record_charge(paid, charge, "pi_1") is paid
    failed, _ = payments.apply_failure(
        account, payments.PaymentFailure("pi_1", CHARGE_MOMENT, "insufficient_funds", "plan_abc", 1), 1
    )
    assert installments.record_charge(failed, charge, "pi_1") is failed


def test_the_scheduler_looks_again_on_the_charge_day_and_soon_while_a_charge_is_due_or_in_flight() -> None:
    account = on_plan()
    assert installments.next_look(account, datetime(2026, 3, 1, tzinfo=UTC), BOUNDS) == CHARGE_MOMENT
    assert installments.next_look(account, CHARGE_MOMENT, BOUNDS) == CHARGE_MOMENT + installments.RECHECK

    [charge] = installments.due_charges(account, CHARGE_MOMENT, BOUNDS)
    charging = installments.record_charge(account, charge, "pi_1")
    soon = CHARGE_MOMENT + timedelta(minutes=5)
    assert installments.next_look(charging, soon, BOUNDS) == soon + installments.RECHECK
    # An answer that never comes is left to ops after the horizon: the next installment's day is next.
    stale = CHARGE_MOMENT + installments.RECHECK_HORIZON
    assert installments.next_look(charging, stale, BOUNDS) == datetime(2026, 4, 11, 14, 0, tzinfo=UTC)
    # So is a charge that keeps failing before it is made (a detached card): it is still made when next looked at.
    assert installments.next_look(account, stale, BOUNDS) == datetime(2026, 4, 11, 14, 0, tzinfo=UTC)
    assert [c.installment for c in installments.due_charges(account, stale, BOUNDS)] == [1]

    paid = payments.apply_payment(
        account, payments.PaymentFact("pi_1", Money(15_000, "USD"), CHARGE_MOMENT, "installment", "plan_abc", 1)
    )
    assert installments.next_look(paid, CHARGE_MOMENT, BOUNDS) is None


def test_a_refunded_installment_is_not_charged_again_automatically() -> None:
    account = on_plan()
    fact = payments.PaymentFact("pi_1", Money(5_000, "USD"), CHARGE_MOMENT, "installment", "plan_abc", 1)
    refunded = payments.apply_refund(payments.apply_payment(account, fact), "pi_1", 5_000)

    assert refunded.plan.installments[0].status is InstallmentStatus.SCHEDULED
    assert not installments.in_flight(refunded, refunded.plan.installments[0])
    assert [c.installment for c in installments.due_charges(refunded, datetime(2026, 4, 12, tzinfo=UTC), BOUNDS)] == [2]


def test_retries_are_spread_over_the_grace_period_at_least_a_day_apart() -> None:
    assert installments.retry_spacing(PlanBounds(max_retries=2, missed_grace_days=5)) == timedelta(days=2)
    assert installments.retry_spacing(PlanBounds(max_retries=2, missed_grace_days=0)) == timedelta(days=1)
    assert installments.retry_spacing(PlanBounds(max_retries=0, missed_grace_days=5)) == timedelta(days=5)


def test_earliest_ignores_what_is_not_set() -> None:
    assert installments.earliest(None, None) is None
    assert installments.earliest(None, CHARGE_MOMENT, CHARGE_MOMENT + timedelta(1)) == CHARGE_MOMENT
