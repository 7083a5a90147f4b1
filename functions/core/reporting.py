"""The lender report's figures (docs/reports.md), computed only from accounts and their audit trails, like
the KPIs they slice (`functions.core.kpis`, docs/kpis.md), plus the experiments table's standings.

- Over time (`daily`): per UTC day and currency, what the trails say happened that day (messages by
  channel, identity checks passed, promises, payments and the amount they took off balances, refunds,
  accounts resolved, opt-outs, complaints) and the running totals: accounts and amount placed by the end of
  the day, collected so far, the recovery rate so far (collected so far / placed so far).
- Slices (`LenderFigures.by_tier`, `by_stage`): `kpis.compute` grouped by the account's tier now and by its
  entry stage (the stage on its placement day, in the debtor's zone, from the lender's stage windows).
  Messages by stage, channel, template variant and tier (`kpis.messages_by`, last-touch attribution).
- Funnel (`funnel`): of the accounts sent a collection message, how many reached each step, from message to
  payment. A later step counts as passing the earlier ones (`accounts`): a payment proves the debtor was
  reached even when the delivery receipt or the open pixel never came; `observed` is what was seen for the
  step itself.
- Experiments (`experiment_standings`): per segment, template and variant, the exposures and rewards the
  experiments table holds, the reward rate, the posterior mean and the probability that the variant is the
  best of its template in the segment (seeded Monte Carlo over the Beta posteriors: deterministic).
- What cleardue learned (`send_time`, `model_figures`): the lender's send-time priors (responses per prior
  segment `<stage>#<tier>#<channel>` and hour of the week, in the debtor's local time: core.sendtime) summed by
  local hour of the day and channel, with each segment's best hours and the share of its responses inside the
  contact window; and the propensity model in use: its version, what it was trained on, its held-out AUC,
  Brier score and reliability bins (core.propensity). The score sets tiers only, never eligibility.

Pure: no clock (the caller passes `as_of`), no I/O, nothing personal (no name, email or phone is read).
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from functions.core import audit_check, kpis
from functions.core.account import DEFAULT_STAGE_BOUNDS, Stage, StageBound, days_past_due, stage_for
from functions.core.audit import EventType
from functions.core.clock import ensure_utc, local_date
from functions.core.engagement import HOURS_IN_WEEK
from functions.core.experiments import Standing, parse_choice, win_probabilities
from functions.core.kpis import TRANSACTIONAL_TEMPLATES, AccountRecord, Kpis, MessageStats
from functions.core.payments import balance_before_payments
from functions.core.propensity import Model
from functions.core.sendtime import ANY_CHANNEL

RESOLVED = kpis.RESOLVED
DELIVERED_KEYS = ("email:delivered", "sms:delivered")
OPENED_KEYS = ("email:opened", "email:clicked", "sms:clicked")
COMMITMENTS = frozenset(
    {EventType.PORTAL_CHECKOUT_STARTED, EventType.PORTAL_PLAN_CHOSEN, EventType.PORTAL_PROMISE_MADE}
)
FUNNEL_STEPS: tuple[tuple[str, str], ...] = (
    ("messaged", "Sent a collection message"),
    ("delivered", "Delivered (handed to the provider, not refused)"),
    ("opened", "Opened or clicked"),
    ("verified", "Passed the pay page's identity check"),
    ("committed", "Started a checkout, chose a plan or promised"),
    ("paid", "Paid"),
)
PROBABILITY_DRAWS = 4000
HOURS_IN_DAY = 24
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # hour of week // 24 (core.engagement.hour_of_week)
BEST_HOURS = 3
STAGE_ORDER = {stage.value: position for position, stage in enumerate(Stage)}


@dataclass
class DayRow:
    """One UTC day of one currency's accounts."""

    day: date
    currency: str
    accounts_placed: int = 0  # running: placed by the end of the day
    placed_minor: int = 0  # running
    messages: int = 0
    messages_by_channel: dict[str, int] = field(default_factory=dict)
    verified: int = 0
    promises_made: int = 0
    payments: int = 0
    collected_minor: int = 0  # that day, net of the day's refunds
    collected_to_date_minor: int = 0  # running
    recovery_rate_to_date: float | None = None
    refunds: int = 0
    resolved: int = 0  # accounts that became PAID or SETTLED that day
    opt_outs: int = 0
    complaints: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class FunnelStep:
    step: str
    label: str
    accounts: int  # reached this step or a later one (of the accounts messaged)
    observed: int  # accounts where this step itself was seen
    signals: int  # how many times it was seen (messages, receipts, opens and clicks, checks, actions, payments)


