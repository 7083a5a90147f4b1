"""Send-time optimisation: the hour a debtor is likeliest to look, from their own hour-of-week histogram
and, while it is thin, their segment's (docs/learning.md).

Each debtor's histogram is the `how:<0..167>` counters of `core.engagement` (opens, clicks, SMS replies,
portal visits, payments, at the debtor's local hour of week; sparse). Each lender also keeps one histogram
per prior segment `<stage>#<tier>#<channel>` (the webhooks add one to the segment's hour with every
response: `prior_increment`). The score of an hour slot is the posterior

    own[how] + own_by_hour_of_day[hour] / 7 + prior_weight * prior[how]

where `prior` is the segment's normalised histogram (it sums to 1), so `prior_weight` is what the
segment is worth in the debtor's own responses: a debtor with a handful of responses outweighs it.
The best slot from the cadence's moment (never earlier) up to `SEND_TIME_HORIZON_HOURS` later, inside
the contact window in every zone the debtor may be in, wins; otherwise the cadence's moment stands.

Pure: the priors are read by the scheduler once per lender and run, and passed in (`Priors`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from functions.core.account import DEFAULT_STAGE_BOUNDS, days_past_due, stage_for
from functions.core.clock import ensure_utc, zone
from functions.core.engagement import HOUR_KEY_PREFIX, HOURS_IN_WEEK, RESPONSES, Signal, hour_of_week

SEND_TIME_HORIZON_HOURS = 24  # a contact moves at most this much later than its cadence says
MIN_RESPONSES_TO_TIME = 3  # without a prior: the debtor's own responses before their histogram moves a time
DEFAULT_PRIOR_WEIGHT = 4.0  # the segment prior is worth this many of the debtor's own responses
MIN_PRIOR_RESPONSES = 20  # a prior level with fewer responses than this is not trusted (the next, wider one is)
ANY_CHANNEL = "any"  # portal visits and payments: responses that belong to no channel


def prior_stage(dpd: int) -> str:
    """The stage of a prior segment: the default stage for the days past due (`none` between stages).
    Default bounds whatever the lender's policy: the webhooks that count responses do not compile the
    lender's policy, and the decision derives the same key the same way."""
    return stage_for(dpd, DEFAULT_STAGE_BOUNDS)._value_


def prior_segment(stage: str, tier: int | None, channel: str | None) -> str:
    """`<stage>#<tier>#<channel>`: a response's prior segment (tier 0: not yet tiered; channel `any`)."""
    return f"{stage}#{tier or 0}#{channel or ANY_CHANNEL}"


def prior_increment(
    signal: Signal, channel: str | None, at: datetime, timezone: str, due: date, tier: int | None
) -> tuple[str, int] | None:
    """The (prior segment, hour of week) a signal adds one to, or None when it is not a response."""
    if signal not in RESPONSES:
        return None
    local_day = ensure_utc(at).astimezone(zone(timezone)).date()
    return prior_segment(prior_stage(days_past_due(due, local_day)), tier, channel), hour_of_week(at, timezone)


@dataclass(frozen=True, slots=True, eq=False)  # compared and hashed by identity: cheap as a cache key
class Prior:
    """A normalised hour-of-week distribution (sums to 1) and the responses it was built from."""

    weights: tuple[float, ...]
    responses: int
    level: str  # which segment level it came from, for the decision's record


def _normalised(counts: list[int], level: str) -> Prior:
    total = sum(counts)
    return Prior(tuple(c / total for c in counts), total, level)


