"""The compliance gate: every rule a named function that allows, or denies with a reason and the
earliest moment it would allow (None: not until something about the account changes).

The engine asks `gate(...)` before any contact and reschedules to `earliest` instead of dropping.
Rules and sources: ../shared/COMPLIANCE.md (Reg F 12 CFR 1006, TCPA). Numbers that come from
secondary sources are in `GatePolicy`, configurable per lender.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from functions.core.account import (
    Account,
    AccountStatus,
    Block,
    Channel,
    Contact,
    ContactKind,
    DisputeStatus,
    Flag,
    PlanStatus,
    PromiseStatus,
)
from functions.core.clock import at_local_time, ensure_utc
from functions.core.clock import zone as _zone_checked
from functions.core.policy import Rules

__all__ = [
    "Contact",
    "ContactKind",
    "GatePolicy",
    "Kind",
    "Standing",
    "Verdict",
    "earliest_allowed",
    "gate",
    "gate_policy",
    "is_time_barred",
    "standing_of",
]

zone: Callable[[str], ZoneInfo] = lru_cache(maxsize=1024)(_zone_checked)  # a hot path: one lookup per name

_SEARCH_DAYS = 8  # a convenient moment, if any exists, recurs within a week of local days


@dataclass(frozen=True, slots=True)
class GatePolicy:
    window_start: time = time(8, 0)  # Reg F 1006.6(b)(1)(i): not before 8 a.m.
    window_end: time = time(21, 0)  # ... nor after 9 p.m., local time
    caps_per_channel: dict[Channel, int] = field(
        default_factory=lambda: {Channel.EMAIL: 3, Channel.SMS: 3}  # stricter than 7-in-7 (R2, verify)
    )
    cap_all_channels: int = 5
    cap_period: timedelta = timedelta(days=7)
    pause_after_conversation: timedelta = timedelta(days=7)  # 1006.14(b)(2)(ii), applied to every channel
    promise_grace: timedelta = timedelta(days=2)
    third_party: bool = False  # the lender's regime: a third-party collector sends the validation notice first


def gate_policy(rules: Rules) -> GatePolicy:
    """The gate's numbers from a lender's compiled policy."""
    return GatePolicy(
        window_start=rules.window_start,
        window_end=rules.window_end,
        caps_per_channel=dict(rules.caps),
        cap_all_channels=rules.cap_all_channels,
        cap_period=rules.cap_period,
        pause_after_conversation=rules.pause_after_conversation,
        promise_grace=rules.promise_grace,
        third_party=rules.third_party,
    )


@dataclass(frozen=True, slots=True)
class Standing:
    """What the gate knows about the debtor beyond the account: consent, opt-outs, history, arrangements."""

    history: tuple[Contact, ...] = ()
    opted_out: frozenset[Channel] = frozenset()
    attorney_represented: bool = False
    email_bounced: bool = False
    email_employer_provided: bool = False  # R7
    promise_until: datetime | None = None  # the end of the promised day; reminders wait until then + grace
    plan_current: bool = False
    blocked: tuple[tuple[Channel, Block], ...] = ()  # every blocked channel and why (from `blocked_channels`)
    dispute_open: bool = False  # opened, or verified by an operator with the verification not yet sent
    dispute_verifying: bool = False  # the verification is the one message that may go (it ends the pause)
    validation_sent: bool = False


_OPT_OUTS = (Block.OPTED_OUT, Block.COMPLAINED)
_DISPUTE_PAUSED = (DisputeStatus.OPEN, DisputeStatus.VERIFYING)


def standing_of(account: Account) -> Standing:
    """What the account's stored state says: history, opt-outs and blocks per channel, the attorney flag,
    a pending promise, a current plan, an open dispute, whether the validation notice went out."""
    blocked = account.blocked_channels
    promise = account.promise
    if not (blocked or promise or account.plan or account.dispute or account.validation_notice_at or account.flags):
        return _history_only(account.recent_contacts)  # nothing stored beyond the history (most accounts)
    promise_until = None
    if promise is not None and promise.status is PromiseStatus.PENDING:
        promise_until = at_local_time(promise.due + timedelta(days=1), time(0), account.debtor.timezone)
    email_block = blocked.get(Channel.EMAIL)
    return Standing(
        history=account.recent_contacts,
        opted_out=frozenset(channel for channel, block in blocked.items() if block in _OPT_OUTS),
        attorney_represented=Flag.ATTORNEY in account.flags,
        email_bounced=email_block in (Block.BOUNCED, Block.INVALID),
        email_employer_provided=email_block is Block.EMPLOYER,
        promise_until=promise_until,
        plan_current=account.plan is not None and account.plan.status is PlanStatus.CURRENT,
        blocked=tuple(blocked.items()),
        dispute_open=account.dispute is not None and account.dispute.status in _DISPUTE_PAUSED,
        dispute_verifying=account.dispute is not None and account.dispute.status is DisputeStatus.VERIFYING,
        validation_sent=account.validation_notice_at is not None,
    )


_NOTHING_STORED = Standing()
# Each field's slot setter and its default, in the class's order, "history" first (what `_history_only` sets).
_SLOTS = tuple((vars(Standing)[name].__set__, getattr(_NOTHING_STORED, name)) for name in Standing.__slots__)
assert Standing.__slots__[0] == "history"


def _history_only(history: tuple[Contact, ...]) -> Standing:
    """`Standing(history=history)`, made without the frozen dataclass's __init__ (an object.__setattr__ per field,
    eleven of them: the hot path); tests/unit/core/test_compliance.py checks it equals the dataclass's."""
    if not history:
        return _NOTHING_STORED  # immutable: one for every account without a history
    standing = object.__new__(Standing)
    slots = iter(_SLOTS)
    next(slots)[0](standing, history)
    for setter, default in slots:
        setter(standing, default)
    return standing