@dataclass(frozen=True, slots=True)
class StandingRow:
    """One variant of one template in one segment (`segment` "all" for the totals over segments)."""

    segment: str
    template: str
    variant: str
    exposures: int
    rewards: int
    rate: float | None  # rewards / exposures
    posterior_mean: float
    probability_best: float | None  # None when the template has a single variant in the segment

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class SendTimeSegment:
    """One prior segment's learned responses (local time of the debtor)."""

    segment: str  # <stage>#<tier>#<channel>
    stage: str
    tier: str
    channel: str  # "any": portal visits and payments (no channel)
    responses: int
    best_hours: tuple[int, ...]  # up to BEST_HOURS local hours of the day with the most responses, best first
    in_window: int  # responses at a local hour wholly inside the contact window
    window_share: float | None  # in_window / responses


@dataclass(frozen=True, slots=True)
class SendTimeFigures:
    """The lender's send-time priors: what the scheduler's send-time choice learned from (docs/learning.md)."""

    window_start: time
    window_end: time
    responses: int
    by_hour: tuple[int, ...]  # 24: responses per local hour of the day, over every segment and weekday
    by_channel: dict[str, tuple[int, ...]]  # channel -> 24 per local hour of the day
    by_weekday: tuple[int, ...]  # 7: Monday first
    best_hours: tuple[int, ...]  # over every segment
    in_window: int
    window_share: float | None
    segments: list[SendTimeSegment]
    cells: list[tuple[str, int, int]]  # (segment, hour of week, count), every non-zero cell, for the CSV


@dataclass(frozen=True, slots=True)
class CalibrationBin:
    bin: str  # "0.3-0.4": the predicted probability's range
    count: int
    predicted: float  # mean predicted probability in the bin
    observed: float  # share of the bin that paid within the horizon


@dataclass(frozen=True, slots=True)
class ModelFigures:
    """The propensity model in use and its held-out evaluation (as stored in its artifact)."""

    version: str
    source: str  # where the report (and the scheduler) read it from
    features: tuple[str, ...]
    coefficients: tuple[float, ...]  # per standard deviation of each feature
    training: dict[str, Any]  # the artifact's training summary (examples, positives, accounts, seed, ...)
    held_out: int | None  # held-out examples evaluated
    held_out_positives: int | None
    auc: float | None
    brier: float | None
    reliability: list[CalibrationBin]
    calibration_error: float | None  # mean |predicted - observed| over the bins, weighted by their counts


@dataclass
class LenderFigures:
    """Everything the report shows for one lender at `as_of`."""

    lender_id: str
    as_of: datetime
    overall: Kpis
    by_tier: dict[str, Kpis]
    by_stage: dict[str, Kpis]  # by entry stage
    daily: list[DayRow]
    messages_by_stage: dict[str, MessageStats]
    messages_by_channel: dict[str, MessageStats]
    messages_by_variant: dict[str, MessageStats]  # "template/variant"
    messages_by_tier: dict[str, MessageStats]
    funnel: list[FunnelStep]
    paid_without_message: int
    experiments: list[StandingRow]  # per segment, then the totals ("all")
    violations_by_rule: dict[str, int]
    sendtime: SendTimeFigures | None = None  # None: the priors were not read (not available)
    model: ModelFigures | None = None  # None: the model was not read (not available)

    @property
    def violations(self) -> int:
        return sum(self.violations_by_rule.values())


# --- over time -------------------------------------------------------------------------------------------


def _placed_at(record: AccountRecord, as_of: datetime) -> datetime:
    if record.placed_at is not None:
        return ensure_utc(record.placed_at)
    trail = sorted(record.trail, key=lambda e: e.seq)
    return ensure_utc(trail[0].at) if trail else as_of


def _applied(detail: Mapping[str, Any]) -> int:
    return sum(int(detail.get(k) or 0) for k in ("fees_minor", "interest_minor", "principal_minor"))


