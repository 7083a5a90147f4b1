"""Ops: the work queue's reasons, ages and SLAs; each action's state change and what the decision engine does next."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from functions.core import ops
from functions.core.account import (
    Account,
    AccountStatus,
    Block,
    Channel,
    ContactKind,
    Dispute,
    DisputeStatus,
    Flag,
    Installment,
    InstallmentStatus,
    Plan,
    PlanStatus,
)
from functions.core.audit import AuditEvent, EventType
from functions.core.compliance import Kind, gate, gate_policy, standing_of
from functions.core.decision import ContactPlan, NoContactReason, decide
from functions.core.jobs import Template
from functions.core.lender import LenderProfile, SettlementBounds
from functions.core.money import Money
from functions.core.ops import Action, Context, OpsError, QueueReason
from tests.events.factories import make_account

NOW = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)  # a Monday, 10:00 in Chicago (the debtor's zone); dpd 17
FIRST = LenderProfile(lender_id="acme", creditor_name="Acme").rules()
THIRD = LenderProfile(lender_id="acme", creditor_name="Acme", regime="third_party").rules()
OPERATOR = "arn:aws:iam::123456789012:user/ana"


def ctx(reason: str = "checked the file", **overrides: Any) -> Context:
    return Context(
        operator=overrides.pop("operator", OPERATOR), reason=reason, now=overrides.pop("now", NOW), **overrides
    )


def next_step(outcome: ops.Outcome, rules: Any = FIRST, now: datetime = NOW) -> ContactPlan:
    """What the scheduler would decide for the saved account, were it due at `now`."""
    account = outcome.applied_flags()
    return decide(account.with_changes(next_contact_at=now), now, rules, gate_policy(rules))


def event(kind: EventType, at: datetime, seq: int = 1, actor: str = "debtor", **detail: Any) -> AuditEvent:
    return AuditEvent("acme#A-1001", at, kind, f"e{seq}", actor, detail, seq=seq)


def disputed(reason: str = "wrong_amount", opened: datetime = NOW - timedelta(days=3)) -> Account:
    return make_account().with_changes(dispute=Dispute(opened, reason), flags=frozenset({Flag.DISPUTE}))


# --- the queue ------------------------------------------------------------------------------------


def test_an_open_dispute_is_queued_with_a_30_day_sla_and_its_age() -> None:
    account = disputed(opened=NOW - timedelta(days=3))
    [item] = ops.queue_items(account, [])
    assert item.reason is QueueReason.DISPUTE
    assert item.age(NOW) == timedelta(days=3)
    assert item.due_by == NOW - timedelta(days=3) + timedelta(days=30)
    assert not item.overdue(NOW)
    assert item.overdue(NOW + timedelta(days=28))


def test_a_not_mine_dispute_is_an_identity_claim() -> None:
    [item] = ops.queue_items(disputed(reason="not_mine"), [])
    assert item.reason is QueueReason.IDENTITY_CLAIM


def test_a_chargeback_is_queued_from_the_dispute_flag_and_the_trail_but_a_lenders_flag_alone_is_not() -> None:
    flagged = make_account().with_changes(flags=frozenset({Flag.DISPUTE}))
    assert ops.needs_trail(flagged)
    assert ops.queue_items(flagged, []) == []  # the lender's own flag: the lender verifies it
    at = NOW - timedelta(days=1)
    [item] = ops.queue_items(flagged, [event(EventType.PAYMENT_DISPUTED, at, reason="fraudulent")])
    assert (item.reason, item.since) == (QueueReason.CHARGEBACK, at)
    assert "fraudulent" in item.note


def test_business_day_slas_skip_weekends() -> None:
    friday = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
    account = make_account().with_changes(hardship_requested_at=friday)
    [item] = ops.queue_items(account, [])
    assert item.reason is QueueReason.HARDSHIP
    assert item.due_by == datetime(2026, 3, 13, 12, 0, tzinfo=UTC)  # Mon..Fri of the next week


def test_complaint_broken_plan_and_repeated_lockouts_are_queued() -> None:
    plan = Plan(
        "plan-1",
        NOW - timedelta(days=60),
        (Installment(1, date(2026, 2, 1), Money(5_000, "USD"), InstallmentStatus.MISSED),),
        status=PlanStatus.BROKEN,
    )
    account = make_account().with_changes(blocked_channels={Channel.EMAIL: Block.COMPLAINED}, plan=plan)
    complained = NOW - timedelta(days=2)
    trail = [
        event(EventType.EMAIL_COMPLAINED, complained, 1, actor="ses"),
        event(EventType.PORTAL_LOCKED, NOW - timedelta(days=9), 2),
        event(EventType.PORTAL_VERIFIED, NOW - timedelta(days=8), 3),
        event(EventType.PORTAL_LOCKED, NOW - timedelta(days=5), 4),
        event(EventType.PORTAL_LOCKED, NOW - timedelta(days=4), 5),
    ]
    items = {item.reason: item for item in ops.queue_items(account, trail)}
    assert set(items) == {QueueReason.COMPLAINT, QueueReason.BROKEN_PLAN, QueueReason.LOCKOUTS}
    assert items[QueueReason.COMPLAINT].due_by == complained + timedelta(days=15)
    assert items[QueueReason.BROKEN_PLAN].since == datetime(2026, 2, 1, tzinfo=UTC)
    assert items[QueueReason.LOCKOUTS].since == NOW - timedelta(days=4)  # the second since the verification


def test_an_item_handled_after_it_arose_leaves_the_queue_and_the_queue_is_oldest_first() -> None:
    account = make_account().with_changes(blocked_channels={Channel.EMAIL: Block.COMPLAINED})
    complained = event(EventType.EMAIL_COMPLAINED, NOW - timedelta(days=2), 1)
    handled = event(EventType.OPS_ACTION, NOW - timedelta(days=1), 2, actor=OPERATOR, resolves=["complaint"])
    assert ops.queue_items(account, [complained, handled]) == []
    older = ops.queue_items(disputed(opened=NOW - timedelta(days=9)), [])
    newer = ops.queue_items(account, [complained])
    assert ops.work_queue([*newer, *older]) == [*older, *newer]
    assert ops.work_queue([*newer, *older], QueueReason.COMPLAINT) == newer


def test_closed_accounts_and_quiet_accounts_are_not_queued() -> None:
    assert not ops.needs_trail(make_account())
    closed = disputed().with_changes(status=AccountStatus.CLOSED)
    assert not ops.needs_trail(closed) and ops.queue_items(closed, []) == []


def test_the_timeline_reads_as_one_line_per_event_without_the_debtors_words() -> None:
    line = ops.describe(
        event(EventType.OPS_ACTION, NOW, 7, actor=OPERATOR, action="resolve_dispute", outcome="verified", reason="ok")
    )
    assert line == f"2026-03-09T15:00:00Z  #7  ops: resolve dispute  by {OPERATOR}: outcome=verified, reason=ok"
    assert "I never" not in ops.describe(event(EventType.PORTAL_DISPUTE_OPENED, NOW, statement="I never"))


# --- actions: each with what the decision engine does next --------------------------------------


def test_a_verified_dispute_sends_the_verification_first_then_reminders_resume() -> None:
    account = disputed()
    assert decide(account, NOW, FIRST, gate_policy(FIRST)).reason == NoContactReason.NOT_COLLECTIBLE
    outcome = ops.apply(account, Action.RESOLVE_DISPUTE, ctx(), outcome="verified", verification_ref="ledger-77")
    dispute = outcome.account.dispute
    assert dispute is not None and dispute.status is DisputeStatus.VERIFYING and dispute.verification_ref == "ledger-77"
    assert outcome.flags_off == {Flag.DISPUTE} and outcome.account.next_contact_at == NOW
    assert outcome.detail["resolves"] == ["chargeback", "dispute", "identity_claim"]
    assert outcome.detail["send_by"] == "email"
    plan = next_step(outcome)  # FDCPA 809(b): the verification, by email, before anything else
    assert plan.job is not None and plan.job.template == Template.DISPUTE_VERIFICATION.value
    assert plan.job.channel is Channel.EMAIL
    # Nothing but the verification may go while it is pending: a reminder is refused by the gate.
    pending = outcome.applied_flags()
    allowed = lambda kind: all(v.allowed for v in gate(pending, standing_of(pending), Channel.EMAIL, kind, NOW))  # noqa: E731
    assert not allowed(Kind.REMINDER) and allowed(Kind.DISPUTE_VERIFICATION)
    # Once the sender has sent it, the dispute is verified and reminders resume.
    sent = pending.with_changes(dispute=replace(dispute, status=DisputeStatus.VERIFIED, verification_sent_at=NOW))
    resumed = decide(sent, NOW, FIRST, gate_policy(FIRST))
    assert resumed.job is not None and resumed.job.template == Template.REMINDER.value


def test_a_verification_mailed_by_letter_resumes_reminders_at_once() -> None:
    outcome = ops.resolve_dispute(disputed(), ctx(), outcome="verified", send_by="letter", verification_ref="letter-77")
    assert outcome.account.dispute is not None and outcome.account.dispute.status is DisputeStatus.VERIFIED
    plan = next_step(outcome)
    assert plan.job is not None and plan.job.template == Template.REMINDER.value


def test_a_letter_needs_its_reference_and_email_needs_a_usable_address() -> None:
    with pytest.raises(OpsError) as raised:
        ops.resolve_dispute(disputed(), ctx(), outcome="verified", send_by="letter")
    assert raised.value.code == "verification_ref_required"
    for unusable in (
        disputed().with_changes(blocked_channels={Channel.EMAIL: Block.BOUNCED}),
        disputed().with_changes(blocked_channels={Channel.EMAIL: Block.OPTED_OUT}),
        disputed().with_changes(debtor=replace(make_account().debtor, email=None)),
    ):
        with pytest.raises(OpsError) as raised:
            ops.resolve_dispute(unusable, ctx(), outcome="verified")
        assert raised.value.code == "no_email_for_verification"


def test_an_upheld_dispute_adjusts_the_balance_and_reminders_continue_for_the_rest() -> None:
    outcome = ops.resolve_dispute(disputed(), ctx(), outcome="upheld", amount_minor=2_500, component=ops.Component.FEES)
    assert outcome.account.balance.fees.minor == 0
    assert outcome.detail["adjust_code"] == "dispute_upheld"
    assert next_step(outcome).job is not None


def test_an_upheld_not_mine_claim_closes_the_account_as_fraud_for_good() -> None:
    outcome = ops.resolve_dispute(disputed("not_mine"), ctx(), outcome="upheld", close=True)
    assert outcome.account.status is AccountStatus.CLOSED and outcome.account.next_contact_at is None
    assert outcome.flags_on == {Flag.FRAUD}
    assert next_step(outcome).reason == NoContactReason.NOT_COLLECTIBLE


def test_resolving_needs_a_dispute_and_a_clear_outcome() -> None:
    for call, code in (
        (lambda: ops.resolve_dispute(make_account(), ctx(), outcome="verified"), "no_open_dispute"),
        (lambda: ops.resolve_dispute(disputed(), ctx(), outcome="maybe"), "invalid_resolution"),
        (lambda: ops.resolve_dispute(disputed(), ctx(), outcome="upheld"), "invalid_resolution"),
        (lambda: ops.resolve_dispute(disputed(), ctx(), outcome="upheld", amount_minor=99_999), "adjustment_too_large"),
    ):
        with pytest.raises(OpsError) as raised:
            call()
        assert raised.value.code == code


def test_a_chargeback_resolves_without_a_debtor_dispute() -> None:
    flagged = make_account().with_changes(flags=frozenset({Flag.DISPUTE}))
    outcome = ops.resolve_dispute(flagged, ctx(), outcome="verified")
    assert outcome.detail["chargeback"] is True and next_step(outcome).job is not None


def test_every_action_needs_a_reason_and_an_operator() -> None:
    with pytest.raises(OpsError) as raised:
        ops.recall(make_account(), ctx(reason="  "))
    assert raised.value.code == "reason_required"
    with pytest.raises(OpsError) as raised:
        ops.recall(make_account(), ctx(operator=""))
    assert raised.value.code == "operator_required"
    with pytest.raises(OpsError) as raised:
        ops.recall(make_account(), ctx(reason="x" * 501))
    assert raised.value.code == "reason_too_long"


def test_a_conversation_starts_the_pause_before_the_next_attempt() -> None:
    at = NOW - timedelta(hours=1)
    outcome = ops.record_conversation(make_account(), ctx(), medium=ops.Medium.PHONE, at=at)
    assert outcome.conversation is not None and outcome.conversation.kind is ContactKind.CONVERSATION
    plan = next_step(outcome)
    assert plan.job is None and plan.reason == NoContactReason.HELD
    assert plan.next_contact_at is not None and plan.next_contact_at >= at + timedelta(days=7)


def test_a_conversation_can_handle_a_hardship_referral_and_is_never_in_the_future() -> None:
    account = make_account().with_changes(hardship_requested_at=NOW - timedelta(days=1))
    outcome = ops.record_conversation(account, ctx(), resolves=[QueueReason.HARDSHIP])
    assert outcome.account.hardship_requested_at is None and outcome.detail["resolves"] == ["hardship"]
    for at in (NOW + timedelta(minutes=1), NOW - timedelta(days=31)):
        with pytest.raises(OpsError):
            ops.record_conversation(account, ctx(), at=at)


@pytest.mark.parametrize("notice", list(ops.Notice))
def test_a_notice_stops_outreach_for_good(notice: ops.Notice) -> None:
    outcome = ops.record_notice(make_account(), ctx(), notice=notice, received_on=date(2026, 3, 6), reference="doc-9")
    assert outcome.flags_on == {Flag(notice.value)} and outcome.account.next_contact_at is None
    plan = next_step(outcome)
    assert plan.job is None and plan.next_contact_at is None and plan.reason == NoContactReason.NOT_COLLECTIBLE
    later = next_step(outcome, now=NOW + timedelta(days=90))
    assert later.job is None and later.next_contact_at is None


def test_a_bankruptcy_notice_cannot_be_dated_in_the_future() -> None:
    with pytest.raises(OpsError) as raised:
        ops.record_notice(make_account(), ctx(), notice=ops.Notice.BANKRUPTCY, received_on=date(2026, 3, 10))
    assert raised.value.code == "invalid_date"


def test_adjusting_a_balance_needs_a_code_and_only_a_lender_correction_raises_it() -> None:
    account = make_account()
    lower = ops.adjust_balance(account, ctx(), delta_minor=-850, code=ops.AdjustmentCode.INTEREST_WAIVER,
                               component=ops.Component.INTEREST)  # fmt: skip
    assert lower.account.balance.interest.minor == 0 and lower.detail["owed_after"] == 14_500
    assert next_step(lower).job is not None
    with pytest.raises(OpsError) as raised:
        ops.adjust_balance(account, ctx(), delta_minor=100, code=ops.AdjustmentCode.GOODWILL)
    assert raised.value.code == "increase_not_allowed"
    raised_up = ops.adjust_balance(account, ctx(), delta_minor=100, code=ops.AdjustmentCode.LENDER_CORRECTION)
    assert raised_up.account.balance.principal.minor == 12_100
    with pytest.raises(OpsError):
        ops.adjust_balance(account, ctx(), delta_minor=0, code=ops.AdjustmentCode.GOODWILL)


def test_adjusting_to_nothing_owed_closes_the_account() -> None:
    account = make_account(principal=1_000, interest=0, fees=0)
    outcome = ops.adjust_balance(account, ctx(), delta_minor=-1_000, code=ops.AdjustmentCode.PAYMENT_NOT_RECORDED)
    assert outcome.account.status is AccountStatus.CLOSED
    assert next_step(outcome).reason == NoContactReason.NOT_COLLECTIBLE


def test_recall_and_close_stop_everything_and_need_an_active_account() -> None:
    recalled = ops.recall(make_account(), ctx())
    assert recalled.account.status is AccountStatus.RECALLED and next_step(recalled).next_contact_at is None
    closed = ops.close(make_account(), ctx(), code=ops.CloseCode.UNCOLLECTIBLE)
    assert closed.account.status is AccountStatus.CLOSED and closed.detail["code"] == "uncollectible"
    with pytest.raises(OpsError) as raised:
        ops.close(closed.account, ctx(), code=ops.CloseCode.OTHER)
    assert raised.value.code == "account_not_active"


def test_a_settlement_outside_the_automatic_bounds_is_offered_and_handles_the_hardship_referral() -> None:
    account = make_account().with_changes(hardship_requested_at=NOW - timedelta(days=2))  # owes 15,350
    bounds = SettlementBounds(enabled=True, min_percent=80)
    outcome = ops.approve_settlement(account, ctx(settlement=bounds), amount_minor=7_675, days=14)
    assert outcome.settlement == (7_675, NOW + timedelta(days=14))
    assert outcome.detail["within_automatic_bounds"] is False and outcome.detail["percent"] == 50
    assert outcome.account.hardship_requested_at is None
    assert ops.queue_items(outcome.account, []) == []
    for amount, days in ((0, 14), (15_350, 14), (5_000, 0), (5_000, 91)):
        with pytest.raises(OpsError):
            ops.approve_settlement(account, ctx(settlement=bounds), amount_minor=amount, days=days)


def test_resending_the_validation_notice_sends_it_first_again_third_party_only() -> None:
    sent = make_account().with_changes(validation_notice_at=NOW - timedelta(days=20))
    outcome = ops.resend_validation_notice(sent, ctx(third_party=True))
    assert outcome.detail["previously_sent_at"] == "2026-02-17T15:00:00Z"
    plan = next_step(outcome, rules=THIRD)
    assert plan.job is not None and plan.job.template == Template.VALIDATION_NOTICE.value
    with pytest.raises(OpsError) as raised:
        ops.resend_validation_notice(sent, ctx())
    assert raised.value.code == "not_third_party"


def test_mark_handled_names_what_it_handled() -> None:
    with pytest.raises(OpsError) as raised:
        ops.mark_handled(make_account(), ctx(), resolves=[])
    assert raised.value.code == "resolves_required"
    outcome = ops.mark_handled(make_account(), ctx(), resolves=[QueueReason.LOCKOUTS, QueueReason.COMPLAINT])
    assert outcome.detail == {
        "action": "mark_handled",
        "reason": "checked the file",
        "resolves": ["complaint", "lockouts"],
    }
    assert outcome.account == make_account()
