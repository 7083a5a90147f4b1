"""Table-driven tests of every gate rule: DST, a +05:45 zone, conflicting zones, leap days, suppressions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.core.account import (
    AccountStatus,
    Block,
    Debtor,
    Dispute,
    DisputeStatus,
    Flag,
    Placement,
    Plan,
    PlanStatus,
    Promise,
    PromiseStatus,
)
from functions.core.compliance import (
    Contact,
    ContactKind,
    GatePolicy,
    Kind,
    Standing,
    _allowed_now,
    _history_only,
    _now,
    arrangement,
    channel_permitted,
    conversation_pause,
    earliest_allowed,
    frequency_cap,
    gate,
    inconvenient_time,
    is_time_barred,
    next_convenient,
    standing_of,
    suppressed,
    validation_notice_first,
)
from functions.core.jobs import Channel
from functions.core.money import Money
from tests.events.factories import make_account

POLICY = GatePolicy()
EMAIL, SMS = Channel.EMAIL, Channel.SMS


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def in_zones(*zones: str):
    account = make_account()
    debtor = account.debtor
    return account.with_changes(debtor=Debtor(debtor.name, debtor.email, debtor.phone, zones[0], "en", zones))


@pytest.mark.parametrize(
    ("zones", "now", "allowed", "earliest"),
    [
        # New York, EST (UTC-5): 08:00 local = 13:00Z
        (("America/New_York",), "2026-01-15 12:59", False, "2026-01-15 13:00"),
        (("America/New_York",), "2026-01-15 13:00", True, None),
        (("America/New_York",), "2026-01-16 01:59", True, None),  # 20:59 local
        (("America/New_York",), "2026-01-16 02:00", False, "2026-01-16 13:00"),  # 21:00 local: too late
        # Spring forward (2026-03-08): 08:00 EDT is 12:00Z that day, 13:00Z the day before
        (("America/New_York",), "2026-03-07 12:30", False, "2026-03-07 13:00"),
        (("America/New_York",), "2026-03-08 11:30", False, "2026-03-08 12:00"),
        (("America/New_York",), "2026-03-08 12:00", True, None),
        # Fall back (2026-11-01): 08:00 EST is 13:00Z; at 12:30Z it is 07:30 local
        (("America/New_York",), "2026-11-01 12:30", False, "2026-11-01 13:00"),
        # Kathmandu, +05:45: 08:00 local = 02:15Z, 21:00 local = 15:15Z
        (("Asia/Kathmandu",), "2026-05-01 02:14", False, "2026-05-01 02:15"),
        (("Asia/Kathmandu",), "2026-05-01 15:14", True, None),
        (("Asia/Kathmandu",), "2026-05-01 15:15", False, "2026-05-02 02:15"),
        # Address in London, phone in New York: both must be 08:00-21:00 (13:00Z-21:00Z in winter)
        (("America/New_York", "Europe/London"), "2026-01-15 09:00", False, "2026-01-15 13:00"),
        (("America/New_York", "Europe/London"), "2026-01-15 20:59", True, None),
        (("America/New_York", "Europe/London"), "2026-01-15 21:00", False, "2026-01-16 13:00"),
        # Three zones eight hours apart: never convenient in all of them
        (("America/Los_Angeles", "Europe/London", "Asia/Shanghai"), "2026-01-15 12:00", False, None),
    ],
)
def test_contact_only_between_8_and_21_in_every_zone(zones, now, allowed, earliest) -> None:
    verdict = inconvenient_time(in_zones(*zones), Standing(), EMAIL, Kind.REMINDER, utc(now), POLICY)
    assert verdict.allowed is allowed
    assert verdict.earliest == (utc(earliest) if earliest else None)


def test_next_convenient_is_inside_the_window_everywhere() -> None:
    zones = ("America/New_York", "Asia/Kathmandu")
    moment = next_convenient(utc("2026-06-01 00:00"), zones, POLICY)
    assert moment is not None
    for tz in zones:
        local = moment.astimezone(ZoneInfo(tz))
        assert 8 <= local.hour < 21


@pytest.mark.parametrize(
    ("change", "standing", "reason"),
    [
        ({"status": AccountStatus.PAID}, Standing(), "account paid"),
        ({"status": AccountStatus.SETTLED}, Standing(), "account settled"),
        ({"status": AccountStatus.RECALLED}, Standing(), "account recalled"),
        ({"flags": frozenset({Flag.CEASE_COMMUNICATION})}, Standing(), "cease_communication"),
        ({"flags": frozenset({Flag.BANKRUPTCY})}, Standing(), "bankruptcy"),
        ({"flags": frozenset({Flag.DECEASED})}, Standing(), "deceased"),
        ({"flags": frozenset({Flag.FRAUD})}, Standing(), "fraud"),
        ({"flags": frozenset({Flag.RECALLED})}, Standing(), "recalled"),
        ({"flags": frozenset({Flag.DISPUTE})}, Standing(), "disputed: paused until verification is sent"),
        ({}, Standing(attorney_represented=True), "represented by an attorney"),
    ],
)
def test_each_suppression_stops_all_outreach_until_something_changes(change, standing, reason) -> None:
    verdict = suppressed(
        make_account().with_changes(**change), standing, EMAIL, Kind.REMINDER, utc("2026-01-15 15:00"), POLICY
    )
    assert (verdict.allowed, verdict.reason, verdict.earliest) == (False, reason, None)


def test_nothing_owed_is_never_chased() -> None:
    verdict = suppressed(
        make_account(principal=0, interest=0, fees=0), Standing(), EMAIL, Kind.REMINDER, utc("2026-01-15 15:00"), POLICY
    )
    assert not verdict.allowed


@pytest.mark.parametrize(
    ("channel", "account_change", "standing", "allowed", "reason"),
    [
        (EMAIL, {}, Standing(), True, ""),
        (EMAIL, {}, Standing(opted_out=frozenset({EMAIL})), False, "opted out of email"),
        (SMS, {}, Standing(opted_out=frozenset({EMAIL})), False, "no mobile number"),
        (EMAIL, {}, Standing(email_bounced=True), False, "email address bounces"),
        (EMAIL, {}, Standing(email_employer_provided=True), False, "employer-provided email address"),
        (EMAIL, {"email": None}, Standing(), False, "no email address"),
        (SMS, {"mobile": True, "consent": False}, Standing(), False, "no prior express consent to texts"),
        (SMS, {"mobile": True, "consent": True}, Standing(), True, ""),
        (SMS, {"mobile": True, "consent": True}, Standing(opted_out=frozenset({SMS})), False, "opted out of sms"),
    ],
)
def test_channel_needs_consent_and_no_opt_out(channel, account_change, standing, allowed, reason) -> None:
    account = make_account(email=account_change.get("email", "dana.reyes@example.com"))
    if "mobile" in account_change:
        debtor = account.debtor
        account = account.with_changes(
            debtor=Debtor(
                debtor.name,
                debtor.email,
                debtor.phone,
                debtor.timezone,
                "en",
                phone_is_mobile=True,
                sms_consent=account_change["consent"],
            )
        )
    verdict = channel_permitted(account, standing, channel, Kind.REMINDER, utc("2026-01-15 15:00"), POLICY)
    assert (verdict.allowed, verdict.reason) == (allowed, reason)


def test_caps_count_a_rolling_week_and_say_when_a_slot_frees() -> None:
    now = utc("2026-01-15 15:00")
    sent = tuple(Contact(now - timedelta(days=d), EMAIL) for d in (1, 3, 6))
    verdict = frequency_cap(make_account(), Standing(history=sent), EMAIL, Kind.REMINDER, now, POLICY)
    assert not verdict.allowed and verdict.earliest == now - timedelta(days=6) + timedelta(days=7)
    older = tuple(Contact(now - timedelta(days=d), EMAIL) for d in (1, 3, 7))  # the oldest has left the week
    assert frequency_cap(make_account(), Standing(history=older), EMAIL, Kind.REMINDER, now, POLICY).allowed
    assert frequency_cap(make_account(), Standing(history=sent), SMS, Kind.REMINDER, now, POLICY).allowed


def test_the_cap_across_channels_counts_every_channel() -> None:
    now = utc("2026-01-15 15:00")
    mixed = tuple(
        Contact(now - timedelta(hours=h), channel)
        for h, channel in ((1, EMAIL), (2, SMS), (3, EMAIL), (4, SMS), (5, SMS))
    )
    policy = GatePolicy(caps_per_channel={EMAIL: 5, SMS: 5}, cap_all_channels=5)
    verdict = frequency_cap(make_account(), Standing(history=mixed), EMAIL, Kind.REMINDER, now, policy)
    assert not verdict.allowed and verdict.earliest == now - timedelta(hours=5) + timedelta(days=7)


def test_the_rolling_week_spans_a_leap_day() -> None:
    now = utc("2028-03-02 15:00")
    sent = tuple(Contact(utc(f"2028-02-{d} 15:00"), EMAIL) for d in (25, 27, 29))
    verdict = frequency_cap(make_account(), Standing(history=sent), EMAIL, Kind.REMINDER, now, POLICY)
    assert not verdict.allowed and verdict.earliest == utc("2028-03-03 15:00")  # Feb 25 + 7 days


def test_a_conversation_pauses_outreach() -> None:
    now = utc("2026-01-15 15:00")
    talk = Standing(history=(Contact(now - timedelta(days=2), Channel.EMAIL, ContactKind.CONVERSATION),))
    verdict = conversation_pause(make_account(), talk, EMAIL, Kind.REMINDER, now, POLICY)
    assert not verdict.allowed and verdict.earliest == now + timedelta(days=5)


def test_promises_and_plans_hold_reminders() -> None:
    now = utc("2026-01-15 15:00")
    promise = Standing(promise_until=utc("2026-01-20 00:00"))
    verdict = arrangement(make_account(), promise, EMAIL, Kind.REMINDER, now, POLICY)
    assert not verdict.allowed and verdict.earliest == utc("2026-01-22 00:00")
    plan = Standing(plan_current=True)
    assert not arrangement(make_account(), plan, EMAIL, Kind.REMINDER, now, POLICY).allowed
    assert arrangement(make_account(), plan, EMAIL, Kind.INSTALLMENT_NOTICE, now, POLICY).allowed


def test_earliest_allowed_waits_for_the_cap_and_then_the_morning() -> None:
    account = in_zones("America/New_York")
    now = utc("2026-01-15 15:00")
    # The cap lifts at 03:00Z on the 20th (22:00 in New York): the first allowed moment is 08:00 there.
    sent = tuple(Contact(utc(at), EMAIL) for at in ("2026-01-13 03:00", "2026-01-14 15:00", "2026-01-15 14:00"))
    moment, reasons = earliest_allowed(account, Standing(history=sent), EMAIL, Kind.REMINDER, now)
    assert moment == utc("2026-01-20 13:00")
    assert any(reason.startswith("frequency_cap") for reason in reasons)
    assert (
        earliest_allowed(account.with_changes(flags=frozenset({Flag.DISPUTE})), Standing(), EMAIL, Kind.REMINDER, now)[
            0
        ]
        is None
    )


def test_due_dates_on_a_leap_day_count_days_past_due_correctly() -> None:
    from functions.core.account import days_past_due

    assert days_past_due(date(2028, 2, 29), date(2028, 3, 1)) == 1
    assert days_past_due(date(2028, 2, 28), date(2028, 3, 1)) == 2


# --- the gate reads the account's stored state -------------------------------------------------------


NOON = utc("2026-01-15 18:00")  # 12:00 in Chicago


@pytest.mark.parametrize(
    ("change", "rule", "reason"),
    [
        ({"flags": frozenset({Flag.ATTORNEY})}, "suppressed", "represented by an attorney"),
        ({"dispute": Dispute(NOON, "not mine")}, "suppressed", "disputed: paused until verification is sent"),
        ({"blocked_channels": {EMAIL: Block.OPTED_OUT}}, "channel_permitted", "opted out of email"),
        ({"blocked_channels": {EMAIL: Block.COMPLAINED}}, "channel_permitted", "opted out of email"),
        ({"blocked_channels": {EMAIL: Block.BOUNCED}}, "channel_permitted", "email address bounces"),
        ({"blocked_channels": {EMAIL: Block.INVALID}}, "channel_permitted", "email address bounces"),
        ({"blocked_channels": {EMAIL: Block.EMPLOYER}}, "channel_permitted", "employer-provided email address"),
        ({"status": AccountStatus.CLOSED}, "suppressed", "account closed"),
    ],
)
def test_the_stored_state_denies_until_it_changes(change, rule, reason) -> None:
    account = make_account().with_changes(**change)
    denials = [v for v in gate(account, standing_of(account), EMAIL, Kind.REMINDER, NOON) if not v.allowed]
    assert (denials[0].rule, denials[0].reason, denials[0].earliest) == (rule, reason, None)


def test_a_verified_dispute_lets_outreach_resume() -> None:
    account = make_account().with_changes(dispute=Dispute(NOON, "not mine", DisputeStatus.VERIFIED))
    assert all(v.allowed for v in gate(account, standing_of(account), EMAIL, Kind.REMINDER, NOON))


def test_an_sms_opt_out_blocks_texts_only() -> None:
    account = in_zones("America/Chicago").with_changes(blocked_channels={SMS: Block.OPTED_OUT})
    standing = standing_of(account)
    assert not channel_permitted(account, standing, SMS, Kind.REMINDER, NOON, POLICY).allowed
    assert channel_permitted(account, standing, EMAIL, Kind.REMINDER, NOON, POLICY).allowed


def test_a_pending_promise_is_read_from_the_account_in_the_debtors_zone_and_crosses_a_leap_day() -> None:
    promise = Promise(Money(1_000, "USD"), date(2028, 2, 28), utc("2028-02-20 15:00"))
    account = make_account().with_changes(promise=promise)  # Chicago, CST (UTC-6)
    standing = standing_of(account)
    assert standing.promise_until == utc("2028-02-29 06:00")  # the end of Feb 28 in Chicago
    verdict = arrangement(account, standing, EMAIL, Kind.REMINDER, utc("2028-03-01 12:00"), POLICY)
    assert not verdict.allowed and verdict.earliest == utc("2028-03-02 06:00")  # + 2 days' grace, past Feb 29
    assert arrangement(account, standing, EMAIL, Kind.PROMISE_NOTICE, utc("2028-02-27 15:00"), POLICY).allowed
    kept = account.with_changes(promise=Promise(promise.amount, promise.due, promise.made_at, PromiseStatus.KEPT))
    assert standing_of(kept).promise_until is None


def test_a_current_plan_is_read_from_the_account() -> None:
    account = make_account().with_changes(plan=Plan("p", NOON, (), PlanStatus.CURRENT))
    standing = standing_of(account)
    assert not arrangement(account, standing, EMAIL, Kind.REMINDER, NOON, POLICY).allowed
    assert arrangement(account, standing, EMAIL, Kind.INSTALLMENT_NOTICE, NOON, POLICY).allowed
    broken = account.with_changes(plan=Plan("p", NOON, (), PlanStatus.BROKEN))
    assert arrangement(broken, standing_of(broken), EMAIL, Kind.REMINDER, NOON, POLICY).allowed
    assert not arrangement(broken, standing_of(broken), EMAIL, Kind.INSTALLMENT_NOTICE, NOON, POLICY).allowed


THIRD_PARTY = GatePolicy(third_party=True)


@pytest.mark.parametrize(
    ("sent", "channel", "kind", "policy", "allowed", "reason"),
    [
        (False, EMAIL, Kind.VALIDATION_NOTICE, THIRD_PARTY, True, ""),
        (False, EMAIL, Kind.REMINDER, THIRD_PARTY, False, "the validation notice must be the first message"),
        (False, SMS, Kind.VALIDATION_NOTICE, THIRD_PARTY, False, "the validation notice goes by email"),
        (True, EMAIL, Kind.VALIDATION_NOTICE, THIRD_PARTY, False, "validation notice already sent"),
        (True, EMAIL, Kind.REMINDER, THIRD_PARTY, True, ""),
        (False, EMAIL, Kind.REMINDER, POLICY, True, ""),  # first-party: no validation notice
        (False, EMAIL, Kind.TRANSACTIONAL, THIRD_PARTY, True, ""),
    ],
)
def test_third_party_validation_notice_comes_first(sent, channel, kind, policy, allowed, reason) -> None:
    account = make_account().with_changes(validation_notice_at=NOON if sent else None)
    verdict = validation_notice_first(account, standing_of(account), channel, kind, NOON, policy)
    assert (verdict.allowed, verdict.reason) == (allowed, reason)


@pytest.mark.parametrize(
    ("limit", "today", "barred"),
    [
        (None, date(2026, 1, 1), False),
        (date(2025, 12, 31), date(2026, 1, 1), True),
        (date(2026, 1, 1), date(2026, 1, 1), False),
    ],
)
def test_time_barred_after_the_statute_of_limitations(limit, today, barred) -> None:
    account = make_account().with_changes(placement=Placement(statute_of_limitations=limit))
    assert is_time_barred(account, today) is barred


def test_receipts_are_not_collection_but_still_need_a_deliverable_channel() -> None:
    paid = make_account().with_changes(status=AccountStatus.PAID)
    assert all(v.allowed for v in gate(paid, standing_of(paid), EMAIL, Kind.TRANSACTIONAL, NOON))
    bounced = paid.with_changes(blocked_channels={EMAIL: Block.BOUNCED})
    assert not all(v.allowed for v in gate(bounced, standing_of(bounced), EMAIL, Kind.TRANSACTIONAL, NOON))


@pytest.mark.parametrize(
    ("zones", "now", "earliest"),
    [
        # Lord Howe moves 30 minutes at DST (+11 / +10:30): 08:00 local on 2026-04-05 is 21:30Z the day before
        (("Australia/Lord_Howe",), "2026-04-04 20:00", "2026-04-04 21:30"),
        # Kathmandu (+05:45) and New York in summer (-4): 08:00 NY = 12:00Z = 17:45 Kathmandu; 21:00 Kathmandu = 15:15Z
        (("Asia/Kathmandu", "America/New_York"), "2026-07-01 00:00", "2026-07-01 12:00"),
        # New York on a leap day
        (("America/New_York",), "2028-02-29 05:00", "2028-02-29 13:00"),
    ],
)
def test_more_zones_and_dates(zones, now, earliest) -> None:
    assert next_convenient(utc(now), zones, POLICY) == utc(earliest)


# --- the gate's fast path agrees with the rules ------------------------------------------------------


_moments = st.integers(0, 24 * 20).map(lambda h: utc("2026-03-01 00:00") + timedelta(hours=h, minutes=15 * (h % 4)))


@settings(max_examples=400, deadline=None, database=None)
@given(
    zones=st.lists(
        st.sampled_from(["America/New_York", "Asia/Kathmandu", "Europe/London", "Pacific/Honolulu"]),
        min_size=1,
        max_size=2,
        unique=True,
    ),
    mobile=st.booleans(),
    consent=st.booleans(),
    email=st.sampled_from([None, "pat@example.com"]),
    flags=st.sets(st.sampled_from(list(Flag)), max_size=1),
    status=st.sampled_from(list(AccountStatus)),
    principal=st.sampled_from([0, 5_000]),
    blocked=st.dictionaries(st.sampled_from([EMAIL, SMS]), st.sampled_from(list(Block)), max_size=1),
    history=st.lists(
        st.tuples(_moments, st.sampled_from([EMAIL, SMS]), st.sampled_from(list(ContactKind))), max_size=6
    ),
    channel=st.sampled_from([EMAIL, SMS]),
    kind=st.sampled_from(list(Kind)),
    now=_moments,
    third_party=st.booleans(),
    caps=st.integers(1, 4),
)
def test_the_fast_path_never_allows_what_a_rule_denies(
    zones, mobile, consent, email, flags, status, principal, blocked, history, channel, kind, now, third_party, caps
) -> None:
    base = make_account(email=email, principal=principal, interest=0, fees=0)
    debtor = Debtor(
        "Pat", email, "+13125550147", zones[0], "en", tuple(zones), phone_is_mobile=mobile, sms_consent=consent
    )
    account = base.with_changes(
        debtor=debtor,
        flags=frozenset(flags),
        status=status,
        blocked_channels=blocked,
        recent_contacts=tuple(Contact(at, ch, k) for at, ch, k in sorted(history)),
    )
    policy = GatePolicy(caps_per_channel={EMAIL: caps, SMS: caps}, cap_all_channels=caps + 1, third_party=third_party)
    standing = standing_of(account)
    rules_allow = all(v.allowed for v in gate(account, standing, channel, kind, now, policy))
    assert _allowed_now(account, standing, channel, kind, now, policy) <= rules_allow
    if not (flags or blocked or third_party or kind is not Kind.REMINDER or status is not AccountStatus.ACTIVE):
        assert _allowed_now(account, standing, channel, kind, now, policy) == rules_allow  # and it is the fast path
    # When only the window's check fails, every other rule allows (earliest_allowed then asks the window's alone).
    if _now(account, standing, channel, kind, now, policy) == "window only":
        verdicts = gate(account, standing, channel, kind, now, policy)
        assert [v.rule for v in verdicts if not v.allowed] == ["inconvenient_time"]


def test_the_fast_history_only_standing_is_the_dataclasses() -> None:
    history = (Contact(datetime(2026, 3, 1, 15, tzinfo=UTC), Channel.EMAIL),)
    for contacts in ((), history):
        fast, slow = _history_only(contacts), Standing(history=contacts)
        assert fast == slow and type(fast) is Standing and repr(fast) == repr(slow)
