"""The lender's outreach policy: stages, cadence, channels, tone, contact window, caps and tiers.

Validated once with pydantic when the lender uploads it (`lenders/<id>/policy.{yaml,json}`, the
`outreach` section of the profile), then compiled into `Rules`: plain frozen dataclasses and dicts the
decision engine reads in its hot loop (no pydantic per decision). Every field has a default that
ships; docs/policy.md documents the format with a complete example.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import time, timedelta
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from functions.core.account import HISTORY_COUNT, HISTORY_DAYS, Channel, Stage, StageBound, stage_for
from functions.core.experiments import CHANNEL, COMPLIANT_VARIANTS, TESTABLE_CHANNELS, TESTABLE_TONES, TONE
from functions.core.experiments import Settings as ExperimentSettings
from functions.core.jobs import Tone

_LEGAL_WINDOW = (time(8, 0), time(21, 0))  # Reg F 1006.6(b)(1)(i): a policy may be stricter, never looser


class StagePolicy(BaseModel):
    """One outreach stage: its days-past-due window, the channels it may use, its tone and cadence."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stage: Stage
    first_dpd: int = Field(ge=-30, le=3650)
    last_dpd: int | None = Field(default=None, ge=-30, le=3650)  # None: open-ended
    channels: tuple[Channel, ...] = (Channel.EMAIL, Channel.SMS)
    tone: Tone = Tone.FRIENDLY
    cadence_days: int | None = Field(default=None, ge=1, le=60)  # None: the profile's `cadence_days`

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.stage is Stage.NONE:
            raise ValueError("stage 'none' is the gap between stages, not a stage")
        if self.last_dpd is not None and self.last_dpd < self.first_dpd:
            raise ValueError(f"stage {self.stage.value}: last_dpd {self.last_dpd} is before first_dpd {self.first_dpd}")
        if not self.channels or len(set(self.channels)) != len(self.channels):
            raise ValueError(f"stage {self.stage.value}: channels must be a non-empty list without repeats")
        return self


DEFAULT_STAGES: tuple[StagePolicy, ...] = (
    StagePolicy(stage=Stage.PRE_DUE, first_dpd=-5, last_dpd=-3, channels=(Channel.EMAIL,), tone=Tone.FRIENDLY),
    StagePolicy(stage=Stage.EARLY, first_dpd=1, last_dpd=15, tone=Tone.FRIENDLY),
    StagePolicy(stage=Stage.MID, first_dpd=16, last_dpd=30, tone=Tone.NEUTRAL),
    StagePolicy(stage=Stage.LATE, first_dpd=31, last_dpd=60, tone=Tone.FIRM),
    StagePolicy(stage=Stage.ADVANCED, first_dpd=61, last_dpd=None, tone=Tone.FIRM),
)


class ContactWindow(BaseModel):
    """Local wall-clock hours inside which contact may happen, in every candidate zone of the debtor."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: time = time(8, 0)
    end: time = time(21, 0)

    @model_validator(mode="after")
    def _legal(self) -> Self:
        if self.start < _LEGAL_WINDOW[0] or self.end > _LEGAL_WINDOW[1]:
            raise ValueError("the contact window must lie within 08:00-21:00 local time (Reg F 1006.6(b)(1)(i))")
        if self.end <= self.start:
            raise ValueError("the contact window must end after it starts")
        return self


class CapsPolicy(BaseModel):
    """Most attempts in any rolling `period_days`, per channel and across channels (R1, R2)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    period_days: int = Field(default=7, ge=1, le=HISTORY_DAYS)  # an account keeps that much history
    email: int = Field(default=3, ge=0, le=7)  # stricter than 7-in-7: electronic volume (1006.14(a))
    sms: int = Field(default=3, ge=0, le=7)
    call: int = Field(default=7, ge=0, le=7)  # Reg F 1006.14(b)(2) presumption; for when a call channel exists
    all_channels: int = Field(default=5, ge=1, le=14)


