"""The decisions of a seeded sample of accounts, with learning and message experiments on, against a committed
snapshot (tests/unit/core/decision_golden.txt: one short digest per decision).

The decision path is tuned for speed (bench/decide.py: precomputed tables, caches shared by a tick's
accounts); this pins what it decides, so a speed-up that changes a decision fails here. The sample covers
what the path branches on: zones (half-hour offsets, several zones, clock changes within the send-time
horizon), histories with conversations, opt-outs and blocks, promises, plans, payments, disputes, settlement
offers, preferred times and channels, engagement counters, priors thin and thick, standings warm and cold,
pins, third-party and first-party regimes, learning on and off. Each scenario is decided twice, in order and
in reverse with fresh learned state, so a cache whose key misses an input shows up too.

A deliberate change of what is decided regenerates the snapshot: `CLEARDUE_REGENERATE_GOLDEN=1 pytest
tests/unit/core/test_decision_golden.py` (and say in the commit why the decisions changed).
"""

from __future__ import annotations

import hashlib
import os
import random
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from functions.core import propensity
from functions.core.account import (
    Account,
    AccountStatus,
    Balance,
    Block,
    Channel,
    Contact,
    ContactKind,
    Debtor,
    Dispute,
    DisputeStatus,
    Flag,
    Installment,
    InstallmentStatus,
    Payment,
    Placement,
    Plan,
    PlanStatus,
    Promise,
    PromiseStatus,
)
from functions.core.compliance import gate_policy
from functions.core.decision import ContactPlan, Learned, decide
from functions.core.experiments import Standing
from functions.core.lender import LenderProfile
from functions.core.money import Money
from functions.core.policy import ContactWindow, ExperimentsPolicy, LearningPolicy, Rules
from functions.core.sendtime import Priors, prior_segment

SNAPSHOT = Path(__file__).with_name("decision_golden.txt")
ACCOUNTS = 200  # per moment and scenario

ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "Pacific/Honolulu",
    "America/Puerto_Rico",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Adelaide",
)
# 16:00 UTC on a weekday; US clocks spring forward within the horizon; EU clocks spring forward; an odd
# moment (seconds and microseconds); US clocks fall back within the horizon.
MOMENTS = (
    datetime(2026, 3, 10, 16, 0, tzinfo=UTC),
    datetime(2026, 3, 7, 22, 30, tzinfo=UTC),
    datetime(2026, 3, 28, 12, 0, tzinfo=UTC),
    datetime(2026, 7, 1, 3, 17, 29, 250, tzinfo=UTC),
    datetime(2026, 10, 31, 23, 45, tzinfo=UTC),
)


def _profile(**outreach: object) -> Rules:
    profile = LenderProfile.default_for("golden")
    update = {**outreach}
    if "regime" in update:
        profile = profile.model_copy(update={"regime": update.pop("regime")})
    return profile.model_copy(update={"outreach": profile.outreach.model_copy(update=update)}).rules()


def _scenarios() -> dict[str, tuple[Rules, bool]]:
    """Name -> (compiled rules, whether the decisions get learned priors and the propensity model)."""
    experiments = ExperimentsPolicy(enabled=True)
    tested = ExperimentsPolicy(enabled=True, tones=("friendly", "firm"), channels=("email", "sms"))
    return {
        "first-party": (_profile(experiments=experiments), True),
        "third-party-pinned": (
            _profile(
                regime="third_party",
                experiments=ExperimentsPolicy(enabled=True, pins={"promise_due": "b"}, exploration=0.2),
                window=ContactWindow(start=time(9, 30), end=time(20, 0)),
                learning=LearningPolicy(prior_weight=1.5, min_prior_responses=40),
            ),
            True,
        ),
        "no-priors": (_profile(experiments=ExperimentsPolicy(enabled=True, min_exposures=0)), False),
        "learning-off": (_profile(experiments=experiments, learning=LearningPolicy(enabled=False)), True),
        "tones-and-channels": (_profile(experiments=tested), True),
    }


def _standings(segment: str) -> dict[str, Standing]:
    """Per segment: warm (Thompson), cold (warm-up), lopsided or empty, by a stable hash of the key."""
    kind = zlib.crc32(segment.encode()) % 4
    if kind == 0:
        return {
            "reminder#a": Standing(500, 30),
            "reminder#b": Standing(500, 40),
            "promise_due#a": Standing(80, 9),
            "tone#friendly": Standing(300, 20),
            "tone#firm": Standing(300, 6),
            "channel#email": Standing(400, 8),
            "channel#sms": Standing(400, 30),
        }
    if kind == 1:
        return {"reminder#a": Standing(10, 1), "promise_due#b": Standing(3, 0)}
    if kind == 2:
        return {
            "reminder#a": Standing(60, 2),
            "reminder#b": Standing(70, 30),
            "promise_due#a": Standing(90, 10),
            "promise_due#b": Standing(95, 12),
            "channel#email": Standing(60, 5),
            "channel#sms": Standing(20, 0),
        }
    return {}


