"""The decision engine: for a due account at `now`, whether, when, how and what to send, and why.

Pure: the account (with its stored state), the lender's compiled rules, the gate's policy, `now`.
Order of business:
1. not collectible (paid, settled, recalled, flagged, nothing owed) → nothing, out of the schedule;
2. arrangements first: a pending promise (kept by a payment → KEPT; its date + grace passed → BROKEN
   and a `BROKEN_PROMISE` message; its date near → one `PROMISE_DUE`), a current plan (a failed
   installment → one `MISSED_INSTALLMENT`; the next installment near → one `INSTALLMENT_DUE`);
3. third-party regime: the validation notice is the first message (by email, whatever the stage);
4. otherwise a `REMINDER` while a stage is open, on the stage's and tier's cadence.
Each candidate channel (preference, then the tier's order within the stage's channels; with learning on,
reordered by what the debtor answers and an unanswered channel escalated: core.channels) goes through
the compliance gate; the first allowed now gets the job, else the account is held until the earliest
moment a channel allows, or leaves the schedule with the reason. The result records why (`why`, joined
into `Job.reason` and the audit).

Learning (the lender's `outreach.learning`, on by default; docs/learning.md): the propensity score sets the
tier (never eligibility: the gate decides that after), the next contact goes at the best slot of the
debtor's and their segment's response histograms (core.sendtime), and the channels are ordered by
core.channels. Off: fixed hour (the cadence's) and channel order (the debtor's stated preference, then
the policy's).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache

from functions.core import experiments, propensity, sendtime
from functions.core.account import (
    Account,
    AccountStatus,
    Channel,
    ContactKind,
    DisputeStatus,
    Installment,
    InstallmentStatus,
    PlanStatus,
    PromiseStatus,
    Stage,
    days_past_due,
    next_stage_opens,
)
from functions.core.channels import ROTATION, learned_order
from functions.core.clock import at_local_time, ensure_utc, local_date, zone
from functions.core.compliance import GatePolicy, Kind, earliest_allowed, is_time_barred, owed_minor, standing_of
from functions.core.engagement import preferred_send_time
from functions.core.jobs import Job, Template, Tone, job_id_for
from functions.core.policy import LearningSettings, Rules
from functions.core.segmentation import tier_for

DEFAULT_VARIANT = "a"
TIME_BARRED = "time_barred"  # a token of `Job.reason`: the message layer adds the time-barred disclosure (R17)
STAGE_OPENS_AT = time(9, 0)


class NoContactReason:
    NOT_COLLECTIBLE = "not_collectible"
    NO_USABLE_CHANNEL = "no_usable_channel"
    NO_STAGE_OPEN = "no_stage_open"
    HELD = "held"  # a compliance rule allows it later (outside the window, a cap): rescheduled
    TIMED = "timed"  # allowed now, but the debtor's (or segment's) hour comes later today: rescheduled to it
    BLOCKED = "blocked"  # a compliance rule allows it only once something changes
    WAITING = "waiting"  # an arrangement is running: nothing to say until its next date


@dataclass(frozen=True, slots=True)
class ContactPlan:
    """What to do with a due account now: a job (or none, with the reason), and when to look again.

    `next_contact_at` None takes the account out of the due index (nothing more to do until
    something about it changes). `updated` is the account with the state the decision changed
    (a promise kept or broken, the tier): save it with the claim. `why` is the decision's record."""

    job: Job | None
    next_contact_at: datetime | None
    reason: str | None = None
    why: tuple[str, ...] = ()
    updated: Account | None = None
    tier: int | None = None


_PLAN_SLOTS = tuple(vars(ContactPlan)[name].__set__ for name in ContactPlan.__slots__)
assert ContactPlan.__slots__ == ("job", "next_contact_at", "reason", "why", "updated", "tier")


def _plan(
    job: Job | None,
    next_contact_at: datetime | None,
    reason: str | None,
    why: tuple[str, ...],
    updated: Account | None,
    tier: int | None,
) -> ContactPlan:
    """`ContactPlan(...)` without the frozen dataclass's __init__ (an object.__setattr__ per field: the hot path).
    tests/unit/core/test_decision.py checks it equals the dataclass's."""
    plan = object.__new__(ContactPlan)
    set_job, set_next, set_reason, set_why, set_updated, set_tier = _PLAN_SLOTS
    set_job(plan, job)
    set_next(plan, next_contact_at)
    set_reason(plan, reason)
    set_why(plan, why)
    set_updated(plan, updated)
    set_tier(plan, tier)
    return plan


