"""Collection KPIs, computed only from accounts (the accounts table) and their audit trails (the events
table): never from a simulator's or a test's own knowledge. Definitions in docs/kpis.md; in short:

- placed: what the lender asked us to collect, per account `payments.balance_before_payments` (the
  balance today plus what payments took off it), summed per currency in minor units. A settled
  account's forgiven rest stays in `placed`.
- collected: what payments took off balances (fees + interest + principal of every payment, net of
  refunds; an overpayment held as a credit is not collected), per currency in minor units.
- recovery rate: collected / placed, per currency (a float; the amounts stay integers).
- resolved: the account is PAID or SETTLED; resolved at the `payment_applied` (or `payment_refunded`)
  event that last moved it to that status. Resolution rate: resolved / accounts.
- cured: paid in full (PAID), or back on an agreed schedule (its plan CURRENT or COMPLETED). A settlement
  resolves an account but does not cure it. Cure rate: cured / accounts.
- contacted: at least one collection message sent (`reminder_sent` of any template but a receipt or a
  payment-failed notice).
- right-party contact (RPC): the debtor showed themselves: passed the portal's identity check, acted in
  the portal (checkout, plan, promise, dispute, hardship, preferences), paid, or replied to a text with
  something other than STOP/START/HELP (the webhooks' `sms:replied` counter). RPC rate: contacted accounts
  with an RPC / contacted accounts.
- engaged: a contacted account with an RPC, an email opened or clicked, or a text link clicked (the
  webhooks' engagement counters). Engagement rate: engaged / contacted.
- messages: `reminder_sent` events (every template, receipts included: they cost the same); messages per
  unit recovered: messages to the currency's accounts / collected in major units.
- opt-outs: `consent_revoked` (STOP), `portal_unsubscribed`, and preference changes that add a channel
  to the opted-out set; complaints: `email_complained`. Both per 1,000 messages.
- promises: each `portal_promise_made`; kept when the payments applied from its making to the end of the
  promised day (debtor's zone) plus the grace reach its amount, broken when that moment passed without,
  pending before. Promise-kept rate: kept / (kept + broken).
- plans: started when the card was saved (`plan_card_saved`); outcome from the account's plan of that id
  (completed, broken, cancelled, current; replaced when the account now holds another plan). Plan
  completion: completed / started.
- days to resolution: from placement (`placed_at`, the accounts table's `created_at`; else the trail's
  first event) to resolution, median over resolved accounts.
- roll rate from stage S to the next: of the accounts still owing when S opened (its first day past due,
  00:00 in the debtor's zone) and placed before the next stage opened, the share still owing when it
  opened; counted only once the next stage has opened (`as_of`).

`as_of` is the moment the KPIs describe (from the caller: the domain never reads the clock).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from functions.core.account import (
    DEFAULT_STAGE_BOUNDS,
    Account,
    AccountStatus,
    Channel,
    PlanStatus,
    StageBound,
    days_past_due,
    stage_for,
)
from functions.core.audit import AuditEvent, EventType
from functions.core.clock import at_local_time, ensure_utc, local_date
from functions.core.jobs import Template
from functions.core.money import currency_exponent
from functions.core.payments import balance_before_payments

TRANSACTIONAL_TEMPLATES = frozenset({Template.RECEIPT.value, Template.PAYMENT_FAILED.value})
RESOLVED = frozenset({AccountStatus.PAID.value, AccountStatus.SETTLED.value})
PORTAL_ACTIONS = frozenset(
    {
        EventType.PORTAL_VERIFIED,
        EventType.PORTAL_CHECKOUT_STARTED,
        EventType.PORTAL_PLAN_CHOSEN,
        EventType.PORTAL_PROMISE_MADE,
        EventType.PORTAL_DISPUTE_OPENED,
        EventType.PORTAL_HARDSHIP,
        EventType.PORTAL_PREFERENCES_CHANGED,
    }
)
ENGAGEMENT_KEYS = ("email:opened", "email:clicked", "sms:clicked", "sms:replied", "any:portal_visit", "any:paid")
DEFAULT_PROMISE_GRACE = timedelta(days=2)  # the policy's default (`compile_rules(promise_grace_days=2)`)
DEFAULT_ATTRIBUTION = timedelta(days=7)
MESSAGE_KEYS = ("channel", "template", "variant", "stage", "tone")


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """One account as the tables hold it, its trail in append order, and when it was placed."""

    account: Account
    trail: Sequence[AuditEvent]
    placed_at: datetime | None = None  # the accounts table's `created_at` (not on the domain Account)


@dataclass(frozen=True, slots=True)
class Roll:
    entered: int = 0  # owing when the stage opened, placed before the next one opened, next one open by as_of
    rolled: int = 0  # of those, still owing when the next stage opened

    @property
    def rate(self) -> float | None:
        return self.rolled / self.entered if self.entered else None


@dataclass(frozen=True, slots=True)
class _Facts:
    """What one account contributes (computed once, summed by any grouping)."""

    currency: str
    placed_minor: int
    collected_minor: int
    collected_by_stage: dict[str, int]
    resolved: bool
    resolved_at: datetime | None
    started_at: datetime | None
    cured: bool
    contacted: bool
    rpc: bool
    engaged: bool
    messages: Counter[str]  # by channel
    opt_outs: int
    complaints: int
    promises: Counter[str]  # kept / broken / pending
    plans: Counter[str]  # started / completed / broken / cancelled / current / replaced
    rolls: dict[str, tuple[bool, bool]]  # "early->mid": (entered, rolled)


@dataclass
class Kpis:
    """The KPIs of a group of accounts. Money in minor units per currency; rates are floats or None (0/0)."""

    accounts: int = 0
    placed_minor: dict[str, int] = field(default_factory=dict)
    collected_minor: dict[str, int] = field(default_factory=dict)
    recovery_rate: dict[str, float | None] = field(default_factory=dict)
    collected_by_stage_minor: dict[str, dict[str, int]] = field(default_factory=dict)
    resolved: int = 0
    resolution_rate: float | None = None
    cured: int = 0
    cure_rate: float | None = None
    contacted: int = 0
    right_party_contacts: int = 0
    right_party_contact_rate: float | None = None
    engaged: int = 0
    engagement_rate: float | None = None
    messages: int = 0
    messages_by_channel: dict[str, int] = field(default_factory=dict)
    messages_per_unit_recovered: dict[str, float | None] = field(default_factory=dict)
    opt_outs: int = 0
    opt_outs_per_1000_messages: float | None = None
    complaints: int = 0
    complaints_per_1000_messages: float | None = None
    promises_made: int = 0
    promises_kept: int = 0
    promises_broken: int = 0
    promises_pending: int = 0
    promise_kept_rate: float | None = None
    plans_started: int = 0
    plans_completed: int = 0
    plans_broken: int = 0
    plans_current: int = 0
    plan_completion_rate: float | None = None
    median_days_to_resolution: float | None = None
    roll_rates: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _per_1000(count: int, messages: int) -> float | None:
    return 1000 * count / messages if messages else None


def _stage_opens(account: Account, bound: StageBound) -> datetime:
    return at_local_time(account.due_date + timedelta(days=bound.first_dpd), time(0), account.debtor.timezone)


def _promise_deadline(detail: dict[str, Any], timezone: str, grace: timedelta) -> datetime | None:
    try:
        due = date.fromisoformat(str(detail["due"]))
    except (KeyError, ValueError):
        return None
    return at_local_time(due + timedelta(days=1), time(0), timezone) + grace


def _facts(record: AccountRecord, as_of: datetime, bounds: tuple[StageBound, ...], promise_grace: timedelta) -> _Facts:
    account, trail = record.account, sorted(record.trail, key=lambda e: e.seq)
    tz = account.debtor.timezone
    collected = sum(p.fees_minor + p.interest_minor + p.principal_minor for p in account.payments)
    status = account.status.value
    resolved_at: datetime | None = None
    messages: Counter[str] = Counter()
    collection_messages = opt_outs = complaints = 0
    opted_out: set[str] = set()
    rpc = False
    payments: list[tuple[datetime, int]] = []
    promises: list[tuple[datetime, int, datetime | None]] = []
    plans_started: list[str] = []
    by_stage: Counter[str] = Counter()
    for event in trail:
        kind, detail, at = event.type, event.detail or {}, ensure_utc(event.at)
        if kind is EventType.REMINDER_SENT:
            messages[str(detail.get("channel", ""))] += 1
            collection_messages += str(detail.get("template", "")) not in TRANSACTIONAL_TEMPLATES
        elif kind in (EventType.PAYMENT_APPLIED, EventType.PAYMENT_REFUNDED):
            if kind is EventType.PAYMENT_APPLIED:
                rpc = True
                applied = sum(int(detail.get(k) or 0) for k in ("fees_minor", "interest_minor", "principal_minor"))
                payments.append((at, int(detail.get("amount_minor") or 0)))
                stage = stage_for(days_past_due(account.due_date, local_date(at, tz)), bounds)
                by_stage[stage.value] += applied
            if detail.get("status") in RESOLVED:
                resolved_at = resolved_at or at
            elif detail.get("status"):
                resolved_at = None  # reopened by a refund
        elif kind in PORTAL_ACTIONS:
            rpc = True
            if kind is EventType.PORTAL_PROMISE_MADE:
                promises.append(
                    (at, int(detail.get("amount_minor") or 0), _promise_deadline(detail, tz, promise_grace))
                )
            elif kind is EventType.PORTAL_PREFERENCES_CHANGED and detail.get("opt_out") is not None:
                chosen = {str(c) for c in detail["opt_out"]}
                opt_outs += len(chosen - opted_out)
                opted_out = chosen
        elif kind is EventType.PLAN_CARD_SAVED and detail.get("plan"):
            plans_started.append(str(detail["plan"]))
        elif kind is EventType.CONSENT_REVOKED:
            opt_outs += 1
            opted_out.add(str(detail.get("channel", Channel.SMS.value)))
        elif kind is EventType.CONSENT_RESTORED:
            opted_out.discard(str(detail.get("channel", Channel.SMS.value)))
        elif kind is EventType.PORTAL_UNSUBSCRIBED:
            opt_outs += 1
            opted_out.add(str(detail.get("channel", "")))
        elif kind is EventType.EMAIL_COMPLAINED:
            complaints += 1
    if status not in RESOLVED:
        resolved_at = None
    counters = account.engagement
    rpc = rpc or counters.get("sms:replied", 0) > 0
    contacted = collection_messages > 0
    engaged = contacted and (rpc or any(counters.get(key, 0) > 0 for key in ENGAGEMENT_KEYS))

    promise_outcomes: Counter[str] = Counter()
    for made_at, amount, deadline in promises:
        paid = sum(minor for at, minor in payments if made_at <= at and (deadline is None or at < deadline))
        if amount and paid >= amount:
            promise_outcomes["kept"] += 1
        elif deadline is not None and as_of >= deadline:
            promise_outcomes["broken"] += 1
        else:
            promise_outcomes["pending"] += 1

    plan_outcomes: Counter[str] = Counter()
    for plan_id in dict.fromkeys(plans_started):
        plan_outcomes["started"] += 1
        plan = account.plan
        if plan is None or plan.plan_id != plan_id:
            plan_outcomes["replaced"] += 1
        else:
            plan_outcomes[plan.status.value if plan.status is not PlanStatus.AWAITING_CARD else "current"] += 1

    started_at = ensure_utc(record.placed_at) if record.placed_at else (ensure_utc(trail[0].at) if trail else None)
    rolls: dict[str, tuple[bool, bool]] = {}
    ordered = sorted(bounds, key=lambda b: b.first_dpd)
    for bound, following in zip(ordered, ordered[1:], strict=False):
        opens, next_opens = _stage_opens(account, bound), _stage_opens(account, following)
        if as_of < next_opens or (started_at is not None and started_at >= next_opens):
            continue  # not mature yet, or placed after this stage ended
        owing_at = lambda moment: resolved_at is None or resolved_at >= moment  # noqa: E731
        entered = owing_at(opens)
        rolls[f"{bound.stage.value}->{following.stage.value}"] = (entered, entered and owing_at(next_opens))

    plan = account.plan
    return _Facts(
        currency=account.balance.currency,
        placed_minor=balance_before_payments(account).total.minor,
        collected_minor=collected,
        collected_by_stage=dict(by_stage),
        resolved=status in RESOLVED,
        resolved_at=resolved_at,
        started_at=started_at,
        cured=account.status is AccountStatus.PAID
        or (plan is not None and plan.status in (PlanStatus.CURRENT, PlanStatus.COMPLETED)),
        contacted=contacted,
        rpc=rpc,
        engaged=engaged,
        messages=messages,
        opt_outs=opt_outs,
        complaints=complaints,
        promises=promise_outcomes,
        plans=plan_outcomes,
        rolls=rolls,
    )


def _summarise(facts: list[_Facts]) -> Kpis:
    kpis = Kpis(accounts=len(facts))
    placed: Counter[str] = Counter()
    collected: Counter[str] = Counter()
    messages_by_currency: Counter[str] = Counter()
    by_stage: dict[str, Counter[str]] = defaultdict(Counter)
    channels: Counter[str] = Counter()
    promises: Counter[str] = Counter()
    plans: Counter[str] = Counter()
    rolls: dict[str, Roll] = {}
    days: list[float] = []
    for f in facts:
        placed[f.currency] += f.placed_minor
        collected[f.currency] += f.collected_minor
        by_stage[f.currency].update(f.collected_by_stage)
        channels.update(f.messages)
        messages_by_currency[f.currency] += sum(f.messages.values())
        kpis.resolved += f.resolved
        kpis.cured += f.cured
        kpis.contacted += f.contacted
        kpis.right_party_contacts += f.contacted and f.rpc
        kpis.engaged += f.engaged
        kpis.opt_outs += f.opt_outs
        kpis.complaints += f.complaints
        promises.update(f.promises)
        plans.update(f.plans)
        if f.resolved_at is not None and f.started_at is not None:
            days.append(max(0.0, (f.resolved_at - f.started_at) / timedelta(days=1)))
        for name, (entered, rolled) in f.rolls.items():
            roll = rolls.get(name, Roll())
            rolls[name] = Roll(roll.entered + entered, roll.rolled + rolled)
    kpis.placed_minor = dict(sorted(placed.items()))
    kpis.collected_minor = {currency: collected[currency] for currency in kpis.placed_minor}
    kpis.recovery_rate = {c: _ratio(collected[c], placed[c]) for c in kpis.placed_minor}
    kpis.collected_by_stage_minor = {c: dict(sorted(by_stage[c].items())) for c in kpis.placed_minor}
    kpis.messages_per_unit_recovered = {
        c: _ratio(messages_by_currency[c], collected[c] / 10 ** currency_exponent(c)) for c in kpis.placed_minor
    }
    kpis.resolution_rate = _ratio(kpis.resolved, kpis.accounts)
    kpis.cure_rate = _ratio(kpis.cured, kpis.accounts)
    kpis.right_party_contact_rate = _ratio(kpis.right_party_contacts, kpis.contacted)
    kpis.engagement_rate = _ratio(kpis.engaged, kpis.contacted)
    kpis.messages_by_channel = dict(sorted(channels.items()))
    kpis.messages = sum(channels.values())
    kpis.opt_outs_per_1000_messages = _per_1000(kpis.opt_outs, kpis.messages)
    kpis.complaints_per_1000_messages = _per_1000(kpis.complaints, kpis.messages)
    kpis.promises_kept, kpis.promises_broken, kpis.promises_pending = (
        promises["kept"],
        promises["broken"],
        promises["pending"],
    )
    kpis.promises_made = sum(promises.values())
    kpis.promise_kept_rate = _ratio(kpis.promises_kept, kpis.promises_kept + kpis.promises_broken)
    kpis.plans_started, kpis.plans_completed = plans["started"], plans[PlanStatus.COMPLETED.value]
    kpis.plans_broken, kpis.plans_current = plans[PlanStatus.BROKEN.value], plans["current"]
    kpis.plan_completion_rate = _ratio(kpis.plans_completed, kpis.plans_started)
    kpis.median_days_to_resolution = statistics.median(days) if days else None
    kpis.roll_rates = {
        name: {"entered": roll.entered, "rolled": roll.rolled, "rate": roll.rate} for name, roll in rolls.items()
    }
    return kpis


def compute(
    records: Iterable[AccountRecord],
    as_of: datetime,
    *,
    group_by: Callable[[Account], Hashable] | None = None,
    bounds: tuple[StageBound, ...] = DEFAULT_STAGE_BOUNDS,
    promise_grace: timedelta = DEFAULT_PROMISE_GRACE,
) -> dict[Hashable, Kpis]:
    """The KPIs of every group of accounts (one group, key None, without `group_by`) at `as_of`."""
    as_of = ensure_utc(as_of)
    groups: dict[Hashable, list[_Facts]] = defaultdict(list)
    for record in records:
        key = group_by(record.account) if group_by else None
        groups[key].append(_facts(record, as_of, bounds, promise_grace))
    return {key: _summarise(facts) for key, facts in sorted(groups.items(), key=lambda item: str(item[0]))}


def overall(records: Iterable[AccountRecord], as_of: datetime, **options: Any) -> Kpis:
    """The KPIs of all the accounts together."""
    return compute(records, as_of, **options).get(None) or Kpis()


def by_lender(account: Account) -> str:
    return account.lender_id


def by_tier(account: Account) -> int | None:
    """The account's tier now (a message's tier is not in its event: the account's latest is used)."""
    return account.tier