def owed_minor(account: Account) -> int:
    """The balance in minor units (the components share the account's currency; `Balance.total` checks that
    once at placement, and this is the hot path)."""
    balance = account.balance
    return balance.principal.minor + balance.interest.minor + balance.fees.minor


def is_time_barred(account: Account, today: date) -> bool:
    """R17: past the statute of limitations; messages carry the time-barred disclosure and never threaten suit."""
    limit = account.placement.statute_of_limitations
    return limit is not None and limit < today


class Kind(StrEnum):
    REMINDER = "reminder"  # any collection message outside an arrangement (reminder, broken promise)
    INSTALLMENT_NOTICE = "installment_notice"  # a current plan's notices: installment due, missed installment
    PROMISE_NOTICE = "promise_notice"  # the promised date is near
    VALIDATION_NOTICE = "validation_notice"  # third-party regime: the first message (R10)
    TRANSACTIONAL = "transactional"  # receipts, payment failures: not collection outreach
    DISPUTE_VERIFICATION = "dispute_verification"  # the verification of a disputed debt (R13): ends the pause


# Enum members are looked up through their class on every access (about 0.3 µs each on 3.11); the rules
# below run for every decision, so they use these module-level names.
_TRANSACTIONAL, _REMINDER, _INSTALLMENT_NOTICE, _PROMISE_NOTICE, _VALIDATION_NOTICE, _VERIFICATION = (
    Kind.TRANSACTIONAL,
    Kind.REMINDER,
    Kind.INSTALLMENT_NOTICE,
    Kind.PROMISE_NOTICE,
    Kind.VALIDATION_NOTICE,
    Kind.DISPUTE_VERIFICATION,
)
_EMAIL, _SMS = Channel.EMAIL, Channel.SMS
_ACTIVE = AccountStatus.ACTIVE
_ATTEMPT, _CONVERSATION = ContactKind.ATTEMPT, ContactKind.CONVERSATION
_ATTORNEY, _DISPUTE = Flag.ATTORNEY, Flag.DISPUTE