def daily(records: Iterable[AccountRecord], as_of: datetime) -> list[DayRow]:
    """Per UTC day (from the first placement or event to `as_of`'s day) and currency: what happened that day
    and the running totals. Events after `as_of` are left out. A refund takes the newly refunded amount off
    its day's collected amount (at most what its payment applied)."""
    as_of = ensure_utc(as_of)
    last_day = as_of.date()
    rows: dict[tuple[date, str], DayRow] = {}
    placed: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0])
    first_day = last_day

    def row(day: date, currency: str) -> DayRow:
        found = rows.get((day, currency))
        if found is None:
            found = rows[(day, currency)] = DayRow(day, currency)
        return found

    for record in records:
        account = record.account
        currency = account.balance.currency
        placed_day = min(_placed_at(record, as_of).date(), last_day)
        cell = placed[(placed_day, currency)]
        cell[0] += 1
        cell[1] += balance_before_payments(account).total.minor
        first_day = min(first_day, placed_day)
        applied_by_payment: dict[str, int] = {}
        refunded_by_payment: dict[str, int] = {}
        resolved = False
        opted_out: set[str] = set()
        for event in sorted(record.trail, key=lambda e: e.seq):
            at = ensure_utc(event.at)
            if at > as_of:
                continue
            day, detail, kind = at.date(), event.detail or {}, event.type
            first_day = min(first_day, day)
            target = row(day, currency)
            if kind is EventType.REMINDER_SENT:
                target.messages += 1
                channel = str(detail.get("channel", ""))
                target.messages_by_channel[channel] = target.messages_by_channel.get(channel, 0) + 1
            elif kind is EventType.PORTAL_VERIFIED:
                target.verified += 1
            elif kind is EventType.PORTAL_PROMISE_MADE:
                target.promises_made += 1
            elif kind is EventType.PAYMENT_APPLIED:
                target.payments += 1
                amount = _applied(detail)
                applied_by_payment[str(detail.get("payment", event.event_id))] = amount
                target.collected_minor += amount
            elif kind is EventType.PAYMENT_REFUNDED:
                target.refunds += 1
                payment = str(detail.get("payment", ""))
                total = int(detail.get("refunded_minor") or 0)
                new = max(0, total - refunded_by_payment.get(payment, 0))
                refunded_by_payment[payment] = max(total, refunded_by_payment.get(payment, 0))
                target.collected_minor -= min(new, applied_by_payment.get(payment, new))
            elif kind is EventType.CONSENT_REVOKED or kind is EventType.PORTAL_UNSUBSCRIBED:
                target.opt_outs += 1
                opted_out.add(str(detail.get("channel", "sms")))
            elif kind is EventType.CONSENT_RESTORED:
                opted_out.discard(str(detail.get("channel", "sms")))
            elif kind is EventType.PORTAL_PREFERENCES_CHANGED and detail.get("opt_out") is not None:
                chosen = {str(c) for c in detail["opt_out"]}
                target.opt_outs += len(chosen - opted_out)
                opted_out = chosen
            elif kind is EventType.EMAIL_COMPLAINED:
                target.complaints += 1
            if kind in (EventType.PAYMENT_APPLIED, EventType.PAYMENT_REFUNDED) and detail.get("status"):
                now_resolved = str(detail["status"]) in RESOLVED
                if now_resolved and not resolved:
                    target.resolved += 1
                resolved = now_resolved

    currencies = sorted({currency for _, currency in placed} | {currency for _, currency in rows})
    result: list[DayRow] = []
    running: dict[str, list[int]] = {currency: [0, 0, 0] for currency in currencies}  # accounts, placed, collected
    day = first_day
    while day <= last_day:
        for currency in currencies:
            entry = rows.get((day, currency)) or DayRow(day, currency)
            totals = running[currency]
            added = placed.get((day, currency), [0, 0])
            totals[0] += added[0]
            totals[1] += added[1]
            totals[2] += entry.collected_minor
            entry.accounts_placed, entry.placed_minor, entry.collected_to_date_minor = totals
            entry.recovery_rate_to_date = totals[2] / totals[1] if totals[1] else None
            entry.messages_by_channel = dict(sorted(entry.messages_by_channel.items()))
            result.append(entry)
        day += timedelta(days=1)
    return result


# --- slices ----------------------------------------------------------------------------------------------


def entry_stage(record: AccountRecord, as_of: datetime, bounds: tuple[StageBound, ...] = DEFAULT_STAGE_BOUNDS) -> str:
    """The stage the account was in on its placement day (in the debtor's zone)."""
    account = record.account
    placed_day = local_date(_placed_at(record, as_of), account.debtor.timezone)
    return stage_for(days_past_due(account.due_date, placed_day), bounds).value


def _tier_key(value: Any) -> str:
    return str(value) if value is not None else "none"