class TierTreatment(BaseModel):
    """How a tier is worked: channel order, tone (None: the stage's) and cadence (None: the stage's)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel_order: tuple[Channel, ...]
    tone: Tone | None = None
    cadence_days: int | None = Field(default=None, ge=1, le=60)

    @field_validator("channel_order")
    @classmethod
    def _order(cls, order: tuple[Channel, ...]) -> tuple[Channel, ...]:
        if not order or len(set(order)) != len(order):
            raise ValueError("channel_order must be a non-empty list without repeats")
        return order


DEFAULT_TIERS: dict[int, TierTreatment] = {
    1: TierTreatment(channel_order=(Channel.SMS, Channel.EMAIL)),  # high balance / high risk: fastest channel
    2: TierTreatment(channel_order=(Channel.EMAIL, Channel.SMS), tone=Tone.FRIENDLY),  # new, good history
    3: TierTreatment(channel_order=(Channel.SMS, Channel.EMAIL)),  # chronic late payer: stage's tone
    4: TierTreatment(channel_order=(Channel.EMAIL,), tone=Tone.FRIENDLY, cadence_days=7),  # low balance / risk
}


class SegmentationPolicy(BaseModel):
    """Thresholds of the tiers (functions/core/segmentation.py), in the lender's currency's minor units."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    high_balance_minor: int = Field(default=100_000, ge=1)
    low_balance_minor: int = Field(default=5_000, ge=0)
    high_risk_dpd: int = Field(default=60, ge=1)
    new_delinquency_dpd: int = Field(default=30, ge=1)
    high_risk_score: float = Field(default=0.7, ge=0, le=1)  # a score is a risk of not paying, 0..1
    low_risk_score: float = Field(default=0.2, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.low_balance_minor >= self.high_balance_minor:
            raise ValueError("low_balance_minor must be below high_balance_minor")
        if self.low_risk_score >= self.high_risk_score:
            raise ValueError("low_risk_score must be below high_risk_score")
        return self


class ExperimentsPolicy(BaseModel):
    """Message experiments (functions/core/experiments.py, docs/experiments.md): which template variants
    are tested, pinned or retired, and the bandit's parameters. Off by default: every message says "a"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = False
    variants: dict[str, tuple[str, ...]] = Field(default_factory=dict)  # template -> tested; absent: all compliant
    pins: dict[str, str] = Field(default_factory=dict)  # template -> the variant always sent
    retired: dict[str, tuple[str, ...]] = Field(default_factory=dict)  # template -> never sent again
    # The tones a reminder's tone is learned among (absent: the stage's and tier's tone, as without experiments)
    tones: tuple[str, ...] = ()
    # The channels a reminder's first channel is learned among, for debtors whose own answers have not ordered their
    # channels (absent: the tier's order, as without experiments)
    channels: tuple[str, ...] = ()
    reward_window_days: int = Field(default=7, ge=1, le=60)
    exploration: float = Field(default=0.05, ge=0, le=0.5)
    min_exposures: int = Field(default=50, ge=0, le=100_000)
    # A segment's prior: up to this many exposures' worth of the lender's other segments (0: each segment alone)
    pool_weight: int = Field(default=500, ge=0, le=1_000_000)

    @model_validator(mode="after")
    def _compliant(self) -> Self:
        for section in ("variants", "pins", "retired"):
            for template, chosen in getattr(self, section).items():
                compliant = COMPLIANT_VARIANTS.get(template)
                if compliant is None:
                    raise ValueError(
                        f"experiments.{section}: {template!r} has no variants to test "
                        f"(only {sorted(COMPLIANT_VARIANTS)})"
                    )
                unknown = {chosen} - set(compliant) if isinstance(chosen, str) else set(chosen) - set(compliant)
                if unknown:
                    raise ValueError(
                        f"experiments.{section}.{template}: {sorted(unknown)} is not a compliant variant "
                        f"(one of {list(compliant)})"
                    )
        unknown_tones = [tone for tone in self.tones if tone not in TESTABLE_TONES]
        if unknown_tones:
            raise ValueError(f"experiments.tones: {unknown_tones} is not a tone (one of {list(TESTABLE_TONES)})")
        unknown_channels = [channel for channel in self.channels if channel not in TESTABLE_CHANNELS]
        if unknown_channels:
            raise ValueError(
                f"experiments.channels: {unknown_channels} is not a channel a reminder is sent by "
                f"(one of {list(TESTABLE_CHANNELS)})"
            )
        for template in COMPLIANT_VARIANTS:
            if not self.candidates(template):
                raise ValueError(f"experiments: every variant of {template!r} is retired or left out")
            pin = self.pins.get(template)
            if pin is not None and pin not in self.candidates(template):
                raise ValueError(f"experiments.pins.{template}: {pin!r} is retired or not tested")
        return self

    def candidates(self, template: str) -> tuple[str, ...]:
        """The variants of `template` that may be sent: compliant, tested, not retired."""
        tested = self.variants.get(template) or COMPLIANT_VARIANTS.get(template, ())
        retired = set(self.retired.get(template, ()))
        return tuple(v for v in dict.fromkeys(tested) if v not in retired)

    def compile(self) -> ExperimentSettings | None:
        """The decision engine's settings, None when experiments are off."""
        if not self.enabled:
            return None
        candidates = {t: self.candidates(t) for t in COMPLIANT_VARIANTS}
        if self.tones:
            candidates[TONE] = tuple(dict.fromkeys(self.tones))
        if self.channels:
            candidates[CHANNEL] = tuple(dict.fromkeys(self.channels))
        return ExperimentSettings(
            candidates=candidates,
            pins=dict(self.pins),
            reward_window=timedelta(days=self.reward_window_days),
            exploration=self.exploration,
            min_exposures=self.min_exposures,
            pool_weight=self.pool_weight,
        )


@dataclass(frozen=True, slots=True)
class LearningSettings:
    """What the decision engine learns from a lender's outcomes (docs/learning.md): send time from the
    debtor's and the segment's response histograms, channel order from each channel's responses, and the
    tier from the propensity score. None in `Rules` (learning off): fixed hour and channel order."""

    prior_weight: float = 4.0  # the segment's send-time prior is worth this many of the debtor's own responses
    min_prior_responses: int = 20  # a prior level with fewer responses is not used (the next, wider one is)
    propensity: bool = True  # the propensity score sets the tier (never eligibility)


class LearningPolicy(BaseModel):
    """`outreach.learning`: `false` switches every learned choice off (the baseline the simulation compares
    against); an object tunes it. Message experiments have their own switch (`outreach.experiments`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    prior_weight: float = Field(default=4.0, ge=0, le=1_000)
    min_prior_responses: int = Field(default=20, ge=1, le=1_000_000)
    propensity: bool = True

    @model_validator(mode="before")
    @classmethod
    def _switch(cls, value: object) -> object:
        return {"enabled": value} if isinstance(value, bool) else value

    def compile(self) -> LearningSettings | None:
        if not self.enabled:
            return None
        return LearningSettings(self.prior_weight, self.min_prior_responses, self.propensity)


class OutreachPolicy(BaseModel):
    """The `outreach` section of a lender's policy file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stages: tuple[StagePolicy, ...] = DEFAULT_STAGES
    window: ContactWindow = Field(default_factory=ContactWindow)
    caps: CapsPolicy = Field(default_factory=CapsPolicy)
    pause_after_conversation_days: int = Field(default=7, ge=0, le=30)  # 1006.14(b)(2)(ii); within HISTORY_DAYS
    escalate_after_attempts: int = Field(default=3, ge=1, le=HISTORY_COUNT)  # unanswered tries, then the next channel
    installment_notice_days: int = Field(default=3, ge=0, le=14)  # INSTALLMENT_DUE this many days before
    promise_notice_days: int = Field(default=1, ge=0, le=7)  # PROMISE_DUE this many days before the date
    segmentation: SegmentationPolicy = Field(default_factory=SegmentationPolicy)
    tiers: dict[int, TierTreatment] = Field(default_factory=lambda: dict(DEFAULT_TIERS))
    experiments: ExperimentsPolicy = Field(default_factory=ExperimentsPolicy)
    learning: LearningPolicy = Field(default_factory=LearningPolicy)

    @field_validator("stages")
    @classmethod
    def _stages(cls, stages: tuple[StagePolicy, ...]) -> tuple[StagePolicy, ...]:
        if not stages:
            raise ValueError("at least one stage is needed")
        ordered = sorted(stages, key=lambda s: s.first_dpd)
        if len({s.stage for s in stages}) != len(stages):
            raise ValueError("each stage may appear once")
        for before, after in zip(ordered, ordered[1:], strict=False):
            if before.last_dpd is None or before.last_dpd >= after.first_dpd:
                raise ValueError(f"stages {before.stage.value} and {after.stage.value} overlap")
        return tuple(ordered)

    @field_validator("tiers")
    @classmethod
    def _tiers(cls, tiers: dict[int, TierTreatment]) -> dict[int, TierTreatment]:
        unknown = set(tiers) - {1, 2, 3, 4}
        if unknown:
            raise ValueError(f"tiers are 1 to 4, not {sorted(unknown)}")
        return {**DEFAULT_TIERS, **tiers}  # a tier left out keeps its default treatment


@dataclass(frozen=True, slots=True)
class StageRules:
    stage: Stage
    channels: tuple[Channel, ...]
    tone: Tone
    cadence: timedelta


@dataclass(frozen=True, slots=True)
class Rules:
    """A compiled policy: what the decision engine needs, precomputed once per lender (no pydantic)."""

    bounds: tuple[StageBound, ...]
    stages: dict[Stage, StageRules]
    tiers: dict[int, TierTreatment]
    segmentation: SegmentationPolicy
    window_start: time
    window_end: time
    caps: dict[Channel, int]
    cap_all_channels: int
    cap_period: timedelta
    pause_after_conversation: timedelta
    escalate_after_attempts: int
    installment_notice: timedelta
    promise_notice: timedelta
    promise_grace: timedelta
    installment_grace: timedelta
    third_party: bool
    default_cadence: timedelta
    treatments: dict[tuple[str, int], Treatment] = field(default_factory=dict)
    experiments: ExperimentSettings | None = None  # None: experiments off, every message is variant "a"
    learning: LearningSettings | None = LearningSettings()  # None: learning off (fixed hour and channel order)
    # `stage_for(dpd, bounds)` per days past due, filled as decisions ask (a handful of values per tick).
    stages_by_dpd: dict[int, Stage] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Precompute each (stage, tier)'s treatment: the channel order (the tier's order within what the stage
        allows, then the stage's), the tone and the cadence. Keyed by the stage's text value: hashing a str is
        cheaper than an Enum member's (a Python-level __hash__), and this is read once per decision."""
        every = tuple(dict.fromkeys(c for s in self.stages.values() for c in s.channels))
        for stage in (*self.stages, Stage.NONE):
            stage_rules = self.stages.get(stage)
            allowed = stage_rules.channels if stage_rules else every
            for tier, treatment in self.tiers.items():
                tiered = tuple(c for c in treatment.channel_order if c in allowed)
                if treatment.cadence_days is not None:
                    cadence = timedelta(days=treatment.cadence_days)
                else:
                    cadence = stage_rules.cadence if stage_rules else self.default_cadence
                tone = treatment.tone or (stage_rules.tone if stage_rules else Tone.FRIENDLY)
                self.treatments[(stage.value, tier)] = Treatment(
                    tuple(dict.fromkeys((*tiered, *allowed))), tone, cadence
                )

    def stage_of(self, dpd: int) -> Stage:
        """The stage for `dpd` days past due under these bounds (`stage_for`, remembered per value)."""
        stage = self.stages_by_dpd.get(dpd)
        if stage is None:
            stage = self.stages_by_dpd[dpd] = stage_for(dpd, self.bounds)
        return stage

    def treatment(self, stage: Stage, tier: int) -> Treatment:
        return self.treatments[(stage._value_, tier)]

    def channel_order(self, stage: Stage, tier: int) -> tuple[Channel, ...]:
        return self.treatment(stage, tier).order

    def cadence(self, stage: Stage, tier: int) -> timedelta:
        return self.treatment(stage, tier).cadence

    def tone(self, stage: Stage, tier: int) -> Tone:
        return self.treatment(stage, tier).tone


@dataclass(frozen=True, slots=True)
class Treatment:
    order: tuple[Channel, ...]
    tone: Tone
    cadence: timedelta


def compile_rules(
    outreach: OutreachPolicy,
    *,
    cadence_days: int = 3,
    regime: str = "first_party",
    promise_grace_days: int = 2,
    installment_grace_days: int = 5,
) -> Rules:
    """Turn a validated policy (and the profile's fallbacks) into the engine's precomputed rules."""
    default_cadence = timedelta(days=cadence_days)
    caps = outreach.caps
    return Rules(
        bounds=tuple(StageBound(s.stage, s.first_dpd, s.last_dpd) for s in outreach.stages),
        stages={
            s.stage: StageRules(
                s.stage,
                s.channels,
                s.tone,
                timedelta(days=s.cadence_days) if s.cadence_days is not None else default_cadence,
            )
            for s in outreach.stages
        },
        tiers=dict(outreach.tiers),
        segmentation=outreach.segmentation,
        window_start=outreach.window.start,
        window_end=outreach.window.end,
        caps={Channel.EMAIL: caps.email, Channel.SMS: caps.sms},
        cap_all_channels=caps.all_channels,
        cap_period=timedelta(days=caps.period_days),
        pause_after_conversation=timedelta(days=outreach.pause_after_conversation_days),
        escalate_after_attempts=outreach.escalate_after_attempts,
        installment_notice=timedelta(days=outreach.installment_notice_days),
        promise_notice=timedelta(days=outreach.promise_notice_days),
        promise_grace=timedelta(days=promise_grace_days),
        installment_grace=timedelta(days=installment_grace_days),
        third_party=regime == "third_party",
        default_cadence=default_cadence,
        experiments=outreach.experiments.compile(),
        learning=outreach.learning.compile(),
    )


def restrict_channels(rules: Rules, available: frozenset[Channel]) -> Rules:
    """The same rules with only the channels this deployment can send on (e.g. no SMS queue configured)."""
    return replace(
        rules,
        treatments={},
        stages={
            stage: replace(s, channels=tuple(c for c in s.channels if c in available))
            for stage, s in rules.stages.items()
        },
    )