@dataclass(frozen=True, slots=True)
class Verdict:
    rule: str
    allowed: bool
    reason: str = ""
    earliest: datetime | None = None  # when denied: the first moment this rule would allow, if known

    @classmethod
    def allow(cls, rule: str) -> Verdict:
        return _ALLOWED[rule] if rule in _ALLOWED else _ALLOWED.setdefault(rule, cls(rule, True))


_ALLOWED: dict[str, Verdict] = {}  # verdicts are immutable: one "allowed" per rule is enough


Rule = Callable[[Account, Standing, Channel, Kind, datetime, GatePolicy], Verdict]


def _local_minutes(moment: datetime, tz_name: str) -> int:
    local = moment.astimezone(zone(tz_name))
    return local.hour * 60 + local.minute


def _convenient_everywhere(moment: datetime, zones: tuple[str, ...], policy: GatePolicy) -> bool:
    start = policy.window_start.hour * 60 + policy.window_start.minute
    end = policy.window_end.hour * 60 + policy.window_end.minute
    return all(start <= _local_minutes(moment, z) < end for z in zones)


def next_convenient(now: datetime, zones: tuple[str, ...], policy: GatePolicy) -> datetime | None:
    """The first moment at or after `now` that is inside the window in every zone (DST-safe), or None.

    Candidates are `now` and each window opening (local start time) in each zone over the next days:
    the earliest moment convenient everywhere is always one of them. Cached: a scheduler tick asks
    the same question (its `now`, a handful of zone sets) for every account."""
    return _next_convenient(_utc(now), zones, policy.window_start, policy.window_end)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is UTC else ensure_utc(moment)


@lru_cache(maxsize=16384)
def _next_convenient(now: datetime, zones: tuple[str, ...], window_start: time, window_end: time) -> datetime | None:
    policy = GatePolicy(window_start=window_start, window_end=window_end)
    if _convenient_everywhere(now, zones, policy):
        return now
    candidates = []
    for tz_name in zones:
        tz = zone(tz_name)
        local_day = now.astimezone(tz).date()
        for offset in range(_SEARCH_DAYS):
            opening = datetime.combine(local_day + timedelta(days=offset), policy.window_start, tzinfo=tz)
            opening_utc = opening.astimezone(now.tzinfo)
            if opening_utc > now:
                candidates.append(opening_utc)
    for candidate in sorted(candidates):
        if _convenient_everywhere(candidate, zones, policy):
            return candidate
    return None


def inconvenient_time(
    account: Account, standing: Standing, channel: Channel, kind: Kind, now: datetime, policy: GatePolicy
) -> Verdict:
    """R4, Reg F 1006.6(b)(1)(i): 08:00-21:00 at the consumer's location; every candidate zone must agree."""
    zones = account.debtor.contact_zones
    earliest = next_convenient(now, zones, policy)
    if earliest == _utc(now):
        return Verdict.allow("inconvenient_time")
    if earliest is None:
        return Verdict("inconvenient_time", False, f"no moment is convenient in all of {', '.join(zones)}")
    return Verdict("inconvenient_time", False, "outside 08:00-21:00 in the debtor's time zone(s)", earliest)


_SUPPRESSING_FLAGS = (Flag.CEASE_COMMUNICATION, Flag.BANKRUPTCY, Flag.DECEASED, Flag.FRAUD, Flag.RECALLED, _DISPUTE)