def _then(plan: ContactPlan, next_contact_at: datetime | None) -> ContactPlan:
    """`dataclasses.replace(plan, next_contact_at=...)`, by `_plan` (the notices' path)."""
    return _plan(plan.job, next_contact_at, plan.reason, plan.why, plan.updated, plan.tier)


_TEMPLATE_KIND = {
    Template.REMINDER: Kind.REMINDER,
    Template.BROKEN_PROMISE: Kind.REMINDER,
    Template.VALIDATION_NOTICE: Kind.VALIDATION_NOTICE,
    Template.PROMISE_DUE: Kind.PROMISE_NOTICE,
    Template.INSTALLMENT_DUE: Kind.INSTALLMENT_NOTICE,
    Template.MISSED_INSTALLMENT: Kind.INSTALLMENT_NOTICE,
    Template.SETTLEMENT_EXPIRING: Kind.REMINDER,
    Template.DISPUTE_VERIFICATION: Kind.DISPUTE_VERIFICATION,
    Template.RECEIPT: Kind.TRANSACTIONAL,
    Template.PAYMENT_FAILED: Kind.TRANSACTIONAL,
}


# Enum members are looked up through their class on every access (about 0.3 µs each on 3.11): the hot
# path uses module-level names.
_ACTIVE, _PENDING, _CURRENT = AccountStatus.ACTIVE, PromiseStatus.PENDING, PlanStatus.CURRENT
_EMAIL, _NONE, _ATTEMPT = Channel.EMAIL, Stage.NONE, ContactKind.ATTEMPT
_REMINDER, _VALIDATION_NOTICE = Template.REMINDER, Template.VALIDATION_NOTICE
_K_VALIDATION_NOTICE, _K_VERIFICATION = Kind.VALIDATION_NOTICE, Kind.DISPUTE_VERIFICATION
_VERIFYING, _VERIFICATION_TEMPLATE = DisputeStatus.VERIFYING, Template.DISPUTE_VERIFICATION
_FRIENDLY = Tone.FRIENDLY
_CHANNEL = experiments.CHANNEL
_TIMED = NoContactReason.TIMED
_draws = experiments.Draws  # the job's random draws, a function of the job id (core.experiments)
# Likewise `member.value` is a descriptor call (~0.7 µs); `member._value_` is the same string, read directly.


def kind_of(template: str) -> Kind:
    """The gate's kind of a job's template (unknown templates are treated as reminders: the strictest)."""
    try:
        return _TEMPLATE_KIND[Template(template)]
    except ValueError:
        return Kind.REMINDER


def next_stage_at(account: Account, dpd: int, rules: Rules) -> datetime | None:
    """When the next stage opens for this account (09:00 local on its first day), if one ever does."""
    opens_at_dpd = next_stage_opens(dpd, rules.bounds)
    if opens_at_dpd is None:
        return None
    return _at_local_time(account.due_date + timedelta(days=opens_at_dpd), STAGE_OPENS_AT, account.debtor.timezone)


def channel_order(
    account: Account, stage: Stage, tier: int, rules: Rules
) -> tuple[tuple[Channel, ...], tuple[str, ...]]:
    """Candidate channels, best first: the debtor's preference, then the tier's order, within what the
    stage allows; with learning on, reordered by what the debtor answers (core.channels)."""
    order = rules.channel_order(stage, tier)
    preferred = account.preferred_channel
    if preferred is not None and preferred in order and order[0] is not preferred:
        order = (preferred, *(c for c in order if c is not preferred))
    if rules.learning is None or (
        not account.engagement and len(account.recent_contacts) < rules.escalate_after_attempts
    ):
        return order, ()  # learning off, or nothing learned yet (most accounts): the policy's order
    order, notes = learned_order(account, order, rules.escalate_after_attempts)
    return order, tuple(notes)


@dataclass(frozen=True, slots=True)
class Learned:
    """What a lender's outcomes taught, loaded by the scheduler once per run (priors) or per container (the
    propensity model), for decisions of lenders whose learning is on."""

    priors: sendtime.Priors | None = None
    propensity: propensity.Model | None = None