def _priors(rng: random.Random) -> Priors:
    """Some segments learned (thick), some thin (below the minimum: the wider levels stand in), some absent."""
    counts: dict[str, dict[int, int]] = {}
    for stage in ("pre_due", "early", "mid", "late", "advanced", "none"):
        for tier in (0, 1, 2, 3, 4):
            for channel in ("email", "sms", "any"):
                roll = rng.random()
                if roll < 0.2:
                    continue
                size = 2 if roll < 0.4 else 12
                counts[prior_segment(stage, tier, channel)] = {
                    rng.randrange(168): rng.randint(1, size) for _ in range(rng.randint(1, 5))
                }
    return Priors(counts)


def _engagement(rng: random.Random) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _ in range(rng.randint(0, 6)):
        counts[f"how:{rng.randrange(168)}"] = rng.randint(1, 4)
    for channel in ("email", "sms"):
        if rng.random() < 0.6:
            delivered = rng.randint(1, 8)
            counts[f"{channel}:delivered"] = delivered
            for signal in ("opened", "clicked", "replied"):
                if rng.random() < 0.4:
                    counts[f"{channel}:{signal}"] = rng.randint(0, delivered)
            if rng.random() < 0.5:
                counts[f"{channel}:answered"] = rng.randint(0, delivered)
    if rng.random() < 0.2:
        counts["any:portal_visit"] = rng.randint(1, 3)
    return counts


def _account(rng: random.Random, n: int, now: datetime) -> Account:
    today = now.date()
    usd = "USD"
    zones = tuple(rng.sample(ZONES, 1 if rng.random() < 0.8 else rng.randint(2, 3)))
    mobile = rng.random() < 0.5
    debtor = Debtor(
        f"Debtor {n}",
        None if rng.random() < 0.04 else f"d{n}@example.com",
        "+12125550100" if mobile or rng.random() < 0.1 else None,
        zones[0],
        rng.choice(("en", "en", "es", "EN")),
        zones if len(zones) > 1 or rng.random() < 0.5 else (),
        phone_is_mobile=mobile,
        sms_consent=mobile and rng.random() < 0.7,
    )
    principal = rng.choice((0, rng.randint(500, 4000), rng.randint(4000, 200_000), rng.randint(200_000, 900_000)))
    balance = Balance(Money(principal, usd), Money(rng.choice((0, 0, 350)), usd), Money(rng.choice((0, 0, 1500)), usd))
    contacts = tuple(
        sorted(
            (
                Contact(
                    now - timedelta(days=rng.randint(0, 10), hours=rng.randint(0, 23), minutes=rng.randint(0, 59)),
                    rng.choice((Channel.EMAIL, Channel.EMAIL, Channel.SMS)),
                    ContactKind.CONVERSATION if rng.random() < 0.08 else ContactKind.ATTEMPT,
                )
                for _ in range(rng.choice((0, 0, 1, 2, 3, 4, 6)))
            ),
            key=lambda c: c.at,
        )
    )
    payments = tuple(
        Payment(f"pi_{n}_{i}", Money(rng.randint(500, 20_000), usd), now - timedelta(days=rng.randint(0, 40)))
        for i in range(rng.choice((0, 0, 0, 0, 1, 2)))
    )
    promise = plan = dispute = None
    roll = rng.random()
    if roll < 0.12:
        promise = Promise(
            Money(rng.randint(1000, 9000), usd),
            today + timedelta(days=rng.randint(-6, 8)),
            now - timedelta(days=rng.randint(1, 12)),
            rng.choice((PromiseStatus.PENDING, PromiseStatus.PENDING, PromiseStatus.KEPT, PromiseStatus.BROKEN)),
        )
    elif roll < 0.24:
        statuses = (InstallmentStatus.SCHEDULED,) * 3 + (
            InstallmentStatus.PAID,
            InstallmentStatus.FAILED,
            InstallmentStatus.MISSED,
        )
        plan = Plan(
            f"plan-{n}",
            now - timedelta(days=40),
            tuple(
                Installment(i + 1, today + timedelta(days=rng.randint(-20, 3) + 14 * i), Money(2500, usd), status)
                for i, status in enumerate(rng.choice(statuses) for _ in range(rng.randint(1, 4)))
            ),
            rng.choice((PlanStatus.CURRENT, PlanStatus.CURRENT, PlanStatus.BROKEN, PlanStatus.AWAITING_CARD)),
        )
    if rng.random() < 0.05:
        dispute = Dispute(now - timedelta(days=9), "not mine", rng.choice(tuple(DisputeStatus)))
    settlement = settlement_expires = None
    if rng.random() < 0.08:
        settlement = rng.randint(1000, 50_000)
        settlement_expires = now + timedelta(days=rng.randint(-1, 5), hours=rng.randint(0, 23))
    blocked: dict[Channel, Block] = {}
    if rng.random() < 0.08:
        blocked[rng.choice(tuple(Channel))] = rng.choice(tuple(Block))
    return Account(
        lender_id="golden",
        external_ref=f"G-{n}",
        debtor=debtor,
        balance=balance,
        due_date=today - timedelta(days=rng.randint(-12, 200)),
        status=AccountStatus.ACTIVE if rng.random() < 0.97 else rng.choice(tuple(AccountStatus)),
        next_contact_at=None if rng.random() < 0.1 else now - timedelta(minutes=rng.randint(0, 90)),
        contacts_sent=len(contacts) + rng.randint(0, 5),
        flags=frozenset({rng.choice(tuple(Flag))}) if rng.random() < 0.04 else frozenset(),
        placement=Placement(statute_of_limitations=date(2025, 1, 1)) if rng.random() < 0.05 else Placement(),
        recent_contacts=contacts,
        blocked_channels=blocked,
        preferred_channel=rng.choice(tuple(Channel)) if rng.random() < 0.1 else None,
        promise=promise,
        plan=plan,
        payments=payments,
        dispute=dispute,
        validation_notice_at=now - timedelta(days=30) if rng.random() < 0.6 else None,
        tier=rng.choice((None, None, 1, 2, 3, 4)),
        engagement=_engagement(rng) if rng.random() < 0.4 else {},
        preferred_time=rng.choice(("morning", "afternoon", "evening", "later")) if rng.random() < 0.12 else None,
        settlement_minor=settlement,
        settlement_expires_at=settlement_expires,
    )