def suppressed(
    account: Account, standing: Standing, channel: Channel, kind: Kind, now: datetime, policy: GatePolicy
) -> Verdict:
    """R8, R9, R19, R21 and the lender's recall: no outreach at all; a dispute pauses until verified (R13)."""
    if kind is _TRANSACTIONAL:
        return Verdict.allow("suppressed")  # a receipt or a failed payment's next step is not collection
    if account.status is not _ACTIVE:
        return Verdict("suppressed", False, f"account {account.status.value}")
    if standing.attorney_represented:
        return Verdict("suppressed", False, "represented by an attorney")  # 1006.6(b)(2)
    if account.flags:  # most accounts have none: skip the per-flag checks
        if _ATTORNEY in account.flags:
            return Verdict("suppressed", False, "represented by an attorney")
        for flag in _SUPPRESSING_FLAGS:
            if flag in account.flags:
                reason = "disputed: paused until verification is sent" if flag is _DISPUTE else flag.value
                return Verdict("suppressed", False, reason)
    if kind is _VERIFICATION:
        if not standing.dispute_verifying:
            return Verdict("suppressed", False, "no verified dispute awaits its verification")
    elif standing.dispute_open:
        return Verdict("suppressed", False, "disputed: paused until verification is sent")  # FDCPA 809(b)
    if owed_minor(account) <= 0:
        return Verdict("suppressed", False, "nothing owed")
    return Verdict.allow("suppressed")


def channel_permitted(
    account: Account, standing: Standing, channel: Channel, kind: Kind, now: datetime, policy: GatePolicy
) -> Verdict:
    """R6/T2 opt-outs per channel; T1 SMS only with consent to a mobile; R7 no bounced or work email."""
    if standing.opted_out and channel in standing.opted_out:
        return Verdict("channel_permitted", False, f"opted out of {channel.value}")
    for blocked_channel, block in standing.blocked:
        if blocked_channel is channel and channel is not _EMAIL:  # email's blocks have their own reasons
            return Verdict("channel_permitted", False, f"{channel.value} blocked: {block.value}")
    debtor = account.debtor
    if channel is _SMS:
        if not debtor.phone or not debtor.phone_is_mobile:
            return Verdict("channel_permitted", False, "no mobile number")
        if not debtor.sms_consent:
            return Verdict("channel_permitted", False, "no prior express consent to texts")  # 47 USC 227(b)
    if channel is _EMAIL:
        if not debtor.email:
            return Verdict("channel_permitted", False, "no email address")
        if standing.email_bounced:
            return Verdict("channel_permitted", False, "email address bounces")
        if standing.email_employer_provided:
            return Verdict("channel_permitted", False, "employer-provided email address")  # 1006.22(f)(3)
    return Verdict.allow("channel_permitted")


def _cap(rule: str, contacts: list[Contact], cap: int, now: datetime, period: timedelta) -> Verdict:
    recent = sorted(c.at for c in contacts if now - period < c.at <= now)
    if len(recent) < cap:
        return Verdict.allow(rule)
    # The window frees a slot when the oldest counted contact is a full period old.
    return Verdict(rule, False, f"{len(recent)} contacts in the last {period.days} days", recent[-cap] + period)


def frequency_cap(
    account: Account, standing: Standing, channel: Channel, kind: Kind, now: datetime, policy: GatePolicy
) -> Verdict:
    """R1/R2: at most N attempts per channel and M across channels in any rolling period."""
    if kind is _TRANSACTIONAL or not standing.history:
        return Verdict.allow("frequency_cap")
    now = _utc(now)
    since = now - policy.cap_period
    attempts = [c for c in standing.history if since < c.at <= now and c.kind is _ATTEMPT]
    cap = policy.caps_per_channel.get(channel)
    if len(attempts) < policy.cap_all_channels and (cap is None or len(attempts) < cap):
        return Verdict.allow("frequency_cap")  # fewer attempts in the period than either cap
    if cap is not None:
        verdict = _cap("frequency_cap", [c for c in attempts if c.channel is channel], cap, now, policy.cap_period)
        if not verdict.allowed:
            return verdict
    return _cap("frequency_cap", attempts, policy.cap_all_channels, now, policy.cap_period)


def conversation_pause(
    account: Account, standing: Standing, channel: Channel, kind: Kind, now: datetime, policy: GatePolicy
) -> Verdict:
    """R1, 1006.14(b)(2)(ii): after a conversation, a pause before the next attempt."""
    if kind is _TRANSACTIONAL or not standing.history:
        return Verdict.allow("conversation_pause")
    now = _utc(now)
    last = None
    for contact in standing.history:
        if contact.kind is _CONVERSATION and contact.at <= now and (last is None or contact.at > last):
            last = contact.at
    if last is not None and now < last + policy.pause_after_conversation:
        return Verdict("conversation_pause", False, "recent conversation", last + policy.pause_after_conversation)
    return Verdict.allow("conversation_pause")


