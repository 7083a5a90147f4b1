"""Property: over random portfolios and 60 simulated days of scheduler ticks, no contact is ever
scheduled outside 08:00-21:00 in any of the debtor's zones, over a cap, or to a suppressed account."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from functions.core.account import (
    Account,
    Balance,
    Block,
    Channel,
    Contact,
    Debtor,
    Dispute,
    Flag,
    Promise,
)
from functions.core.clock import zone
from functions.core.compliance import GatePolicy, gate_policy
from functions.core.decision import decide
from functions.core.jobs import Template
from functions.core.lender import LenderProfile
from functions.core.money import Money
from functions.core.outreach import first_contact_at, plan_contact

START = datetime(2026, 2, 20, 0, 0, tzinfo=UTC)  # spans the US spring-forward of 2026-03-08
TICK = timedelta(minutes=15)
DAYS = 60
ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Pacific/Honolulu",
    "Asia/Kathmandu",
    "Europe/London",
    "Australia/Lord_Howe",
    "America/St_Johns",
]
POLICY = GatePolicy()

accounts = st.builds(
    lambda ref, zones, due_offset, flags, principal: Account(
        lender_id="acme",
        external_ref=f"P-{ref}",
        debtor=Debtor("Pat Lee", "pat@example.com", None, zones[0], "en", tuple(zones)),
        balance=Balance(Money(principal, "USD"), Money(0, "USD"), Money(0, "USD")),
        due_date=date(2026, 2, 20) + timedelta(days=due_offset),
        flags=frozenset(flags),
    ),
    ref=st.integers(0, 10**6),
    zones=st.lists(st.sampled_from(ZONES), min_size=1, max_size=2, unique=True),
    due_offset=st.integers(-90, 45),
    flags=st.sets(st.sampled_from(list(Flag)), max_size=1),
    principal=st.integers(0, 500_000),
)


def _inside_window(moment: datetime, zones: tuple[str, ...]) -> bool:
    return all(8 <= moment.astimezone(zone(z)).hour < 21 for z in zones)


def _run_ticks(state: dict[str, Account], step: Callable[[Account, datetime], tuple[Account, datetime | None]]) -> None:
    """DAYS of scheduler ticks over `state`: each account is taken on the first 15-minute tick at or after its
    `next_contact_at`; `step` decides at that tick and returns the account and when to look at it again."""
    due = [(a.next_contact_at, a.account_id) for a in state.values() if a.next_contact_at is not None]
    heapq.heapify(due)
    end = START + timedelta(days=DAYS)
    while due and due[0][0] < end:
        moment, account_id = heapq.heappop(due)
        if state[account_id].next_contact_at != moment:
            continue
        tick = START + ((moment - START) // TICK + (1 if (moment - START) % TICK else 0)) * TICK
        account, next_contact_at = step(state[account_id], tick)
        following = None if next_contact_at is None else max(next_contact_at, tick + TICK)
        state[account_id] = account.with_changes(next_contact_at=following)
        if following is not None:
            heapq.heappush(due, (following, account_id))


def _assert_reachable_ones_contacted(portfolio: list[Account], jobs: dict[str, int]) -> None:
    """Not vacuous: a reachable account with nothing holding it is contacted."""
    for account in portfolio:
        reachable = account.is_collectible and account.dispute is None and Channel.EMAIL not in account.blocked_channels
        if reachable and account.promise is None:
            assert jobs[account.account_id] > 0, f"{account.account_id} was never contacted"


@settings(max_examples=25, deadline=None, database=None)
@given(st.lists(accounts, min_size=1, max_size=12, unique_by=lambda a: a.external_ref))
def test_sixty_days_of_ticks_never_break_a_rule(portfolio: list[Account]) -> None:
    state = {a.account_id: a.with_changes(next_contact_at=first_contact_at(a, START)) for a in portfolio}
    jobs = dict.fromkeys(state, 0)

    def step(account: Account, tick: datetime) -> tuple[Account, datetime | None]:
        plan = plan_contact(account, tick, cadence_days=2)  # a cadence that pushes against the caps
        if plan.job is not None:
            assert not account.flags and account.balance.total.is_positive, "contacted a suppressed account"
            assert _inside_window(plan.job.scheduled_for, account.debtor.contact_zones), "outside the window"
            contacts = (*account.recent_contacts, Contact(tick, Channel.EMAIL))
            window = [c for c in contacts if tick - POLICY.cap_period < c.at <= tick]
            assert len(window) <= POLICY.caps_per_channel[Channel.EMAIL], "over the weekly cap"
            account = account.with_changes(recent_contacts=contacts)
            jobs[account.account_id] += 1
        return account, plan.next_contact_at

    _run_ticks(state, step)
    _assert_reachable_ones_contacted(portfolio, jobs)
    for account_id, account in state.items():
        if account.is_collectible:  # every stage window opens within the 60 days: each one is reached
            assert jobs[account_id] > 0, f"{account_id} was never contacted"


# --- the whole engine: channels, consent, blocks, disputes, promises, both regimes ---------------------

rich_accounts = st.builds(
    lambda base, mobile, consent, blocked, disputed, promise_in: base.with_changes(
        debtor=Debtor(
            base.debtor.name,
            base.debtor.email,
            "+13125550147" if mobile else None,
            base.debtor.timezone,
            "en",
            base.debtor.timezones,
            phone_is_mobile=mobile,
            sms_consent=consent,
        ),
        blocked_channels=blocked,
        dispute=Dispute(START, "not mine") if disputed else None,
        promise=None
        if promise_in is None
        else Promise(Money(1_000, "USD"), START.date() + timedelta(days=promise_in), START),
    ),
    base=accounts,
    mobile=st.booleans(),
    consent=st.booleans(),
    blocked=st.dictionaries(st.sampled_from(list(Channel)), st.sampled_from(list(Block)), max_size=1),
    disputed=st.sampled_from([False, False, False, True]),
    promise_in=st.none() | st.integers(0, 20),
)


def _suppressed(account: Account, channel: Channel) -> str | None:
    if account.flags or not account.balance.total.is_positive or account.dispute is not None:
        return "suppressed account"
    if channel in account.blocked_channels:
        return f"blocked {channel.value}"
    if channel is Channel.SMS and not (account.debtor.phone_is_mobile and account.debtor.sms_consent):
        return "text without consent"
    return None


@settings(max_examples=40, deadline=None, database=None)
@given(
    st.lists(rich_accounts, min_size=1, max_size=10, unique_by=lambda a: a.external_ref),
    st.sampled_from(["first_party", "third_party"]),
)
def test_sixty_days_of_decisions_keep_every_rule_on_every_channel(portfolio: list[Account], regime: str) -> None:
    rules = LenderProfile(lender_id="acme", creditor_name="Acme", regime=regime, cadence_days=1).rules()
    policy = gate_policy(rules)
    # Every account is due at the start, suppressed ones included (flags and disputes arrive after placement).
    state = {a.account_id: a.with_changes(next_contact_at=START) for a in portfolio}
    jobs = dict.fromkeys(state, 0)

    def step(account: Account, tick: datetime) -> tuple[Account, datetime | None]:
        plan = decide(account, tick, rules, policy)
        jobs[account.account_id] += plan.job is not None
        if plan.updated is not None:
            account = plan.updated
        if plan.job is not None:
            job = plan.job
            assert _suppressed(account, job.channel) is None, _suppressed(account, job.channel)
            assert _inside_window(job.scheduled_for, account.debtor.contact_zones), "outside the window"
            if regime == "third_party" and account.validation_notice_at is None:
                assert job.template == Template.VALIDATION_NOTICE.value, "the validation notice was not first"
            contacts = (*account.recent_contacts, Contact(tick, job.channel))
            week = [c for c in contacts if tick - rules.cap_period < c.at <= tick]
            assert len(week) <= rules.cap_all_channels, "over the cap across channels"
            assert len([c for c in week if c.channel is job.channel]) <= rules.caps[job.channel], "over a channel cap"
            account = account.with_changes(recent_contacts=contacts)
            if job.template == Template.VALIDATION_NOTICE.value:
                account = account.with_changes(validation_notice_at=tick)
            if account.promise is not None and account.promise.status.value == "pending":
                assert job.template == Template.PROMISE_DUE.value, "a reminder while a promise is pending"
        return account, plan.next_contact_at

    _run_ticks(state, step)
    _assert_reachable_ones_contacted(portfolio, jobs)
