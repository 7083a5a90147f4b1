"""The independent checker finds each kind of violation in a synthetic trail, and nothing in a clean one."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from functions.core import audit_check
from functions.core.account import Account, Dispute, DisputeStatus, Flag
from functions.core.audit import AuditEvent, EventType
from functions.core.lender import LenderProfile
from functions.core.policy import CapsPolicy, OutreachPolicy, compile_rules
from tests.events.factories import make_account

T0 = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)  # Monday 10:00 in Chicago (CST)


class Trail:
    """Events appended in order, as store.events would seal them (seq from 1)."""

    def __init__(self, account_id: str = "acme#A-1") -> None:
        self.account_id = account_id
        self.events: list[AuditEvent] = []

    def add(self, kind: EventType, when: datetime, **detail: Any) -> Trail:
        seq = len(self.events) + 1
        self.events.append(AuditEvent(self.account_id, when, kind, f"e{seq}", "test", detail, seq=seq))
        return self

    def sent(self, at: datetime, channel: str = "email", template: str = "reminder") -> Trail:
        detail = {"job_id": f"j{len(self.events)}", "channel": channel, "template": template, "variant": "a"}
        return self.add(EventType.REMINDER_SENT, at, **detail, tone="friendly", stage="early")


def account(**changes: Any) -> Account:
    base = make_account("A-1")
    debtor = replace(base.debtor, phone_is_mobile=True, sms_consent=True)
    return base.with_changes(debtor=debtor, **changes)


def rules_of(violations: list[audit_check.Violation]) -> list[tuple[str, str]]:
    return [(v.rule, v.event_id) for v in violations]


def test_a_trail_that_keeps_every_rule_has_no_violation() -> None:
    trail = Trail()
    for n in range(6):  # every 3 days, 10:00 local, alternating channels: never more than 3 in 7 days
        trail.sent(T0 + timedelta(days=3 * n), "email" if n % 2 else "sms")
    trail.add(EventType.PAYMENT_APPLIED, T0 + timedelta(days=16), status="active", amount_minor=500)
    trail.sent(T0 + timedelta(days=16, minutes=1), "email", "receipt")
    assert audit_check.check_trail(account(), trail.events) == []


def test_a_contact_outside_the_window_in_any_zone_is_a_violation() -> None:
    late = T0 + timedelta(hours=11, minutes=30)  # 21:30 in Chicago
    early_in_la = T0 - timedelta(hours=1, minutes=30)  # 08:30 Chicago, 06:30 Los Angeles
    trail = Trail().sent(late).sent(early_in_la + timedelta(days=1), "email", "receipt")
    two_zones = account()
    two_zones = two_zones.with_changes(
        debtor=replace(two_zones.debtor, timezones=("America/Chicago", "America/Los_Angeles"))
    )

    violations = audit_check.check_trail(two_zones, trail.events)

    assert rules_of(violations) == [(audit_check.RULE_TIME, "e1"), (audit_check.RULE_TIME, "e2")]
    assert "21:30 in America/Chicago" in violations[0].why
    assert "06:30 in America/Los_Angeles" in violations[1].why and "Chicago" not in violations[1].why


def test_caps_per_channel_and_across_channels_count_every_earlier_message_in_the_period() -> None:
    trail = Trail()
    for day in range(3):
        trail.sent(T0 + timedelta(days=day), "email", "receipt" if day == 0 else "reminder")
    trail.sent(T0 + timedelta(days=3), "email")  # 4th email in 7 days: a receipt counts, the cap is 3
    trail.sent(T0 + timedelta(days=7, minutes=1), "email")  # the first one left the window: 3 in the period
    violations = audit_check.check_trail(account(), trail.events)
    assert rules_of(violations) == [(audit_check.RULE_CAP, "e4"), (audit_check.RULE_CAP, "e5")]

    mixed = Trail()
    for hour, channel in enumerate(["email", "email", "sms", "sms", "email", "sms"]):
        mixed.sent(T0 + timedelta(hours=hour), channel)
    violations = audit_check.check_trail(account(), mixed.events)
    assert rules_of(violations) == [(audit_check.RULE_CAP, "e6")]  # 5 already sent across channels
    assert "cap 5" in violations[0].why


def test_a_receipt_is_not_held_by_the_caps() -> None:
    trail = Trail()
    for hour in range(5):
        trail.sent(T0 + timedelta(hours=hour), "email" if hour % 2 else "sms")
    trail.sent(T0 + timedelta(hours=6), "email", "receipt")
    assert audit_check.check_trail(account(), trail.events) == []


def test_a_lenders_stricter_cap_is_the_one_checked() -> None:
    rules = audit_check.CheckRules.from_rules(compile_rules(OutreachPolicy(caps=CapsPolicy(email=1))))
    trail = Trail().sent(T0).sent(T0 + timedelta(days=2))
    assert rules_of(audit_check.check_trail(account(), trail.events, rules)) == [(audit_check.RULE_CAP, "e2")]
    assert audit_check.check_trail(account(), trail.events) == []


def test_texts_after_stop_are_violations_until_start() -> None:
    trail = (
        Trail()
        .add(EventType.CONSENT_REVOKED, T0, channel="sms", keyword="STOP")
        .sent(T0 + timedelta(hours=1), "sms")
        .sent(T0 + timedelta(hours=2), "email")  # another channel is fine
        .add(EventType.CONSENT_RESTORED, T0 + timedelta(days=1), channel="sms", keyword="START")
        .sent(T0 + timedelta(days=1, hours=1), "sms")
    )
    assert rules_of(audit_check.check_trail(account(), trail.events)) == [(audit_check.RULE_OPT_OUT, "e2")]


def test_a_send_made_before_the_stop_arrived_is_not_a_violation_even_if_recorded_after_it() -> None:
    trail = Trail().add(EventType.CONSENT_REVOKED, T0, channel="sms").sent(T0 - timedelta(minutes=1), "sms")
    assert audit_check.check_trail(account(), trail.events) == []


def test_portal_opt_outs_and_their_lifting() -> None:
    trail = (
        Trail()
        .add(EventType.PORTAL_UNSUBSCRIBED, T0, channel="email")
        .sent(T0 + timedelta(hours=1), "email", "receipt")  # an opted-out channel gets nothing, receipts included
        .add(EventType.PORTAL_PREFERENCES_CHANGED, T0 + timedelta(days=1), opt_out=["sms"])
        .sent(T0 + timedelta(days=1, hours=1), "email")  # email lifted
        .sent(T0 + timedelta(days=1, hours=2), "sms")  # sms now opted out
    )
    violations = rules_of(audit_check.check_trail(account(), trail.events))
    assert violations == [(audit_check.RULE_OPT_OUT, "e2"), (audit_check.RULE_OPT_OUT, "e5")]


def test_complaints_bounces_and_provider_refusals_close_the_channel() -> None:
    trail = (
        Trail()
        .add(EventType.EMAIL_COMPLAINED, T0, blocked=True)
        .add(EventType.PORTAL_PREFERENCES_CHANGED, T0 + timedelta(minutes=1), opt_out=[])  # never lifts a complaint
        .sent(T0 + timedelta(hours=1), "email")
        .add(EventType.SMS_UNDELIVERABLE, T0 + timedelta(hours=2), blocked=True, event="TEXT_INVALID")
        .sent(T0 + timedelta(hours=3), "sms")
    )
    assert rules_of(audit_check.check_trail(account(), trail.events)) == [
        (audit_check.RULE_OPT_OUT, "e3"),
        (audit_check.RULE_BLOCKED, "e5"),
    ]
    bounced = Trail().add(EventType.REMINDER_SUPPRESSED, T0, channel="email", block="invalid", reason="ses:x")
    bounced.add(EventType.EMAIL_BOUNCED, T0, blocked=False).sent(T0 + timedelta(hours=1), "email")
    assert rules_of(audit_check.check_trail(account(), bounced.events)) == [(audit_check.RULE_BLOCKED, "e3")]


def test_texts_need_a_mobile_and_consent_whatever_the_message() -> None:
    trail = Trail().sent(T0, "sms").sent(T0 + timedelta(days=3), "sms", "receipt")
    no_consent = account()
    no_consent = no_consent.with_changes(debtor=replace(no_consent.debtor, sms_consent=False))
    assert rules_of(audit_check.check_trail(no_consent, trail.events)) == [
        (audit_check.RULE_CONSENT, "e1"),
        (audit_check.RULE_CONSENT, "e2"),
    ]
    landline = account()
    landline = landline.with_changes(debtor=replace(landline.debtor, phone_is_mobile=False))
    assert len(audit_check.check_trail(landline, trail.events)) == 2


def test_disputes_and_paid_accounts_stop_collection_but_not_receipts() -> None:
    trail = (
        Trail()
        .add(EventType.PORTAL_DISPUTE_OPENED, T0, reason="not_mine")
        .sent(T0 + timedelta(hours=1), "email")
        .sent(T0 + timedelta(hours=2), "email", "receipt")
    )
    disputed = account(dispute=Dispute(T0, "not_mine"), flags=frozenset({Flag.DISPUTE}))
    assert rules_of(audit_check.check_trail(disputed, trail.events)) == [(audit_check.RULE_SUPPRESSED, "e2")]
    verified = account(dispute=Dispute(T0, "not_mine", DisputeStatus.VERIFIED))  # but no operator's event says when
    assert rules_of(audit_check.check_trail(verified, trail.events)) == [(audit_check.RULE_SUPPRESSED, "e2")]

    paid = (
        Trail()
        .add(EventType.PAYMENT_APPLIED, T0, status="paid")
        .sent(T0 + timedelta(hours=1), "email", "receipt")
        .sent(T0 + timedelta(hours=2), "email")
        .add(EventType.PAYMENT_REFUNDED, T0 + timedelta(days=1), status="active")
        .sent(T0 + timedelta(days=1, hours=1), "email")
    )
    violations = audit_check.check_trail(account(), paid.events)
    assert rules_of(violations) == [(audit_check.RULE_SUPPRESSED, "e3")]
    assert "account paid" in violations[0].why


def test_a_flag_dated_by_the_caller_suppresses_from_that_moment() -> None:
    trail = Trail().sent(T0).sent(T0 + timedelta(days=3))
    onsets = {Flag.BANKRUPTCY: T0 + timedelta(days=1)}
    violations = audit_check.check_trail(account(flags=frozenset({Flag.BANKRUPTCY})), trail.events, None, onsets)
    assert rules_of(violations) == [(audit_check.RULE_SUPPRESSED, "e2")]
    assert "bankruptcy" in violations[0].why


def test_third_party_validation_notice_first_by_email_once() -> None:
    rules = audit_check.default_rules("third_party")
    assert rules.third_party
    first_a_reminder = Trail().sent(T0).sent(T0 + timedelta(days=1), "email", "validation_notice")
    assert rules_of(audit_check.check_trail(account(), first_a_reminder.events, rules)) == [
        (audit_check.RULE_VALIDATION, "e1")
    ]
    by_text = Trail().sent(T0, "sms", "validation_notice").sent(T0 + timedelta(days=1), "email", "validation_notice")
    violations = audit_check.check_trail(account(), by_text.events, rules)
    assert [v.why for v in violations] == [
        "the validation notice went by text, not email",
        "a second validation notice",
    ]
    good = Trail().sent(T0, "email", "validation_notice").sent(T0 + timedelta(days=6)).sent(T0 + timedelta(days=9))
    assert audit_check.check_trail(account(), good.events, rules) == []
    assert audit_check.check_trail(account(), first_a_reminder.events) == []  # first-party: no notice needed


def test_check_all_uses_each_lenders_rules() -> None:
    third = LenderProfile(lender_id="acme", creditor_name="Acme", regime="third_party")
    trail = Trail().sent(T0)
    other = make_account("B-1", lender_id="other")
    records = [(account(), trail.events), (other, Trail(other.account_id).sent(T0).events)]
    violations = audit_check.check_all(records, {"acme": audit_check.CheckRules.from_rules(third.rules())})
    assert [(v.account_id, v.rule) for v in violations] == [("acme#A-1", audit_check.RULE_VALIDATION)]
    assert violations[0].as_dict()["event_id"] == "e1"


def ops(trail: Trail, when: datetime, action: str, **detail: Any) -> Trail:
    return trail.add(EventType.OPS_ACTION, when, action=action, reason="r", resolves=[], **detail)


def test_operator_actions_date_notices_dispute_resolutions_closures_and_conversations() -> None:
    notice = ops(Trail().sent(T0), T0 + timedelta(days=1), "record_notice", notice="cease_communication")
    notice.sent(T0 + timedelta(days=3)).sent(T0 + timedelta(days=3, hours=1), "email", "receipt")
    violations = audit_check.check_trail(account(flags=frozenset({Flag.CEASE_COMMUNICATION})), notice.events)
    assert rules_of(violations) == [(audit_check.RULE_SUPPRESSED, "e3")]
    assert "notice cease_communication" in violations[0].why

    disputed = Trail().add(EventType.PAYMENT_DISPUTED, T0, dispute="dp_1").sent(T0 + timedelta(hours=1))
    ops(disputed, T0 + timedelta(days=1), "resolve_dispute", outcome="verified", verification_ref="letter-1")
    disputed.sent(T0 + timedelta(days=1, hours=1))
    assert rules_of(audit_check.check_trail(account(), disputed.events)) == [(audit_check.RULE_SUPPRESSED, "e2")]

    closed = ops(Trail(), T0, "close", code="other").sent(T0 + timedelta(hours=1))
    ops(closed, T0 + timedelta(days=1), "adjust_balance", owed_after=0)
    assert rules_of(audit_check.check_trail(account(), closed.events)) == [(audit_check.RULE_SUPPRESSED, "e2")]

    talked = ops(Trail(), T0 + timedelta(days=1), "record_conversation", medium="phone", at="2026-03-02T17:00:00Z")
    talked.sent(T0 + timedelta(days=3)).sent(T0 + timedelta(days=7, hours=2))
    talked.sent(T0 + timedelta(days=4), "email", "receipt")
    assert rules_of(audit_check.check_trail(account(), talked.events)) == [(audit_check.RULE_PAUSE, "e2")]


def test_an_operator_may_have_the_validation_notice_sent_again() -> None:
    rules = audit_check.default_rules("third_party")
    trail = Trail().sent(T0, "email", "validation_notice")
    ops(trail, T0 + timedelta(days=1), "resend_validation_notice")
    trail.sent(T0 + timedelta(days=1, hours=1), "email", "validation_notice")
    assert audit_check.check_trail(account(), trail.events, rules) == []


def test_a_dispute_verified_by_email_stays_paused_until_the_verification_went() -> None:
    disputed = Trail().add(EventType.PORTAL_DISPUTE_OPENED, T0, reason="wrong_amount")
    ops(disputed, T0 + timedelta(days=1), "resolve_dispute", outcome="verified", send_by="email")
    disputed.sent(T0 + timedelta(days=1, hours=1))  # e3: a reminder before the verification: a violation
    disputed.sent(T0 + timedelta(days=1, hours=2), "email", "dispute_verification")  # e4: the one allowed
    disputed.sent(T0 + timedelta(days=4))  # e5: collection resumes after it
    assert rules_of(audit_check.check_trail(account(), disputed.events)) == [(audit_check.RULE_SUPPRESSED, "e3")]

    unasked = Trail().add(EventType.PORTAL_DISPUTE_OPENED, T0, reason="wrong_amount")
    unasked.sent(T0 + timedelta(hours=2), "email", "dispute_verification")  # no operator verified it yet
    assert rules_of(audit_check.check_trail(account(), unasked.events)) == [(audit_check.RULE_SUPPRESSED, "e2")]