def arrangement(
    account: Account, standing: Standing, channel: Channel, kind: Kind, now: datetime, policy: GatePolicy
) -> Verdict:
    """A pending promise to pay holds reminders until its date plus grace; a current plan gets only its notices
    (a dispute's verification is owed whatever was arranged)."""
    if kind is _TRANSACTIONAL or kind is _VERIFICATION:
        return Verdict.allow("arrangement")
    if standing.promise_until is not None and kind is not _PROMISE_NOTICE:
        resume = _utc(standing.promise_until) + policy.promise_grace
        if _utc(now) < resume:
            return Verdict("arrangement", False, "promise to pay pending", resume)
    if kind is _PROMISE_NOTICE and standing.promise_until is None:
        return Verdict("arrangement", False, "no promise pending")
    if standing.plan_current and kind is not _INSTALLMENT_NOTICE:
        return Verdict("arrangement", False, "payment plan current: installment notices only")
    if kind is _INSTALLMENT_NOTICE and not standing.plan_current:
        return Verdict("arrangement", False, "no current payment plan")
    return Verdict.allow("arrangement")


def validation_notice_first(
    account: Account, standing: Standing, channel: Channel, kind: Kind, now: datetime, policy: GatePolicy
) -> Verdict:
    """R10, Reg F 1006.34(a): a third-party collector's first message is the validation notice, sent once,
    by email (the notice needs the model form's layout; a text cannot carry it)."""
    if not policy.third_party or kind is _TRANSACTIONAL or kind is _VERIFICATION:
        return Verdict.allow("validation_notice_first")
    if kind is _VALIDATION_NOTICE:
        if standing.validation_sent or account.validation_notice_at is not None:
            return Verdict("validation_notice_first", False, "validation notice already sent")
        if channel is not _EMAIL:
            return Verdict("validation_notice_first", False, "the validation notice goes by email")
        return Verdict.allow("validation_notice_first")
    if not (standing.validation_sent or account.validation_notice_at is not None):
        return Verdict("validation_notice_first", False, "the validation notice must be the first message")
    return Verdict.allow("validation_notice_first")


RULES: tuple[Rule, ...] = (
    suppressed,
    channel_permitted,
    validation_notice_first,
    arrangement,
    conversation_pause,
    frequency_cap,
    inconvenient_time,
)
_WINDOW_RULES: tuple[Rule, ...] = (
    inconvenient_time,
)  # what `earliest_allowed` asks when `_now` says only the window holds


def gate(
    account: Account,
    standing: Standing,
    channel: Channel,
    kind: Kind,
    now: datetime,
    policy: GatePolicy | None = None,
) -> list[Verdict]:
    """Every rule's verdict (in order). The contact may go only if all allow; otherwise the latest
    `earliest` among the denials is when to look again (None if one of them waits for a change)."""
    policy = policy or DEFAULT_POLICY
    return [rule(account, standing, channel, kind, now, policy) for rule in RULES]


_MAX_STEPS = 16
DEFAULT_POLICY = GatePolicy()


def _allowed_now(
    account: Account, standing: Standing, channel: Channel, kind: Kind, now: datetime, policy: GatePolicy
) -> bool:
    """True only if every rule in RULES allows at `now`, in one pass without a Verdict: the hot path.

    False means "ask the rules" (they say which one denies, why and until when): anything unusual (a flag,
    a block, an arrangement, the third-party regime, a notice) goes there. A property test in
    tests/unit/core/test_compliance.py checks this never allows what a rule denies."""
    return _now(account, standing, channel, kind, now, policy) is _ALLOWED_NOW