@dataclass
class Priors:
    """A lender's send-time priors: per prior segment, its hour-of-week counts. Looked up with fallback
    from the narrowest level with enough responses: the stage, tier and channel (plus that segment's
    channel-less responses), then the tier over every stage and channel, then the whole lender."""

    counts: Mapping[str, Mapping[int, int]]
    minimum: int = MIN_PRIOR_RESPONSES
    _cache: dict[tuple[str, int, str], Prior | None] = field(default_factory=dict, repr=False)
    _wide: dict[str, list[int]] = field(default_factory=dict, repr=False)
    # Slots chosen from the prior alone (debtors without a histogram of their own): a tick's `now` and the
    # cadences are shared, so most decisions find theirs here. Lives as long as these priors (one run).
    slots: dict[tuple[object, ...], tuple[datetime, str | None]] = field(default_factory=dict, repr=False)
    # The moments of debtors without a histogram of their own, by what picks their prior and their slots (the
    # decision's `_send_time`: the moment, the due date, the zones, the tier, the channel and the window).
    moments: dict[tuple[object, ...], tuple[datetime, str | None]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        every = [0] * HOURS_IN_WEEK
        for key, hours in self.counts.items():
            tier = key.split("#")[1] if key.count("#") == 2 else "0"
            per_tier = self._wide.setdefault(f"tier {tier}", [0] * HOURS_IN_WEEK)
            for how, count in hours.items():
                if 0 <= how < HOURS_IN_WEEK and count > 0:
                    per_tier[how] += count
                    every[how] += count
        self._wide["lender"] = every

    def _counts(self, key: str) -> list[int]:
        found = [0] * HOURS_IN_WEEK
        for how, count in self.counts.get(key, {}).items():
            if 0 <= how < HOURS_IN_WEEK and count > 0:
                found[how] += count
        return found

    def prior(self, stage: str, tier: int | None, channel: str) -> Prior | None:
        """The prior of a message's segment (None when even the whole lender has too few responses)."""
        key = (stage, tier or 0, channel)
        if key in self._cache:
            return self._cache[key]
        own = self._counts(prior_segment(stage, tier, channel))
        channelless = self._counts(prior_segment(stage, tier, ANY_CHANNEL)) if channel != ANY_CHANNEL else []
        narrow = [a + b for a, b in zip(own, channelless, strict=True)] if channelless else own
        found: Prior | None = None
        if sum(narrow) >= self.minimum:
            found = _normalised(narrow, prior_segment(stage, tier, channel))
        else:
            for level in (f"tier {tier or 0}", "lender"):
                wide = self._wide.get(level)
                if wide is not None and sum(wide) >= self.minimum:
                    found = _normalised(wide, level)
                    break
        self._cache[key] = found
        return found


def own_histogram(counts: Mapping[str, int]) -> tuple[int, ...] | None:
    """The debtor's hour-of-week response counts from the engagement counters (None when there are none)."""
    hours = [0] * HOURS_IN_WEEK
    seen = False
    for key, raw in counts.items():
        if key.startswith(HOUR_KEY_PREFIX):
            index = key[len(HOUR_KEY_PREFIX) :]
            if index.isdigit() and int(index) < HOURS_IN_WEEK and int(raw) > 0:
                hours[int(index)] += int(raw)
                seen = True
    return tuple(hours) if seen else None


def own_hours(counts: Mapping[str, int]) -> dict[int, int] | None:
    """`own_histogram` sparse: the hours of the week with responses and their counts (None when there are none); what
    the decision passes to `best_slot` (a debtor's week is mostly empty)."""
    hours: dict[int, int] = {}
    for key, raw in counts.items():
        if key.startswith(HOUR_KEY_PREFIX):
            index = key[_PREFIX_LENGTH:]
            if index.isdigit():
                how, count = int(index), int(raw)
                if how < HOURS_IN_WEEK and count > 0:
                    hours[how] = hours.get(how, 0) + count
    return hours or None


_PREFIX_LENGTH = len(HOUR_KEY_PREFIX)


def _sparse(own: Sequence[int]) -> dict[int, int]:
    return {how: count for how, count in enumerate(own) if count}


def in_window(moment: datetime, zones: tuple[str, ...], start: time, end: time) -> bool:
    """True if `moment` is inside [start, end) local time in every zone the debtor may be in (R4)."""
    return all(start <= moment.astimezone(zone(name)).time() < end for name in zones)


def best_slot(
    earliest: datetime,
    zones: tuple[str, ...],
    window_start: time,
    window_end: time,
    own: Sequence[int] | Mapping[int, int] | None,
    prior: Prior | None,
    prior_weight: float = DEFAULT_PRIOR_WEIGHT,
    horizon_hours: int = SEND_TIME_HORIZON_HOURS,
    minimum_own: int = MIN_RESPONSES_TO_TIME,
) -> tuple[datetime, str | None]:
    """The slot (at `earliest`, or a top of the hour up to the horizon after it) with the best posterior,
    inside the window in every zone; `earliest` when nothing scores. With no usable prior, the debtor's
    own histogram (`own_histogram`'s, or `own_hours`'s sparse one) counts only once it holds `minimum_own`
    responses. Returns the moment and a note."""
    earliest = ensure_utc(earliest)
    hours: Mapping[int, int] | None = own if own is None or isinstance(own, Mapping) else _sparse(own)
    own_total = sum(hours.values()) if hours else 0
    if prior is None and own_total < minimum_own:
        return earliest, None
    if own_total == 0 and prior is None:
        return earliest, None
    # The debtor's own pattern smoothed by the hour of the day (a sparse week: one response on a Tuesday at 19:00
    # says something about 19:00 on Wednesday too: each hour of the day's responses over the week, per day), and
    # the prior scaled: a slot's score is `own[how] + by_hour_of_day[how % 24] + prior_weight * prior[how]` (the
    # terms that exist, in that order). Only the horizon's slots are scored; the first with the highest positive
    # score wins. The prior's part, its ranking and which slots fall on which hour of the day are the same for
    # every debtor of the moment, zones and prior (`_scoring`, cached: a tick shares them), so only the slots at
    # the hours the debtor answered are scored here, against the best of the others.
    slots, scores, ranked, at_hour = _scoring(
        earliest, zones, window_start, window_end, horizon_hours, prior, prior_weight
    )
    top = 0.0
    best = -1
    owned: list[int] = []
    if hours is not None:
        per_hour: dict[int, int] = {}
        for how, count in hours.items():
            per_hour[how % 24] = per_hour.get(how % 24, 0) + count
        for hour in per_hour:
            owned += at_hour.get(hour, ())
        owned.sort()
        for index in owned:
            how = slots[index][1]
            found = hours.get(how, 0) + per_hour[how % 24] / 7
            if scores is not None:
                found += scores[index]
            if found > top:
                top, best = found, index
    if scores is not None:
        for index in ranked:  # the best slot at an hour the debtor never answered: the prior's part alone scores it
            if index not in owned:
                found = scores[index]
                if found > top or (found == top and found > 0 and index < best):
                    top, best = found, index
                break
    if best < 0:
        return earliest, None
    chosen, how = slots[best]
    if chosen == earliest:
        return earliest, None
    source = "this debtor's responses" if prior is None or own_total >= prior_weight else f"prior {prior.level}"
    # The slot's local day and hour in the first zone are its hour of the week (`%a %H` of the local time, without
    # converting and formatting it).
    return chosen, f"send time: {_DAY_NAMES[how // 24]} {how % 24:02d}:00 local ({source})"


_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # `%a` (the C locale's, as Lambda runs)


@lru_cache(maxsize=4096)
def _scoring(
    earliest: datetime,
    zones: tuple[str, ...],
    window_start: time,
    window_end: time,
    horizon_hours: int,
    prior: Prior | None,
    prior_weight: float,
) -> tuple[tuple[tuple[datetime, int], ...], tuple[float, ...] | None, tuple[int, ...], dict[int, tuple[int, ...]]]:
    """What `best_slot` needs of the slots that every debtor of these shares: the slots; the prior's part of each
    one's score (`prior_weight * prior[how]`; None without a prior) and the slots best first by it (the first of
    equals first); each hour of the day's slots, in order."""
    slots = _slots(earliest, zones, window_start, window_end, horizon_hours)
    scores = None if prior is None else tuple(prior_weight * prior.weights[how] for _, how in slots)
    ranked = () if scores is None else tuple(sorted(range(len(slots)), key=lambda i: (-scores[i], i)))
    at_hour: dict[int, list[int]] = {}
    for index, (_, how) in enumerate(slots):
        at_hour.setdefault(how % 24, []).append(index)
    return slots, scores, ranked, {hour: tuple(indexes) for hour, indexes in at_hour.items()}


@lru_cache(maxsize=4096)
def _slots(
    earliest: datetime, zones: tuple[str, ...], window_start: time, window_end: time, horizon_hours: int
) -> tuple[tuple[datetime, int], ...]:
    """The slots `best_slot` scores, in order, with each one's local hour of week in the primary zone: `earliest`
    and each top of the hour up to the horizon after it, those inside the window in every zone. They depend on
    the moment, the zones and the window only, which a tick's decisions share (cached: the hot path)."""
    top_of_hour = earliest.replace(minute=0, second=0, microsecond=0)
    last = top_of_hour + timedelta(hours=horizon_hours)
    clocks = [zone(name) for name in zones]
    if all(
        earliest.astimezone(tz).utcoffset() == last.astimezone(tz).utcoffset() == top_of_hour.astimezone(tz).utcoffset()
        for tz in clocks
    ):
        return _slots_on_fixed_clocks(earliest, top_of_hour, clocks, window_start, window_end, horizon_hours)
    # a clock change inside the horizon: every slot converted and checked
    primary = clocks[0]
    found = []
    for step in range(horizon_hours + 1):
        slot = earliest if step == 0 else top_of_hour + timedelta(hours=step)
        local = slot.astimezone(primary)
        if not window_start <= local.time() < window_end:
            continue
        if len(zones) > 1 and not in_window(slot, zones, window_start, window_end):
            continue
        found.append((slot, local.weekday() * 24 + local.hour))
    return tuple(found)


def _slots_on_fixed_clocks(
    earliest: datetime,
    top_of_hour: datetime,
    clocks: list[ZoneInfo],
    window_start: time,
    window_end: time,
    horizon_hours: int,
) -> tuple[tuple[datetime, int], ...]:
    """`_slots` when every zone keeps one UTC offset over the horizon (no clock change): local wall time moves
    with UTC, so each slot's local hour is arithmetic (no conversion per slot)."""
    found = []
    if all(window_start <= earliest.astimezone(tz).time() < window_end for tz in clocks):
        start_local = earliest.astimezone(clocks[0])
        found.append((earliest, start_local.weekday() * 24 + start_local.hour))
    # The top of each UTC hour in each zone (a zone a half or a quarter hour off UTC: local minute 30 or 45).
    tops = [top_of_hour.astimezone(tz) for tz in clocks]
    primary = tops[0].weekday() * 24 + tops[0].hour
    others = [(top.hour, top.minute) for top in tops[1:]]
    minute = tops[0].minute
    for step in range(1, horizon_hours + 1):
        how = (primary + step) % HOURS_IN_WEEK
        if not window_start <= time(how % 24, minute) < window_end:
            continue
        if others and not all(window_start <= time((h + step) % 24, m) < window_end for h, m in others):
            continue
        found.append((top_of_hour + timedelta(hours=step), how))
    return tuple(found)