def decide(
    account: Account,
    now: datetime,
    rules: Rules,
    policy: GatePolicy,
    score: float | None = None,
    standings: experiments.Standings | None = None,
    learned: Learned | None = None,
) -> ContactPlan:
    """The decision for an account the due index says is due at `now`. With the lender's experiments on
    and the `standings` of its segments, the job's variant is the experiment's choice (else "a"). With its
    learning on and what was `learned`, the propensity model's risk is the `score` (unless one is given)
    and the send-time priors place the next contact."""
    if rules.learning is None:
        learned = None
    if rules.experiments is None:
        standings = None
    return _decide(account, now, rules, policy, score, learned, standings)


def _experiments(
    account: Account,
    stage: Stage,
    tier: int,
    template: str,
    tone: Tone,
    job_id: str,
    settings: experiments.Settings,
    standings: experiments.Standings,
) -> tuple[str, Tone, tuple[str, ...]]:
    """The job's variant and tone chosen by the experiments of its segment (core.experiments), with their tokens for
    the reason, drawn from the job id's draws: a re-run scheduler picks the same for the same due instance. The
    variant is "a" when the template is not under test; the tone is the treatment's unless the lender tests tones
    and the template is a reminder."""
    tests_tone = template in experiments.TONED_TEMPLATES and experiments.TONE in settings.candidates
    if template not in settings.candidates and not tests_tone:
        return DEFAULT_VARIANT, tone, ()
    segment_key = experiments.segment_key(stage._value_, tier, account.debtor.language)
    segment, draws = standings(segment_key), _draws(job_id)
    variant, tokens = DEFAULT_VARIANT, []
    choice = experiments.choose(template, segment_key, segment, settings, draws)
    if choice is not None:
        variant = choice.variant
        tokens.append(choice.token)
    if tests_tone:
        toned = experiments.choose(experiments.TONE, segment_key, segment, settings, draws)
        if toned is not None:
            tone = Tone(toned.variant)
            tokens.append(toned.token)
    return variant, tone, tuple(tokens)


@dataclass(slots=True)
class _Decision:
    """One account's decision under way: what its steps share. The inputs, the stage and tier found, the record of
    why, and `updated`: the account with the state the decision changed (a promise kept or broken), None until then
    (the tier is not set on it: the plan carries it and the claim stores it if it changed)."""

    account: Account
    now: datetime
    stage: Stage
    tier: int
    rules: Rules
    policy: GatePolicy
    learned: Learned | None
    standings: experiments.Standings | None
    why: list[str]
    updated: Account | None = None