_ASK_THE_RULES, _ALLOWED_NOW, _WINDOW_ONLY = "ask the rules", "allowed now", "window only"


def _now(account: Account, standing: Standing, channel: Channel, kind: Kind, now: datetime, policy: GatePolicy) -> str:
    """`_allowed_now` in three: `_ALLOWED_NOW`; `_WINDOW_ONLY` when every check passes but the window's, so every rule
    but `inconvenient_time` allows (the checks are the other rules', for the usual account: a property test in
    tests/unit/core/test_compliance.py checks it); otherwise `_ASK_THE_RULES`."""
    transactional = kind is _TRANSACTIONAL
    if not transactional:
        if account.status is not _ACTIVE or account.flags or standing.attorney_represented or standing.dispute_open:
            return _ASK_THE_RULES
        if policy.third_party or kind is not _REMINDER or standing.promise_until is not None or standing.plan_current:
            return _ASK_THE_RULES
        if owed_minor(account) <= 0:
            return _ASK_THE_RULES
    if standing.opted_out or standing.blocked:
        return _ASK_THE_RULES
    debtor = account.debtor
    if channel is _SMS:
        if not (debtor.phone and debtor.phone_is_mobile and debtor.sms_consent):
            return _ASK_THE_RULES
    elif channel is _EMAIL:
        if not debtor.email or standing.email_bounced or standing.email_employer_provided:
            return _ASK_THE_RULES
    else:
        return _ASK_THE_RULES
    if standing.history and not transactional:
        since = now - policy.cap_period
        pause = policy.pause_after_conversation
        in_period = on_channel = 0
        for contact in standing.history:
            at = contact.at
            if contact.kind is _CONVERSATION:
                if at <= now < at + pause:
                    return _ASK_THE_RULES
            elif contact.kind is _ATTEMPT:
                if since < at <= now:
                    in_period += 1
                    on_channel += contact.channel is channel
            else:
                return _ASK_THE_RULES
        cap = policy.caps_per_channel.get(channel)
        if in_period >= policy.cap_all_channels or (cap is not None and on_channel >= cap):
            return _ASK_THE_RULES
    return _ALLOWED_NOW if next_convenient(now, debtor.contact_zones, policy) == now else _WINDOW_ONLY


def earliest_allowed(
    account: Account,
    standing: Standing,
    channel: Channel,
    kind: Kind,
    now: datetime,
    policy: GatePolicy | None = None,
) -> tuple[datetime | None, list[str]]:
    """The first moment at or after `now` when every rule allows this contact, and why not before.

    None means a rule waits for something to change (an opt-out, a dispute, consent), not for time:
    the account leaves the schedule until that happens. Each step jumps to the latest `earliest` of
    the denials and asks every rule again, so a cap that lifts at night waits for the morning."""
    moment = _utc(now)
    policy = policy or DEFAULT_POLICY
    state = _now(account, standing, channel, kind, moment, policy)
    if state is _ALLOWED_NOW:
        return moment, []
    reasons: list[str] = []
    for step in range(_MAX_STEPS):
        if step:
            state = _now(account, standing, channel, kind, moment, policy)
            if state is _ALLOWED_NOW:
                return moment, reasons  # what the rules below would find, without a Verdict each
        denials = []
        # Only the window holds it (most holds): the other rules allow, so only the window's is asked.
        for rule in _WINDOW_RULES if state is _WINDOW_ONLY else RULES:
            verdict = rule(account, standing, channel, kind, moment, policy)
            if verdict.allowed:
                continue
            if verdict.earliest is None:  # waits for a change, not for time: the rest cannot help
                reason = f"{verdict.rule}: {verdict.reason}"
                return None, reasons if reason in reasons else [*reasons, reason]
            denials.append(verdict)
        if not denials:
            return moment, reasons
        reasons += [f"{v.rule}: {v.reason}" for v in denials if f"{v.rule}: {v.reason}" not in reasons]
        moment = max(v.earliest for v in denials if v.earliest is not None)
    return None, [*reasons, "no convenient moment found"]