def by_tier(records: Sequence[AccountRecord], as_of: datetime, bounds: tuple[StageBound, ...]) -> dict[str, Kpis]:
    """The KPIs of the accounts of each tier (the account's tier now; "none" before segmentation)."""
    result = kpis.compute(records, as_of, group_by=kpis.by_tier, bounds=bounds)
    return dict(sorted(((_tier_key(k), v) for k, v in result.items()), key=lambda item: item[0]))


def by_entry_stage(
    records: Sequence[AccountRecord], as_of: datetime, bounds: tuple[StageBound, ...]
) -> dict[str, Kpis]:
    """The KPIs of the accounts placed in each stage, in the stages' own order."""
    groups: dict[str, list[AccountRecord]] = defaultdict(list)
    for record in records:
        groups[entry_stage(record, as_of, bounds)].append(record)
    result = {stage: kpis.overall(group, as_of, bounds=bounds) for stage, group in groups.items()}
    return dict(sorted(result.items(), key=lambda item: STAGE_ORDER.get(item[0], len(STAGE_ORDER))))


def messages(records: Sequence[AccountRecord], keys: Sequence[str], as_of: datetime) -> dict[str, MessageStats]:
    """`kpis.messages_by` over the trails up to `as_of`, keyed by the key's parts joined with "/"."""
    as_of = ensure_utc(as_of)
    upto = [AccountRecord(r.account, [e for e in r.trail if ensure_utc(e.at) <= as_of], r.placed_at) for r in records]
    grouped = kpis.messages_by(upto, keys=keys)
    result = {"/".join(key): stats for key, stats in grouped.items()}
    if tuple(keys) == ("stage",):
        return dict(sorted(result.items(), key=lambda item: STAGE_ORDER.get(item[0], len(STAGE_ORDER))))
    return result


# --- funnel ----------------------------------------------------------------------------------------------


def funnel(records: Iterable[AccountRecord], as_of: datetime) -> tuple[list[FunnelStep], int]:
    """The funnel from collection message to payment over the accounts messaged (see the module docstring),
    and how many accounts paid without ever being sent a collection message."""
    as_of = ensure_utc(as_of)
    names = [name for name, _ in FUNNEL_STEPS]
    reached: Counter[str] = Counter()
    observed: Counter[str] = Counter()
    signals: Counter[str] = Counter()
    paid_without_message = 0
    for record in records:
        counters = record.account.engagement
        seen: Counter[str] = Counter()
        for event in record.trail:
            if ensure_utc(event.at) > as_of:
                continue
            detail = event.detail or {}
            if event.type is EventType.REMINDER_SENT:
                if str(detail.get("template", "")) not in TRANSACTIONAL_TEMPLATES:
                    seen["messaged"] += 1
            elif event.type is EventType.PORTAL_VERIFIED:
                seen["verified"] += 1
            elif event.type in COMMITMENTS:
                seen["committed"] += 1
            elif event.type is EventType.PAYMENT_APPLIED:
                seen["paid"] += 1
        # Deliveries and opens are counters on the account (the webhooks'), not events: they cannot be dated.
        seen["delivered"] = sum(int(counters.get(key, 0)) for key in DELIVERED_KEYS)
        seen["opened"] = sum(int(counters.get(key, 0)) for key in OPENED_KEYS)
        if not seen["messaged"]:
            paid_without_message += seen["paid"] > 0
            continue
        furthest = max(position for position, name in enumerate(names) if position == 0 or seen[name] > 0)
        for position, name in enumerate(names):
            reached[name] += position <= furthest
            observed[name] += seen[name] > 0
            signals[name] += seen[name]
    steps = [FunnelStep(name, label, reached[name], observed[name], signals[name]) for name, label in FUNNEL_STEPS]
    return steps, paid_without_message


# --- experiments -----------------------------------------------------------------------------------------


def experiment_segments(records: Iterable[AccountRecord]) -> list[str]:
    """The experiment segments the trails name (each message whose variant an experiment chose records its
    segment in the event's `decision`): the segments worth reading standings for."""
    found: set[str] = set()
    for record in records:
        for event in record.trail:
            if event.type is EventType.REMINDER_SENT:
                choice = parse_choice(str((event.detail or {}).get("decision") or ""))
                if choice is not None:
                    found.add(choice.segment)
    return sorted(found)