def _record(plan: ContactPlan) -> str:
    """Everything a decision says, as text (the updated account by the state a decision changes)."""
    job = plan.job
    fields = (
        None
        if job is None
        else (
            job.job_id, job.account_id, job.channel, job.template, job.variant, job.stage, job.scheduled_for,
            job.tone, job.tier, job.reason,
        )
    )  # fmt: skip
    updated = None if plan.updated is None else (plan.updated.promise, plan.updated.tier, plan.updated.plan)
    return repr((fields, plan.next_contact_at, plan.reason, plan.why, plan.tier, updated))


def _decisions(reverse: bool) -> Iterator[tuple[str, list[str]]]:
    """(scenario|moment, the record of each account's decision in account order) for every scenario and moment;
    fresh learned state for each pass."""
    model = propensity.default_model()
    for name, (rules, with_learned) in _scenarios().items():
        policy = gate_policy(rules)
        for index, now in enumerate(MOMENTS):
            rng = random.Random(f"{name}|{index}")
            accounts = [_account(rng, n, now) for n in range(ACCOUNTS)]
            learned = Learned(_priors(random.Random(index)), model) if with_learned else None
            standings: Callable[[str], dict[str, Standing]] = _standings
            order = reversed(accounts) if reverse else accounts
            records = {a.external_ref: _record(decide(a, now, rules, policy, None, standings, learned)) for a in order}
            yield f"{name}|{index}", [records[a.external_ref] for a in accounts]


def _digest(record: str) -> str:
    return hashlib.sha256(record.encode("utf-8")).hexdigest()[:6]


def _snapshot() -> dict[str, list[str]]:
    lines = SNAPSHOT.read_text(encoding="utf-8").splitlines()
    return {key: digests.split(",") for key, digests in (line.split(" ", 1) for line in lines if line[:1] != "#")}


def test_decisions_are_the_committed_snapshot() -> None:
    found = dict(_decisions(reverse=False))
    if os.environ.get("CLEARDUE_REGENERATE_GOLDEN"):
        lines = [f"{key} {','.join(_digest(r) for r in records)}\n" for key, records in found.items()]
        header = "# tests/unit/core/test_decision_golden.py: per scenario|moment, a digest of each account's decision\n"
        SNAPSHOT.write_text(header + "".join(lines), encoding="utf-8")
        pytest.skip("snapshot regenerated")
    expected = _snapshot()
    assert expected.keys() == found.keys()
    changed = [
        f"{key} account {n}: {record}"
        for key, records in found.items()
        for n, (record, digest) in enumerate(zip(records, expected[key], strict=True))
        if _digest(record) != digest
    ]
    assert not changed, f"{len(changed)} decisions changed, e.g.:\n" + "\n".join(changed[:5])


def test_the_order_of_the_accounts_changes_no_decision() -> None:
    """Caches shared by a tick's accounts (zones, slots, priors) give every account the answer it would get alone."""
    assert list(_decisions(reverse=True)) == list(_decisions(reverse=False))