@dataclass
class MessageStats:
    """What one kind of message (a channel x template x variant x stage x tone, or a coarser key) did."""

    messages: int = 0
    accounts: int = 0
    payments: int = 0  # payments attributed: the last collection message before each, within the window
    collected_minor: dict[str, int] = field(default_factory=dict)
    portal_visits: int = 0  # identity checks passed, attributed the same way
    opt_outs: int = 0  # attributed to the last message on the channel opted out of
    complaints: int = 0  # attributed to the last email
    payments_per_1000_messages: float | None = None
    opt_outs_per_1000_messages: float | None = None
    complaints_per_1000_messages: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def messages_by(
    records: Iterable[AccountRecord],
    keys: Sequence[str] = MESSAGE_KEYS,
    attribution: timedelta = DEFAULT_ATTRIBUTION,
) -> dict[tuple[str, ...], MessageStats]:
    """Messages grouped by the details their `reminder_sent` events carry (`channel`, `template`,
    `variant`, `stage`, `tone`, `language`) or by the account's `lender` / `tier`, with the payments,
    portal visits, opt-outs and complaints that followed them (last-touch attribution)."""
    stats: dict[tuple[str, ...], MessageStats] = defaultdict(MessageStats)
    reached: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for record in records:
        account = record.account
        context = {"lender": account.lender_id, "tier": str(account.tier) if account.tier is not None else "none"}
        last_collection: tuple[datetime, tuple[str, ...]] | None = None
        last_on: dict[str, tuple[str, ...]] = {}
        opted_out: set[str] = set()
        for event in sorted(record.trail, key=lambda e: e.seq):
            detail, at = event.detail or {}, ensure_utc(event.at)
            if event.type is EventType.REMINDER_SENT:
                key = tuple(str(context.get(k, detail.get(k, ""))) for k in keys)
                stats[key].messages += 1
                reached[key].add(account.account_id)
                channel = str(detail.get("channel", ""))
                last_on[channel] = key
                if str(detail.get("template", "")) not in TRANSACTIONAL_TEMPLATES:
                    last_collection = (at, key)
                continue
            touch = last_collection[1] if last_collection and at - last_collection[0] <= attribution else None
            if event.type is EventType.PAYMENT_APPLIED and touch:
                stats[touch].payments += 1
                collected = stats[touch].collected_minor
                currency = str(detail.get("currency", account.balance.currency))
                applied = sum(int(detail.get(k) or 0) for k in ("fees_minor", "interest_minor", "principal_minor"))
                collected[currency] = collected.get(currency, 0) + applied
            elif event.type is EventType.PORTAL_VERIFIED and touch:
                stats[touch].portal_visits += 1
            elif event.type in (EventType.CONSENT_REVOKED, EventType.PORTAL_UNSUBSCRIBED):
                channel = str(detail.get("channel", Channel.SMS.value))
                opted_out.add(channel)
                if channel in last_on:
                    stats[last_on[channel]].opt_outs += 1
            elif event.type is EventType.PORTAL_PREFERENCES_CHANGED and detail.get("opt_out") is not None:
                chosen = {str(c) for c in detail["opt_out"]}
                for channel in chosen - opted_out:
                    if channel in last_on:
                        stats[last_on[channel]].opt_outs += 1
                opted_out = chosen
            elif event.type is EventType.EMAIL_COMPLAINED and Channel.EMAIL.value in last_on:
                stats[last_on[Channel.EMAIL.value]].complaints += 1
    for key, entry in stats.items():
        entry.accounts = len(reached[key])
        entry.payments_per_1000_messages = _per_1000(entry.payments, entry.messages)
        entry.opt_outs_per_1000_messages = _per_1000(entry.opt_outs, entry.messages)
        entry.complaints_per_1000_messages = _per_1000(entry.complaints, entry.messages)
    return dict(sorted(stats.items()))