def _rows(segment: str, standings: Mapping[str, Standing], rng: random.Random) -> list[StandingRow]:
    by_template: dict[str, dict[str, Standing]] = defaultdict(dict)
    for key, standing in standings.items():
        template, _, variant = key.partition("#")
        by_template[template][variant] = standing
    rows: list[StandingRow] = []
    for template, variants in sorted(by_template.items()):
        ordered = sorted(variants.items())
        best = _probability_best(ordered, rng) if len(ordered) > 1 else {}
        for name, standing in ordered:
            alpha, beta = standing.beta
            rows.append(
                StandingRow(
                    segment=segment,
                    template=template,
                    variant=name,
                    exposures=standing.exposures,
                    rewards=standing.rewards,
                    rate=standing.rewards / standing.exposures if standing.exposures else None,
                    posterior_mean=alpha / (alpha + beta),
                    probability_best=best.get(name),
                )
            )
    return rows


def _probability_best(ordered: list[tuple[str, Standing]], rng: random.Random) -> dict[str, float]:
    """Each variant's probability that its posterior draw is the highest: exact (`win_probabilities`), or
    from `PROBABILITY_DRAWS` Monte Carlo rounds where the exact sum would be too long."""
    exact = win_probabilities(tuple(standing.beta for _, standing in ordered))
    if exact is not None:
        return {name: probability for (name, _), probability in zip(ordered, exact, strict=True)}
    wins = Counter[str]()
    for _ in range(PROBABILITY_DRAWS):
        draws = [(rng.betavariate(*standing.beta), name) for name, standing in ordered]
        wins[max(draws)[1]] += 1
    return {name: wins[name] / PROBABILITY_DRAWS for name, _ in ordered}


def experiment_standings(standings: Mapping[str, Mapping[str, Standing]], seed: int = 0) -> list[StandingRow]:
    """Rows per segment (segment key -> {`<template>#<variant>`: Standing}), then the totals over all segments
    (segment "all"). Probabilities from a generator seeded with `seed`: the same standings give the same rows."""
    rng = random.Random(seed)
    rows: list[StandingRow] = []
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for segment, variants in sorted(standings.items()):
        rows += _rows(segment, variants, rng)
        for key, standing in variants.items():
            totals[key][0] += standing.exposures
            totals[key][1] += standing.rewards
    if standings:
        rows += _rows("all", {key: Standing(e, r) for key, (e, r) in totals.items()}, rng)
    return rows


# --- what cleardue learned ------------------------------------------------------------------------------


def _segment_parts(segment: str) -> tuple[str, str, str]:
    parts = segment.split("#")
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 else (segment, "", "")


def _hour_inside(hour: int, start: time, end: time) -> bool:
    """True if the whole local hour [hour:00, hour+1:00) lies inside the window [start, end)."""
    first = hour * 60
    return start.hour * 60 + start.minute <= first and first + 60 <= end.hour * 60 + end.minute


def _best(by_hour: Sequence[int]) -> tuple[int, ...]:
    ranked = sorted((hour for hour in range(HOURS_IN_DAY) if by_hour[hour] > 0), key=lambda h: (-by_hour[h], h))
    return tuple(ranked[:BEST_HOURS])