def _decide(
    account: Account,
    now: datetime,
    rules: Rules,
    policy: GatePolicy,
    score: float | None,
    learned: Learned | None,
    standings: experiments.Standings | None = None,
) -> ContactPlan:
    if now.tzinfo is not UTC:
        now = ensure_utc(now)
    owed = owed_minor(account)
    if account.status is not _ACTIVE or account.flags or owed <= 0:  # not collectible
        return _NOT_COLLECTIBLE
    tz = account.debtor.timezone
    today = _local_date(now, tz)
    dpd = (today - account.due_date).days  # days_past_due
    segmentation = rules.segmentation
    if (
        score is None
        and learned is not None
        and learned.propensity is not None
        and rules.learning.propensity  # type: ignore[union-attr]
        and owed < segmentation.high_balance_minor  # segmentation.score_matters: the tier reads the score
        and dpd <= segmentation.high_risk_dpd
    ):
        # The model says how likely a payment within 30 days is; segmentation reads a risk of not paying.
        score = 1.0 - learned.propensity.probability(propensity.features_of(account, dpd, now, owed))
    tier, tier_why = tier_for(account, dpd, segmentation, score, owed)  # segmentation.segment, without a Segment
    stage = rules.stage_of(dpd)
    why = [f"stage {stage._value_} (dpd {dpd})", f"tier {tier}: {tier_why}"]
    if is_time_barred(account, today):
        why.append(TIME_BARRED)

    dispute = account.dispute
    verifying = dispute is not None and dispute.status is _VERIFYING  # FDCPA 809(b): the verification before anything
    # What was learned places no verification (nor the next contact after it).
    decision = _Decision(account, now, stage, tier, rules, policy, None if verifying else learned, standings, why)
    if verifying:
        why.append("dispute verified: the verification goes first")
        return _send(decision, _VERIFICATION_TEMPLATE)

    promise = account.promise
    if promise is not None and promise.status is _PENDING:
        paid = sum(p.amount.minor for p in account.payments if p.at >= promise.made_at)
        if paid >= promise.amount.minor:
            decision.updated = account.with_changes(promise=replace(promise, status=PromiseStatus.KEPT))
            why.append("promise kept")
        else:
            standing = standing_of(account)
            assert standing.promise_until is not None
            resume = standing.promise_until + rules.promise_grace
            if now >= resume:
                decision.updated = account.with_changes(promise=replace(promise, status=PromiseStatus.BROKEN))
                why.append("promise broken: its date and grace passed without the payment")
                plan = _send(decision, Template.BROKEN_PROMISE)
                # Marked broken only with its message: a held notice keeps the promise pending until it goes.
                return (
                    plan
                    if plan.job is not None
                    else _plan(plan.job, plan.next_contact_at, plan.reason, plan.why, None, plan.tier)
                )
            notice_at = _at_local_time(promise.due - rules.promise_notice, rules.window_start, tz)
            if now >= notice_at and not _contacted_since(account, max(notice_at, promise.made_at)):
                why.append("promise date near")
                plan = _send(decision, Template.PROMISE_DUE)
                if plan.job is not None:
                    return _then(plan, resume)
                return plan
            following = notice_at if notice_at > now else resume
            return _wait(decision, following, "promise pending")

    if account.plan is not None and account.plan.status is _CURRENT:
        return _plan_notice(decision)

    offer_notice = _settlement_notice_at(account, rules)
    if (
        offer_notice is not None
        and offer_notice <= now < account.settlement_expires_at  # type: ignore[operator]
        and not _contacted_since(account, offer_notice)
        and stage is not _NONE
    ):
        why.append("settlement offer ends soon")
        return _send(decision, Template.SETTLEMENT_EXPIRING)

    if policy.third_party and account.validation_notice_at is None:
        why.append("third-party regime: the validation notice goes first")
        return _send(decision, _VALIDATION_NOTICE)

    if stage is _NONE:
        return ContactPlan(
            None, next_stage_at(account, dpd, rules), NoContactReason.NO_STAGE_OPEN, tuple(why), decision.updated, tier
        )
    return _send(decision, _REMINDER)


_local_date = lru_cache(maxsize=4096)(local_date)  # a tick's `now` is shared by every account: one per zone
# A local wall-clock time's instant, by day, time and zone: the stage openings, notices and settlement deadlines
# of a tick's accounts share a few hundred days and zones (pure; the instants are immutable).
_at_local_time = lru_cache(maxsize=8192)(at_local_time)
_NOT_COLLECTIBLE = ContactPlan(None, None, NoContactReason.NOT_COLLECTIBLE, ("not collectible",))  # immutable: shared


SETTLEMENT_NOTICE_DAYS = 2  # an open settlement offer gets one notice this many days before it ends


def _settlement_notice_at(account: Account, rules: Rules) -> datetime | None:
    """When an open settlement offer's "ends soon" notice is due (window start, local), if one is open."""
    expires = account.settlement_expires_at
    if expires is None or not account.settlement_minor:
        return None
    tz = account.debtor.timezone
    day = _local_date(ensure_utc(expires), tz) - timedelta(days=SETTLEMENT_NOTICE_DAYS)
    return _at_local_time(day, rules.window_start, tz)


def _wait(decision: _Decision, following: datetime | None, note: str) -> ContactPlan:
    return ContactPlan(None, following, NoContactReason.WAITING, (*decision.why, note), decision.updated, decision.tier)


def _contacted_since(account: Account, moment: datetime) -> bool:
    return any(c.at >= moment and c.kind is _ATTEMPT for c in account.recent_contacts)


