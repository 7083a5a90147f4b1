"""Payment application: allocation, partial and over-payments, refunds, once per PaymentIntent, any order."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.core import payments
from functions.core.account import (
    AccountStatus,
    Block,
    Channel,
    Installment,
    InstallmentStatus,
    Plan,
    PlanStatus,
    Promise,
    PromiseStatus,
)
from functions.core.money import Money
from tests.events.factories import make_account

T0 = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def fact(pid: str, minor: int, minutes: int = 0, **kw: object) -> payments.PaymentFact:
    return payments.PaymentFact(pid, Money(minor, "USD"), T0 + timedelta(minutes=minutes), **kw)  # type: ignore[arg-type]


def test_allocation_pays_fees_then_interest_then_principal() -> None:
    account = make_account(principal=12_000, interest=850, fees=2_500)
    after = payments.apply_payment(account, fact("pi_1", 3_000))
    assert (after.balance.fees.minor, after.balance.interest.minor, after.balance.principal.minor) == (0, 350, 12_000)
    payment = after.payments[0]
    assert (payment.fees_minor, payment.interest_minor, payment.principal_minor, payment.credit_minor) == (
        2_500,
        500,
        0,
        0,
    )
    assert after.status is AccountStatus.ACTIVE


def test_a_custom_allocation_order_is_honoured_and_validated() -> None:
    account = make_account(principal=1_000, interest=100, fees=100)
    after = payments.apply_payment(account, fact("pi_1", 1_000), order=("principal", "interest", "fees"))
    assert after.balance.principal.minor == 0 and after.balance.fees.minor == 100
    with pytest.raises(payments.PaymentError):
        payments.apply_payment(account, fact("pi_1", 1), order=("fees", "fees", "principal"))


def test_paying_the_total_marks_paid_and_overpayment_is_a_credit() -> None:
    account = make_account(principal=12_000, interest=850, fees=2_500)
    after = payments.apply_payment(account, fact("pi_1", 16_000))
    assert after.balance.total.minor == 0
    assert after.status is AccountStatus.PAID
    assert after.credit == Money(650, "USD")
    assert after.payments[0].credit_minor == 650


def test_the_same_payment_intent_is_applied_once() -> None:
    account = make_account()
    once = payments.apply_payment(account, fact("pi_1", 1_000))
    twice = payments.apply_payment(once, fact("pi_1", 1_000, minutes=5))
    assert twice is once
    assert len(twice.payments) == 1


def test_a_refund_restores_the_balance_and_reopens_a_paid_account() -> None:
    account = make_account(principal=12_000, interest=850, fees=2_500)
    paid = payments.apply_payment(account, fact("pi_1", 15_350))
    assert paid.status is AccountStatus.PAID
    refunded = payments.apply_refund(paid, "pi_1", 15_350)
    assert refunded.balance == account.balance
    assert refunded.status is AccountStatus.ACTIVE
    partly = payments.apply_refund(paid, "pi_1", 1_000)
    assert partly.balance.total.minor == 1_000 and partly.balance.principal.minor == 1_000  # principal given back first
    assert payments.apply_refund(partly, "pi_1", 500) is partly  # an older, smaller cumulative refund: no change


def test_a_refund_before_its_payment_applies_the_payment_and_the_refund() -> None:
    account = make_account(principal=5_000, interest=0, fees=0)
    after = payments.apply_refund(account, "pi_9", 2_000, fact("pi_9", 5_000))
    assert after.balance.total.minor == 2_000
    assert after.payments[0].refunded_minor == 2_000
    assert payments.apply_payment(after, fact("pi_9", 5_000)) is after  # its succeeded event comes late: nothing new


def test_a_late_failure_after_success_changes_nothing() -> None:
    account = payments.apply_payment(make_account(), fact("pi_1", 1_000))
    after, advice = payments.apply_failure(account, payments.PaymentFailure("pi_1", T0, "insufficient_funds"), 2)
    assert after is account
    assert advice.next_step.value == "promise" or advice.next_step.value == "plan"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=9_000), min_size=1, max_size=5),
    st.lists(st.integers(min_value=0, max_value=9_000), min_size=5, max_size=5),
    st.randoms(use_true_random=False),
)
def test_the_result_does_not_depend_on_the_order_events_arrive(
    amounts: list[int], refunds: list[int], rnd: object
) -> None:
    account = make_account(principal=12_000, interest=850, fees=2_500)
    steps: list[tuple[str, int, int]] = []
    for index, amount in enumerate(amounts):
        steps.append(("pay", index, amount))
        steps.append(("pay", index, amount))  # a duplicate
        if refunds[index]:
            steps.append(("refund", index, min(amount, refunds[index])))

    def run(order: list[tuple[str, int, int]]) -> object:
        current = account
        for kind, index, value in order:
            f = fact(f"pi_{index}", amounts[index], minutes=index)
            if kind == "pay":
                current = payments.apply_payment(current, f)
            else:
                current = payments.apply_refund(current, f"pi_{index}", value, f)
        return current

    canonical = run(steps)
    shuffled = list(steps)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    other = run(shuffled)
    assert other.balance == canonical.balance  # type: ignore[attr-defined]
    assert other.credit == canonical.credit  # type: ignore[attr-defined]
    assert other.status is canonical.status  # type: ignore[attr-defined]
    net = sum(a - (min(a, refunds[i]) if refunds[i] else 0) for i, a in enumerate(amounts))
    expected_total = max(0, account.balance.total.minor - net)
    assert canonical.balance.total.minor == expected_total  # type: ignore[attr-defined]


def _plan(*statuses: InstallmentStatus, status: PlanStatus = PlanStatus.CURRENT) -> Plan:
    return Plan(
        plan_id="plan-1",
        created_at=T0,
        status=status,
        installments=tuple(
            Installment(n + 1, date(2026, 4 + n, 1), Money(5_000, "USD"), s) for n, s in enumerate(statuses)
        ),
    )


def test_installment_payments_mark_installments_and_complete_the_plan() -> None:
    account = make_account(principal=10_000, interest=0, fees=0).with_changes(
        plan=_plan(InstallmentStatus.SCHEDULED, InstallmentStatus.SCHEDULED)
    )
    one = payments.apply_payment(account, fact("pi_a", 5_000, plan_id="plan-1", installment=1, source="installment"))
    assert [i.status for i in one.plan.installments] == [InstallmentStatus.PAID, InstallmentStatus.SCHEDULED]
    assert one.plan.status is PlanStatus.CURRENT
    two = payments.apply_payment(one, fact("pi_b", 5_000, 1, plan_id="plan-1", installment=2, source="installment"))
    assert two.plan.status is PlanStatus.COMPLETED and two.status is AccountStatus.PAID
    back = payments.apply_refund(two, "pi_b", 5_000)
    assert back.plan.status is PlanStatus.CURRENT
    assert back.plan.installments[1].status is InstallmentStatus.SCHEDULED
    assert back.status is AccountStatus.ACTIVE


def test_soft_declines_retry_within_bounds_and_two_consecutive_misses_break_the_plan() -> None:
    account = make_account(principal=15_000, interest=0, fees=0).with_changes(
        plan=_plan(InstallmentStatus.SCHEDULED, InstallmentStatus.SCHEDULED, InstallmentStatus.SCHEDULED)
    )
    failure = payments.PaymentFailure("pi_x", T0, "insufficient_funds", plan_id="plan-1", installment=1)
    first, advice = payments.apply_failure(account, failure, max_retries=1)
    assert advice.retry and first.plan.installments[0].status is InstallmentStatus.FAILED
    second, _ = payments.apply_failure(first, failure, max_retries=1)
    assert second.plan.installments[0].status is InstallmentStatus.MISSED
    assert second.plan.status is PlanStatus.CURRENT  # one miss does not break it
    hard = payments.PaymentFailure("pi_y", T0, "stolen_card", plan_id="plan-1", installment=2)
    third, hard_advice = payments.apply_failure(second, hard, max_retries=5)
    assert hard_advice.hard and not hard_advice.retry
    assert third.plan.installments[1].status is InstallmentStatus.MISSED  # never retried
    assert third.plan.status is PlanStatus.BROKEN


def test_a_pending_promise_is_kept_by_enough_payment() -> None:
    account = make_account().with_changes(promise=Promise(Money(2_000, "USD"), date(2026, 3, 20), T0))
    partly = payments.apply_payment(account, fact("pi_1", 1_000, 1))
    assert partly.promise.status is PromiseStatus.PENDING
    kept = payments.apply_payment(partly, fact("pi_2", 1_000, 2))
    assert kept.promise.status is PromiseStatus.KEPT


def test_card_saved_makes_the_plan_current() -> None:
    account = make_account().with_changes(plan=_plan(InstallmentStatus.SCHEDULED, status=PlanStatus.AWAITING_CARD))
    after = payments.save_card(account, "plan-1", "cus_1", "pm_1")
    assert after.plan.status is PlanStatus.CURRENT and after.plan.payment_method_id == "pm_1"
    assert payments.save_card(after, "plan-1", "cus_1", "pm_1") is after
    assert payments.save_card(account, "other-plan", "cus_1", "pm_1") is account


def test_a_payment_in_another_currency_is_refused() -> None:
    with pytest.raises(payments.PaymentError):
        payments.apply_payment(make_account(), payments.PaymentFact("pi_1", Money(100, "EUR"), T0))


def test_notices_go_to_a_usable_channel_with_deterministic_ids() -> None:
    account = make_account()
    assert payments.notice_channel(account) is Channel.EMAIL
    no_email = account.with_changes(blocked_channels={Channel.EMAIL: Block.BOUNCED})
    assert payments.notice_channel(no_email) is None  # the factory's debtor has no SMS consent
    job = payments.receipt_job(account, "pi_1", T0, Channel.EMAIL)
    assert job == payments.receipt_job(account, "pi_1", T0 + timedelta(hours=1), Channel.EMAIL).model_copy(
        update={"scheduled_for": job.scheduled_for}
    )
    assert job.job_id != payments.receipt_job(account, "pi_2", T0, Channel.EMAIL).job_id
    failure = payments.PaymentFailure("pi_1", T0, "insufficient_funds")
    failed = payments.payment_failed_job(account, failure, payments.advise("insufficient_funds"), T0, Channel.EMAIL)
    assert payments.parse_reason(failed.reason) == {
        "payment": "pi_1",
        "decline": "insufficient_funds",
        "next_step": "plan",
        "retry": "yes",
    }


def test_allocation_is_exhaustive_over_orders() -> None:
    account = make_account(principal=100, interest=50, fees=25)
    for order in itertools.permutations(payments.ALLOCATION_ORDER):
        after = payments.apply_payment(account, fact("pi_1", 60), order=order)
        assert after.balance.total.minor == 115


def test_paying_a_settlement_offer_settles_the_account_and_a_full_refund_reopens_it() -> None:
    account = make_account(principal=12_000, interest=850, fees=2_500)
    settled = payments.apply_payment(account, fact("pi_s", 9_000, source=payments.SOURCE_SETTLEMENT))
    assert settled.status is AccountStatus.SETTLED
    assert settled.balance.total.minor == 15_350 - 9_000  # what was forgiven stays visible, owed by nobody
    # The same payment seen again through the other event changes nothing.
    assert payments.apply_payment(settled, fact("pi_s", 9_000, source=payments.SOURCE_SETTLEMENT)) is settled
    # A partial refund keeps the settlement; a full one reopens the account for the whole balance.
    assert payments.apply_refund(settled, "pi_s", 1_000).status is AccountStatus.SETTLED
    reopened = payments.apply_refund(settled, "pi_s", 9_000)
    assert reopened.status is AccountStatus.ACTIVE and reopened.balance == account.balance
    # An ordinary partial payment never settles.
    assert payments.apply_payment(account, fact("pi_p", 9_000)).status is AccountStatus.ACTIVE


def test_a_lenders_new_balance_keeps_off_the_payments_it_has_not_heard_of() -> None:
    from functions.core.account import Balance

    account = make_account(principal=12_000, interest=850, fees=2_500)
    paid = payments.apply_payment(account, fact("pi_1", 5_000))  # fees 2,500, interest 850, principal 1,650
    usd = lambda p, i, f: Balance(Money(p, "USD"), Money(i, "USD"), Money(f, "USD"))  # noqa: E731
    # No date from the lender: every payment is taken off its figures.
    same = payments.rebase(paid, usd(12_000, 850, 2_500), None)
    assert same.balance == paid.balance and same.status is AccountStatus.ACTIVE
    assert payments.rebase(paid, usd(12_000, 850, 3_000), None).balance.total.minor == 15_850 - 5_000
    # The lender knows of it (its last payment date is the payment's day): its figures stand.
    known = payments.rebase(paid, usd(10_350, 0, 0), T0.date())
    assert known.balance.total.minor == 10_350
    assert payments.rebase(paid, usd(10_350, 0, 0), T0.date() - timedelta(days=1)).balance.total.minor == 5_350
    # Down to nothing: paid, with the surplus held as a credit.
    cleared = payments.rebase(paid, usd(3_000, 0, 0), None)
    assert cleared.status is AccountStatus.PAID and cleared.credit == Money(2_000, "USD")
    with pytest.raises(payments.PaymentError):
        payments.rebase(paid, Balance(Money(1, "EUR"), Money(0, "EUR"), Money(0, "EUR")), None)