def send_time(
    counts: Mapping[str, Mapping[int, int]], window_start: time = time(8, 0), window_end: time = time(21, 0)
) -> SendTimeFigures:
    """The priors (`{segment: {hour_of_week: count}}`, store.learning.prior_counts) summed by local hour of the
    day, channel and weekday; per segment its responses, best hours and share inside the contact window.
    Hours outside 0..167 and non-positive counts are ignored."""
    by_hour = [0] * HOURS_IN_DAY
    by_weekday = [0] * 7
    by_channel: dict[str, list[int]] = {}
    segments: list[SendTimeSegment] = []
    cells: list[tuple[str, int, int]] = []
    for segment, hours in sorted(counts.items()):
        stage, tier, channel = _segment_parts(segment)
        own = [0] * HOURS_IN_DAY
        for how, count in sorted(hours.items()):
            if not 0 <= how < HOURS_IN_WEEK or count <= 0:
                continue
            cells.append((segment, how, count))
            own[how % HOURS_IN_DAY] += count
            by_weekday[how // HOURS_IN_DAY] += count
        total = sum(own)
        if not total:
            continue
        per_channel = by_channel.setdefault(channel or ANY_CHANNEL, [0] * HOURS_IN_DAY)
        for hour, count in enumerate(own):
            by_hour[hour] += count
            per_channel[hour] += count
        inside = sum(c for hour, c in enumerate(own) if _hour_inside(hour, window_start, window_end))
        segments.append(SendTimeSegment(segment, stage, tier, channel, total, _best(own), inside, inside / total))
    responses = sum(by_hour)
    inside = sum(c for hour, c in enumerate(by_hour) if _hour_inside(hour, window_start, window_end))
    return SendTimeFigures(
        window_start=window_start,
        window_end=window_end,
        responses=responses,
        by_hour=tuple(by_hour),
        by_channel={channel: tuple(hours) for channel, hours in sorted(by_channel.items())},
        by_weekday=tuple(by_weekday),
        best_hours=_best(by_hour),
        in_window=inside,
        window_share=inside / responses if responses else None,
        segments=segments,
        cells=cells,
    )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def model_figures(model: Model, source: str) -> ModelFigures:
    """The model's version, training summary and held-out evaluation as its artifact records them
    (core.propensity.evaluate: `auc`, `brier`, `examples`, `positives`, `reliability` bins)."""
    evaluation = model.evaluation or {}
    bins: list[CalibrationBin] = []
    for row in evaluation.get("reliability") or []:
        try:
            bins.append(
                CalibrationBin(str(row["bin"]), int(row["count"]), float(row["predicted"]), float(row["observed"]))
            )
        except (KeyError, TypeError, ValueError):
            continue  # a malformed bin is left out, not fatal
    weight = sum(b.count for b in bins)
    error = sum(b.count * abs(b.predicted - b.observed) for b in bins) / weight if weight else None
    held_out, positives = evaluation.get("examples"), evaluation.get("positives")
    return ModelFigures(
        version=model.version,
        source=source,
        features=tuple(model.features),
        coefficients=tuple(model.coefficients),
        training=dict(model.training or {}),
        held_out=int(held_out) if isinstance(held_out, int) else None,
        held_out_positives=int(positives) if isinstance(positives, int) else None,
        auc=_number(evaluation.get("auc")),
        brier=_number(evaluation.get("brier")),
        reliability=bins,
        calibration_error=error,
    )


# --- everything ------------------------------------------------------------------------------------------


def figures(
    lender_id: str,
    records: Sequence[AccountRecord],
    as_of: datetime,
    *,
    bounds: tuple[StageBound, ...] = DEFAULT_STAGE_BOUNDS,
    check_rules: audit_check.CheckRules | None = None,
    standings: Mapping[str, Mapping[str, Standing]] | None = None,
    priors: Mapping[str, Mapping[int, int]] | None = None,
    model: Model | None = None,
    model_source: str = "",
) -> LenderFigures:
    """The report's figures for one lender's accounts (`records`) at `as_of`. `check_rules`: the lender's
    compiled policy for the independent compliance check (the defaults without); `standings`: the
    experiments table's standings by segment (none: no experiments section); `priors`: the lender's send-time
    prior counts and `model`: the propensity model in use, read from `model_source` (either None: that part of
    the "what cleardue learned" section says "not available"). Accounts placed after `as_of` are
    left out; events after it too (the accounts' own state is what it is now: docs/reports.md)."""
    as_of = ensure_utc(as_of)
    records = [r for r in records if _placed_at(r, as_of) <= as_of]
    steps, paid_without_message = funnel(records, as_of)
    upto = [AccountRecord(r.account, [e for e in r.trail if ensure_utc(e.at) <= as_of], r.placed_at) for r in records]
    violations = audit_check.check_all(
        ((r.account, r.trail) for r in upto), rules_for={lender_id: check_rules} if check_rules else None
    )
    return LenderFigures(
        lender_id=lender_id,
        as_of=as_of,
        overall=kpis.overall(upto, as_of, bounds=bounds),
        by_tier=by_tier(upto, as_of, bounds),
        by_stage=by_entry_stage(upto, as_of, bounds),
        daily=daily(records, as_of),
        messages_by_stage=messages(upto, ("stage",), as_of),
        messages_by_channel=messages(upto, ("channel",), as_of),
        messages_by_variant=messages(upto, ("template", "variant"), as_of),
        messages_by_tier=messages(upto, ("tier",), as_of),
        funnel=steps,
        paid_without_message=paid_without_message,
        experiments=experiment_standings(standings or {}),
        violations_by_rule=dict(sorted(Counter(v.rule for v in violations).items())),
        sendtime=None if priors is None else send_time(priors, *_window(check_rules)),
        model=None if model is None else model_figures(model, model_source),
    )


def _window(check_rules: audit_check.CheckRules | None) -> tuple[time, time]:
    rules = check_rules or audit_check.CheckRules()
    return rules.window_start, rules.window_end