def _plan_notice(decision: _Decision) -> ContactPlan:
    """A current plan: one MISSED_INSTALLMENT per failed installment (within its grace), one INSTALLMENT_DUE
    before each scheduled one; otherwise wait for the next installment's notice day."""
    account, now, rules, why = decision.account, decision.now, decision.rules, decision.why
    assert account.plan is not None
    tz = account.debtor.timezone
    for installment in account.plan.installments:
        if installment.status in (InstallmentStatus.FAILED, InstallmentStatus.MISSED):
            due_start = _at_local_time(installment.due, time(0), tz)
            grace_ends = due_start + timedelta(days=1) + rules.installment_grace
            if now < grace_ends and not _contacted_since(account, due_start):
                why.append(f"installment {installment.number} failed")
                plan = _send(decision, Template.MISSED_INSTALLMENT)
                return (
                    _then(plan, _next_notice(account.plan.installments, now, rules, tz) or grace_ends)
                    if plan.job
                    else plan
                )
    upcoming = _upcoming(account.plan.installments)
    if upcoming is not None:
        notice_at = _at_local_time(upcoming.due - rules.installment_notice, rules.window_start, tz)
        due_ends = _at_local_time(upcoming.due + timedelta(days=1), time(0), tz)
        if notice_at <= now < due_ends and not _contacted_since(account, notice_at):
            why.append(f"installment {upcoming.number} due {upcoming.due.isoformat()}")
            plan = _send(decision, Template.INSTALLMENT_DUE)
            after_due = _next_notice(account.plan.installments, due_ends, rules, tz) or due_ends
            return _then(plan, after_due) if plan.job else plan
    following = _next_notice(account.plan.installments, now, rules, tz)
    return _wait(decision, following, "payment plan current")


def _upcoming(installments: tuple[Installment, ...]) -> Installment | None:
    scheduled = [i for i in installments if i.status is InstallmentStatus.SCHEDULED]
    return min(scheduled, key=lambda i: i.due) if scheduled else None


def _next_notice(installments: tuple[Installment, ...], after: datetime, rules: Rules, tz: str) -> datetime | None:
    """The first installment notice moment after `after` (None when no installment is left)."""
    moments = [
        _at_local_time(i.due - rules.installment_notice, rules.window_start, tz)
        for i in installments
        if i.status is InstallmentStatus.SCHEDULED
    ]
    later = [m for m in moments if m > after]
    return min(later) if later else None


def _send(decision: _Decision, template: Template) -> ContactPlan:
    """The `template`'s message by the first candidate channel the gate allows now (`_job`), else the account held
    until the earliest moment a channel allows, or out of the schedule with the reason."""
    account, now, stage, tier, rules = decision.account, decision.now, decision.stage, decision.tier, decision.rules
    policy, why, learned, standings = decision.policy, decision.why, decision.learned, decision.standings
    kind = _TEMPLATE_KIND[template]
    if kind is _K_VALIDATION_NOTICE or kind is _K_VERIFICATION:  # written notices: email only
        order: tuple[Channel, ...] = (_EMAIL,)
        notes: tuple[str, ...] = ()
    else:
        order, notes = channel_order(account, stage, tier, rules)
    if notes:
        why.extend(notes)
    tested = rules.experiments
    first: experiments.Choice | None = None
    if (
        template is _REMINDER
        and standings is not None
        and tested is not None
        and (not notes or notes[-1].startswith(ROTATION))  # the debtor's own record tells no channel apart
        and len(order) > 1
        and account.preferred_channel is None
        and _CHANNEL in tested.candidates
    ):
        order, first = _first_channel(account, stage, tier, order, tested, standings, now)
    updated = account if decision.updated is None else decision.updated  # the account as the gate sees it
    standing = standing_of(updated)
    held: datetime | None = None
    reasons: list[str] = []
    permanent_only_channel = True
    for channel in order:
        allowed_at, channel_reasons = earliest_allowed(updated, standing, channel, kind, now, policy)
        if allowed_at == now:
            if template is _REMINDER and learned is not None and rules.learning is not None:
                later = _later_today(decision, channel, rules.learning, learned.priors)
                if later is not None:
                    return _plan(None, later[0], _TIMED, (*why, later[1]), decision.updated, tier)
            if first is not None and first.variant == channel._value_:
                why.append(first.token)  # sent by the experiment's channel: an exposure of its arm
            return _job(decision, template, channel)
        name = channel._value_
        reasons += [f"{name}: {r}" for r in channel_reasons]
        if allowed_at is not None:
            held = allowed_at if held is None else min(held, allowed_at)
        if any(not r.startswith("channel_permitted") for r in channel_reasons):
            permanent_only_channel = False
    changed = decision.updated
    if held is not None:
        return _plan(None, held, NoContactReason.HELD, (*why, *reasons), changed, tier)
    if permanent_only_channel:
        return ContactPlan(None, None, NoContactReason.NO_USABLE_CHANNEL, (*why, *reasons), changed, tier)
    detail = "; ".join(dict.fromkeys(r.split(": ", 1)[1] for r in reasons))
    return ContactPlan(None, None, f"{NoContactReason.BLOCKED}: {detail}", (*why, *reasons), changed, tier)


