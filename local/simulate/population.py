"""The synthetic debtor population: a JSON file of segments and the distributions of their hidden traits.

`load(path)` validates the file (pydantic, every error with its field); `sample(population, n, seed, start)`
draws `n` debtors deterministically (`random.Random(seed)`), each with its hidden traits and the portfolio
row the lender would upload for it (docs/portfolio-format.md). The traits never reach the platform: only
the row does, through the real ingest handler. Schema and sources: docs/simulation.md.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DEFAULT_POPULATION = Path(__file__).parent / "populations" / "default.json"
CHANNELS = ("email", "sms")
TONES = ("friendly", "neutral", "firm")
VARIANTS = ("a", "b")
# Area codes per time zone: the phone's area must point at the same zone as the address, otherwise the
# platform (rightly) treats the debtor as being in both and narrows the window (Reg F 1006.6(b)(1)(i)).
AREA_CODES = {
    "America/New_York": "212",
    "America/Chicago": "312",
    "America/Denver": "303",
    "America/Phoenix": "602",
    "America/Los_Angeles": "213",
    "Pacific/Honolulu": "808",
}
POSTAL_CODES = {
    "America/New_York": "10001",
    "America/Chicago": "60614",
    "America/Denver": "80202",
    "America/Phoenix": "85004",
    "America/Los_Angeles": "90012",
    "Pacific/Honolulu": "96813",
}
PORTFOLIO_FIELDS = (
    "external_ref first_name last_name email phone sms_consent postal_code country timezone language "
    "date_of_birth currency principal interest fees due_date"
).split()
FIRST_NAMES = "Alex Sam Jordan Taylor Morgan Casey Riley Jamie Avery Quinn Dana Robin Drew Kai Lee".split()
LAST_NAMES = "Reyes Smith Chen Patel Johnson Garcia Kim Brown Davis Lopez Nguyen Walker Young Hill".split()


class PopulationError(ValueError):
    """The population file cannot be used; the message names the field and what is wrong."""


# -- distributions ------------------------------------------------------------------------------------


class _Dist(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    min: float | None = None  # clip the draw
    max: float | None = None

    def _clip(self, value: float) -> float:
        if self.min is not None:
            value = max(self.min, value)
        if self.max is not None:
            value = min(self.max, value)
        return value


class Beta(_Dist):
    beta: tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)]]  # alpha, beta

    def draw(self, rng: random.Random) -> float:
        return self._clip(rng.betavariate(*self.beta))

    @property
    def mean(self) -> float:
        return self.beta[0] / (self.beta[0] + self.beta[1])


class Uniform(_Dist):
    uniform: tuple[float, float]  # low, high

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.uniform[1] < self.uniform[0]:
            raise ValueError("uniform: high must not be below low")
        return self

    def draw(self, rng: random.Random) -> float:
        return self._clip(rng.uniform(*self.uniform))


class LogNormal(_Dist):
    lognormal: tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(ge=0)]]  # median, sigma

    def draw(self, rng: random.Random) -> float:
        median, sigma = self.lognormal
        return self._clip(rng.lognormvariate(math.log(median), sigma))


class Normal(_Dist):
    normal: tuple[float, Annotated[float, Field(ge=0)]]  # mean, standard deviation

    def draw(self, rng: random.Random) -> float:
        return self._clip(rng.gauss(*self.normal))


class Choice(_Dist):
    choice: dict[str, Annotated[float, Field(ge=0)]]  # value (as text) -> weight

    @model_validator(mode="after")
    def _numbers(self) -> Choice:
        if not self.choice or sum(self.choice.values()) <= 0:
            raise ValueError("choice: needs at least one value with a positive weight")
        for value in self.choice:
            try:
                float(value)
            except ValueError:
                raise ValueError(f"choice: {value!r} is not a number") from None
        return self

    def draw(self, rng: random.Random) -> float:
        return self._clip(float(_choice(self.choice, rng)))


Dist = float | Beta | Uniform | LogNormal | Normal | Choice
Probability = Annotated[float, Field(ge=0, le=1)]


def draw(dist: Dist, rng: random.Random) -> float:
    return float(dist) if isinstance(dist, int | float) else dist.draw(rng)


def _choice(weights: dict[str, float], rng: random.Random) -> str:
    names = sorted(weights)
    return rng.choices(names, weights=[weights[name] for name in names])[0]


def _weights(allowed: tuple[str, ...] | None = None) -> Any:
    def check(value: dict[str, float]) -> dict[str, float]:
        if not value:
            raise ValueError("needs at least one weight")
        if any(weight < 0 for weight in value.values()) or sum(value.values()) <= 0:
            raise ValueError("weights must be non-negative and not all zero")
        if allowed is not None and (unknown := sorted(set(value) - set(allowed))):
            raise ValueError(f"unknown keys {unknown}; allowed: {list(allowed)}")
        return value

    from pydantic import AfterValidator

    return Annotated[dict[str, float], AfterValidator(check)]


# -- the schema ---------------------------------------------------------------------------------------


class Contact(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    email: Probability = 0.95  # share of the segment with an email address on file
    phone: Probability = 0.85  # with a mobile number
    sms_consent: Probability = 0.7  # of those with a number, share that gave prior express consent (TCPA)


class Traits(BaseModel):
    """The hidden traits: what the platform can only learn from behaviour (docs/simulation.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    willingness: Dist = Field(default_factory=lambda: Beta(beta=(3, 4)))
    capacity: Dist = Field(default_factory=lambda: Beta(beta=(3, 3)))
    email_attention: Dist = Field(default_factory=lambda: Beta(beta=(3, 7)))
    sms_attention: Dist = Field(default_factory=lambda: Beta(beta=(7, 3)))
    channel_preference: _weights(CHANNELS) = Field(default_factory=lambda: {"email": 0.5, "sms": 0.5})  # type: ignore[valid-type]
    off_channel_attention: Dist = 0.4  # attention multiplier on the channel not preferred
    reading_peak_hour: Dist = Field(default_factory=lambda: Uniform(uniform=(7, 22)))  # local hour
    reading_spread_hours: Dist = 2.0
    off_hours_attention: Dist = 0.25  # attention multiplier far from the peak
    preferred_tone: _weights(TONES) = Field(default_factory=lambda: {"friendly": 1, "neutral": 1, "firm": 1})  # type: ignore[valid-type]
    tone_sensitivity: Dist = Field(default_factory=lambda: Beta(beta=(2, 3)))
    preferred_variant: _weights(VARIANTS) = Field(default_factory=lambda: {"a": 1, "b": 1})  # type: ignore[valid-type]
    variant_sensitivity: Dist = 0.2
    fatigue_tolerance: Dist = Field(default_factory=lambda: Uniform(uniform=(2, 5)))  # messages per 7 days
    fatigue_sensitivity: Dist = Field(default_factory=lambda: Beta(beta=(1, 12)))  # per message over it
    complaint_share: Dist = 0.15  # of fatigue reactions on email: complaint rather than unsubscribe
    hardship: Probability = 0.15
    dispute: Probability = 0.03
    promise: Probability = 0.35
    promise_keep: Dist = Field(default_factory=lambda: Beta(beta=(5, 4)))
    plan: Probability = 0.4
    plan_keep: Dist = Field(default_factory=lambda: Beta(beta=(6, 3)))


class Segment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$")
    weight: float = Field(gt=0)
    balance: Dist = Field(default_factory=lambda: LogNormal(lognormal=(600, 0.8), min=60, max=20000))  # major units
    interest_share: Dist = 0.05  # interest as a share of the principal
    fees: Dist = 0.0  # major units
    days_past_due: Dist = Field(default_factory=lambda: Uniform(uniform=(1, 60)))  # at the start of the run
    contact: Contact = Field(default_factory=Contact)
    timezones: _weights(tuple(AREA_CODES)) = Field(default_factory=lambda: {"America/New_York": 1})  # type: ignore[valid-type]
    traits: Traits = Field(default_factory=Traits)


class Population(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(min_length=1)
    description: str = ""
    currency: Literal["USD"] = "USD"
    sources: list[str] = Field(default_factory=list)
    segments: list[Segment] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Population:
        names = [segment.name for segment in self.segments]
        if len(set(names)) != len(names):
            raise ValueError(f"segment names must be unique: {names}")
        return self


def parse(document: Any, where: str = "population") -> Population:
    try:
        return Population.model_validate(document)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            location = ".".join(str(part) for part in error["loc"] if not str(part).startswith("function-"))
            lines.append(f"  {location or '(top)'}: {error['msg']}")
        raise PopulationError(f"{where} is not a valid population:\n" + "\n".join(lines)) from None


def load(path: Path) -> Population:
    """Read and validate a population file; PopulationError says what is wrong and where."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PopulationError(f"{path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PopulationError(f"{path} is not JSON: {exc}") from None
    return parse(document, str(path))


# -- the debtors --------------------------------------------------------------------------------------


@dataclass
class Debtor:
    """One simulated person: the row the lender uploads, and the hidden traits that drive behaviour."""

    index: int
    segment: str
    row: dict[str, str]
    balance_minor: int
    timezone: str
    email: str | None
    phone: str | None
    sms_consent: bool
    date_of_birth: str
    willingness: float
    capacity: float
    attention: dict[str, float]
    channel_preference: str
    off_channel_attention: float
    reading_peak_hour: float
    reading_spread_hours: float
    off_hours_attention: float
    preferred_tone: str
    tone_sensitivity: float
    preferred_variant: str
    variant_sensitivity: float
    fatigue_tolerance: float
    fatigue_sensitivity: float
    complaint_share: float
    hardship: bool
    disputes: bool
    promises: bool
    keeps_promise: bool
    wants_plan: bool
    keeps_plan: bool
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def external_ref(self) -> str:
        return self.row["external_ref"]


def _unit(value: float) -> float:
    return min(1.0, max(0.0, value))


def sample(population: Population, count: int, seed: int, start: date) -> list[Debtor]:
    """`count` debtors drawn deterministically from `seed`: the same arguments give the same debtors."""
    rng = random.Random(seed)
    weights = [segment.weight for segment in population.segments]
    debtors = []
    for index in range(count):
        segment = rng.choices(population.segments, weights=weights)[0]
        debtors.append(_debtor(index, segment, rng, start, population.currency))
    return debtors


def _debtor(index: int, segment: Segment, rng: random.Random, start: date, currency: str) -> Debtor:
    t = segment.traits
    zone = _choice(segment.timezones, rng)
    principal = max(1.0, draw(segment.balance, rng))
    principal_minor = round(principal * 100)
    interest_minor = max(0, round(principal_minor * draw(segment.interest_share, rng)))
    fees_minor = max(0, round(draw(segment.fees, rng) * 100))
    dpd = round(draw(segment.days_past_due, rng))
    has_email = rng.random() < segment.contact.email
    has_phone = rng.random() < segment.contact.phone or not has_email  # the portfolio needs one of them
    consent = has_phone and rng.random() < segment.contact.sms_consent
    email = f"d{index:05d}@sim.example.com" if has_email else None
    phone = f"+1{AREA_CODES[zone]}{230 + index // 10000}{index % 10000:04d}" if has_phone else None
    birth = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 365 * 50))
    preference = _choice(t.channel_preference, rng)
    row = {
        "external_ref": f"SIM-{index:05d}",
        "first_name": rng.choice(FIRST_NAMES),
        "last_name": rng.choice(LAST_NAMES),
        "email": email or "",
        "phone": phone or "",
        "sms_consent": "yes" if consent else "no",
        "postal_code": POSTAL_CODES[zone],
        "country": "US",
        "timezone": zone,
        "language": "en",
        "date_of_birth": birth.isoformat(),
        "currency": currency,
        "principal": f"{principal_minor / 100:.2f}",
        "interest": f"{interest_minor / 100:.2f}",
        "fees": f"{fees_minor / 100:.2f}",
        "due_date": (start - timedelta(days=dpd)).isoformat(),
    }
    return Debtor(
        index=index,
        segment=segment.name,
        row=row,
        balance_minor=principal_minor + interest_minor + fees_minor,
        timezone=zone,
        email=email,
        phone=phone,
        sms_consent=consent,
        date_of_birth=birth.isoformat(),
        willingness=_unit(draw(t.willingness, rng)),
        capacity=_unit(draw(t.capacity, rng)),
        attention={"email": _unit(draw(t.email_attention, rng)), "sms": _unit(draw(t.sms_attention, rng))},
        channel_preference=preference,
        off_channel_attention=_unit(draw(t.off_channel_attention, rng)),
        reading_peak_hour=draw(t.reading_peak_hour, rng) % 24,
        reading_spread_hours=max(0.25, draw(t.reading_spread_hours, rng)),
        off_hours_attention=_unit(draw(t.off_hours_attention, rng)),
        preferred_tone=_choice(t.preferred_tone, rng),
        tone_sensitivity=_unit(draw(t.tone_sensitivity, rng)),
        preferred_variant=_choice(t.preferred_variant, rng),
        variant_sensitivity=_unit(draw(t.variant_sensitivity, rng)),
        fatigue_tolerance=max(0.0, draw(t.fatigue_tolerance, rng)),
        fatigue_sensitivity=_unit(draw(t.fatigue_sensitivity, rng)),
        complaint_share=_unit(draw(t.complaint_share, rng)),
        hardship=rng.random() < t.hardship,
        disputes=rng.random() < t.dispute,
        promises=rng.random() < t.promise,
        keeps_promise=rng.random() < _unit(draw(t.promise_keep, rng)),
        wants_plan=rng.random() < t.plan,
        keeps_plan=rng.random() < _unit(draw(t.plan_keep, rng)),
    )


def portfolio_csv(debtors: list[Debtor]) -> str:
    """The portfolio file the lender uploads (docs/portfolio-format.md): one row per debtor."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=PORTFOLIO_FIELDS, lineterminator="\n")
    writer.writeheader()
    for debtor in debtors:
        writer.writerow(debtor.row)
    return out.getvalue()