def _later_today(
    decision: _Decision, channel: Channel, settings: LearningSettings, priors: sendtime.Priors | None
) -> tuple[datetime, str] | None:
    """A reminder allowed now whose debtor is likelier to look later today: the best slot of their histogram and
    their segment's prior (`_best_send_time`) from now to the end of today's contact window, if it is not now. The
    next contact's moment is chosen when a message is sent, from what was learned then (nothing, for a lender's
    first messages); this places the message itself with what is known when it is due. Held at most to the
    window's end, and each look starts from a later slot, so a reminder is never held past today."""
    account, now, rules = decision.account, decision.now, decision.rules
    hours = _hours_left(now, account.debtor.contact_zones[0], rules.window_end)
    if hours < 1:
        return None
    slot, note = _best_send_time(account, now, decision.tier, channel, rules, settings, priors, hours)
    if slot <= now or note is None:
        return None
    return slot, note.replace("send time:", "send time: held to", 1)


@lru_cache(maxsize=4096)
def _hours_left(now: datetime, timezone: str, window_end: time) -> int:
    """Whole hours from `now` to today's window end in `timezone` (a tick's `now` is shared: cached)."""
    local = now.astimezone(zone(timezone))
    end = local.replace(hour=window_end.hour, minute=window_end.minute, second=0, microsecond=0)
    return max(0, int((end - local).total_seconds() // 3600))


def _first_channel(
    account: Account,
    stage: Stage,
    tier: int,
    order: tuple[Channel, ...],
    settings: experiments.Settings,
    standings: experiments.Standings,
    now: datetime,
) -> tuple[tuple[Channel, ...], experiments.Choice | None]:
    """The candidate channels with the channel experiment's choice first (among the channels the stage and tier
    allow), drawn from the due instance's own draws (a re-run scheduler picks the same)."""
    segment_key = experiments.segment_key(stage._value_, tier, account.debtor.language)
    job_id = _job_id(account.account_id, stage, account.next_contact_at or now)
    choice = experiments.choose(
        _CHANNEL,
        segment_key,
        standings(segment_key),
        settings,
        _draws(f"{job_id}#{_CHANNEL}"),
        among=[c._value_ for c in order],
    )
    if choice is None or choice.variant == order[0]._value_:
        return order, choice
    chosen = Channel(choice.variant)
    return (chosen, *(c for c in order if c is not chosen)), choice


def _unvalidated_job(**fields: object) -> Job:
    """`Job.model_construct` without its per-field bookkeeping (5 µs of a ~40 µs decision): every field is
    given, typed and valid. tests/unit/core/test_decision.py checks it equals the validated Job."""
    job = Job.__new__(Job)
    object.__setattr__(job, "__dict__", fields)
    object.__setattr__(job, "__pydantic_fields_set__", set(fields))
    object.__setattr__(job, "__pydantic_extra__", None)
    object.__setattr__(job, "__pydantic_private__", None)
    return job


def _job_id(account_id: str, stage: Stage, slot: datetime) -> str:
    """`jobs.job_id_for`, without its strftime (the hot path): the same id (tests/unit/core/test_decision.py)."""
    if slot.tzinfo is not UTC or slot.microsecond:
        return job_id_for(account_id, stage, slot)
    material = f"{account_id}|{stage._value_}|{slot.isoformat()[:19]}Z"
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


def _job(decision: _Decision, template: Template, channel: Channel) -> ContactPlan:
    """The plan that sends the `template`'s message by `channel` now, and when to look at the account again."""
    account, now, stage, tier, rules = decision.account, decision.now, decision.stage, decision.tier, decision.rules
    treatment = rules.treatment(stage, tier)
    tone = _FRIENDLY if template is _VALIDATION_NOTICE or template is _VERIFICATION_TEMPLATE else treatment.tone
    # The slot is the due time the account was claimed for, so any scheduler run that picks up this
    # same due instance derives the same job id.
    slot = account.next_contact_at or now
    account_id = account.account_id
    job_id = _job_id(account_id, stage, slot)
    name = template._value_
    variant: str = DEFAULT_VARIANT
    tokens: tuple[str, ...] = ()
    tested, standings = rules.experiments, decision.standings
    if standings is not None and tested is not None:  # the lender's experiments: variant and tone chosen here
        variant, tone, tokens = _experiments(account, stage, tier, name, tone, job_id, tested, standings)
    why = decision.why
    why.append(f"{name} by {channel._value_}, {tone._value_}")
    reason = "; ".join((*why, *tokens))
    job = _unvalidated_job(  # every value is already typed and valid: skip validation in the hot loop
        job_id=job_id,
        account_id=account_id,
        channel=channel,
        template=name,
        variant=variant,
        stage=stage,
        scheduled_for=now,
        tone=tone,
        tier=tier,
        reason=reason,
    )
    following = now + treatment.cadence
    learned = decision.learned
    if rules.learning is not None and (account.engagement or (learned is not None and learned.priors is not None)):
        # the best slot of the debtor's (and segment's) histogram, never earlier than the cadence
        following, note = _send_time(decision, following, channel, rules.learning)
        if note:
            why.append(note)
    if account.preferred_time:  # what the debtor asked for beats what the counters suggest
        following, note = preferred_send_time(
            following, account.preferred_time, account.debtor.timezone, rules.window_start, rules.window_end
        )
        if note:
            why.append(note)
    offer_notice = _settlement_notice_at(account, rules)
    if offer_notice is not None and now < offer_notice < following:
        following = offer_notice  # look again in time to say the settlement offer is ending
    why.extend(tokens)
    return _plan(job, following, None, tuple(why), decision.updated, tier)


def _send_time(
    decision: _Decision, earliest: datetime, channel: Channel, settings: LearningSettings
) -> tuple[datetime, str | None]:
    """The next contact's moment: the best slot of the debtor's own response histogram plus the prior of
    their segment (core.sendtime), at or after `earliest`, inside the window in every zone they may be in."""
    account, tier, rules, learned = decision.account, decision.tier, decision.rules, decision.learned
    priors = learned.priors if learned is not None else None
    if priors is not None and not account.engagement:
        # No history of their own (most debtors): the moment depends on what picks their segment's prior and on the
        # slots only, which a tick's debtors with the same due date, zones, tier and channel share (Priors.moments).
        debtor = account.debtor
        key = (
            earliest,
            account.due_date,
            debtor.timezone,
            debtor.contact_zones,
            tier,
            channel._value_,
            rules.window_start,
            rules.window_end,
            settings.prior_weight,
        )
        found = priors.moments.get(key)
        if found is None:
            found = priors.moments[key] = _best_send_time(account, earliest, tier, channel, rules, settings, priors)
        return found
    return _best_send_time(account, earliest, tier, channel, rules, settings, priors)


def _best_send_time(
    account: Account,
    earliest: datetime,
    tier: int,
    channel: Channel,
    rules: Rules,
    settings: LearningSettings,
    priors: sendtime.Priors | None,
    horizon: int = sendtime.SEND_TIME_HORIZON_HOURS,
) -> tuple[datetime, str | None]:
    own = sendtime.own_hours(account.engagement) if account.engagement else None
    prior = None
    if priors is not None:
        dpd = days_past_due(account.due_date, _local_date(earliest, account.debtor.timezone))
        prior = priors.prior(sendtime.prior_stage(dpd), tier, channel._value_)
    if own is None and prior is None:
        return earliest, None
    zones = account.debtor.contact_zones
    window_start, window_end, weight = rules.window_start, rules.window_end, settings.prior_weight
    if own is None and priors is not None:  # from the prior alone: shared by every such debtor of the segment
        key = (prior, zones, earliest, window_start, window_end, weight, horizon)
        found = priors.slots.get(key)
        if found is None:
            found = sendtime.best_slot(earliest, zones, window_start, window_end, None, prior, weight, horizon)
            priors.slots[key] = found
        return found
    return sendtime.best_slot(earliest, zones, window_start, window_end, own, prior, weight, horizon)
