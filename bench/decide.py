"""`python -m bench.decide [--accounts N]`: decisions per second on one core, AWS calls per enqueued job.

Decisions: `decide` (segmentation, arrangements, channel order, the compliance gate with its earliest
allowed moment, the job and its record of why) with a lender's compiled policy, over generated
accounts with mixed zones, histories, flags, mobiles with and without consent, opt-outs, promises
and plans, in this process. Calls per job: one
scheduler tick over N placed accounts against moto server, counting the function's own AWS calls."""

from __future__ import annotations

import random
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from bench import cli
from bench.ingest import CallCounter, print_calls
from functions.core import propensity
from functions.core.account import (
    Account,
    Balance,
    Block,
    Channel,
    Contact,
    Debtor,
    Flag,
    Installment,
    Plan,
    PlanStatus,
    Promise,
)
from functions.core.compliance import gate_policy
from functions.core.decision import Learned, decide
from functions.core.experiments import TESTABLE_TONES as TONES
from functions.core.experiments import Standing
from functions.core.lender import LenderProfile
from functions.core.money import Money
from functions.core.policy import ExperimentsPolicy
from functions.core.sendtime import Priors, prior_segment

NOW = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)
ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Pacific/Honolulu",
    "America/Puerto_Rico",
    "Europe/London",
    "Asia/Kathmandu",
]


def generate_accounts(count: int, seed: int = 3) -> list[Account]:
    rng = random.Random(seed)
    accounts = []
    for n in range(count):
        zones = tuple(rng.sample(ZONES, 2 if rng.random() < 0.1 else 1))
        history = tuple(
            Contact(NOW - timedelta(days=rng.randint(1, 9), hours=rng.randint(0, 23)), Channel.EMAIL)
            for _ in range(rng.randint(0, 3))
        )
        mobile = rng.random() < 0.4
        arrangement = rng.random()
        promise = plan = None
        if arrangement < 0.05:
            promise = Promise(
                Money(5000, "USD"), date(2026, 3, 10) + timedelta(days=rng.randint(-4, 6)), NOW - timedelta(days=5)
            )
        elif arrangement < 0.10:
            plan = Plan(
                "p",
                NOW - timedelta(days=20),
                tuple(
                    Installment(i + 1, date(2026, 3, 12) + timedelta(days=30 * i), Money(2500, "USD")) for i in range(3)
                ),
                PlanStatus.CURRENT,
            )
        accounts.append(Account(
            lender_id="bench", external_ref=f"D-{n}",
            debtor=Debtor(f"Debtor {n}", f"d{n}@example.com", "+12125550100" if mobile else None, zones[0], "en",
                          zones, phone_is_mobile=mobile, sms_consent=mobile and rng.random() < 0.7),
            balance=Balance(Money(rng.randint(1000, 500000), "USD"), Money(0, "USD"), Money(0, "USD")),
            due_date=date(2026, 3, 10) - timedelta(days=rng.randint(-10, 120)),
            flags=frozenset({rng.choice(list(Flag))}) if rng.random() < 0.05 else frozenset(),
            next_contact_at=NOW - timedelta(minutes=rng.randint(0, 60)),
            recent_contacts=history,
            blocked_channels={Channel.EMAIL: Block.OPTED_OUT} if rng.random() < 0.03 else {},
            promise=promise, plan=plan,
        ))  # fmt: skip
    return accounts


def decision_rate(count: int, experiments: bool = False, learning: bool = False) -> tuple[float, float]:
    """Decisions per second over `count` accounts: by the wall clock and by this process's CPU time (the
    figure for one core when the machine is shared). With `experiments`, the lender tests message variants and
    a reminder's three tones, as the simulation's engine does: every job's variant, and every reminder's tone, is a
    Thompson choice from warmed-up standings (cached per segment, as in a run).
    With `learning`, the decisions also get the lender's send-time priors (every segment learned) and the
    shipped propensity model, as the scheduler passes them; a quarter of the debtors have histories of their own."""
    accounts = generate_accounts(count)
    profile = LenderProfile.default_for("bench")
    if experiments:
        profile = profile.model_copy(
            update={
                "outreach": profile.outreach.model_copy(
                    update={"experiments": ExperimentsPolicy(enabled=True, tones=TONES)}
                )
            }
        )
    rules = profile.rules()  # compiled once per lender, as the scheduler does
    policy = gate_policy(rules)
    warm = {"reminder#a": Standing(500, 30), "reminder#b": Standing(500, 40)} | {
        f"tone#{tone}": Standing(500, 20 + 10 * n) for n, tone in enumerate(TONES)
    }
    standings = (lambda segment: warm) if experiments else None
    learned = None
    if learning:
        accounts = _with_histories(accounts)
        learned = Learned(_priors(), propensity.default_model())
    wall, cpu = time.perf_counter(), time.process_time()
    for account in accounts:
        decide(account, NOW, rules, policy, standings=standings, learned=learned)
    return count / (time.perf_counter() - wall), count / (time.process_time() - cpu)


def _priors() -> Priors:
    """A lender whose every prior segment has learned: responses spread over weekday evenings and mornings."""
    rng = random.Random(5)
    counts = {
        prior_segment(stage, tier, channel): {rng.choice((9, 10, 12, 18, 19, 20)) + 24 * rng.randint(0, 6): 30}
        for stage in ("pre_due", "early", "mid", "late", "advanced", "none")
        for tier in (0, 1, 2, 3, 4)
        for channel in ("email", "sms", "any")
    }
    return Priors(counts)


def _with_histories(accounts: list[Account]) -> list[Account]:
    """A quarter of the debtors with engagement counters of their own (deliveries, opens, hours)."""
    rng = random.Random(11)
    found = []
    for account in accounts:
        if rng.random() < 0.25:
            hours = {f"how:{rng.randint(0, 167)}": rng.randint(1, 3) for _ in range(rng.randint(1, 6))}
            delivered = rng.randint(1, 6)
            counts = {"email:delivered": delivered, "email:opened": rng.randint(0, delivered), **hours}
            account = account.with_changes(engagement=counts)
        found.append(account)
    return found


def calls_per_job(count: int) -> tuple[float, Counter[str], int]:
    """One scheduler tick over `count` due accounts on moto server: the function's AWS calls per job."""
    from functions.core.outreach import first_contact_at
    from functions.store import accounts as store
    from local.lambda_events import LocalLambdaContext, scheduled_event
    from local.stack import running

    counter = CallCounter()
    counter._active = SimpleNamespace(on=False)  # one flag for every thread: the shard queries run in a pool
    counter.install()
    with tempfile.TemporaryDirectory(prefix="cleardue-bench-") as directory, running(Path(directory)) as stack:
        from functions.scheduler.handler import lambda_handler

        shards = stack.settings.due_shards
        placed = [a.with_changes(next_contact_at=None) for a in generate_accounts(count) if not a.flags]
        store.put_new(
            [store.new_item(a, first_contact_at(a, NOW - timedelta(hours=1)), "bench", NOW, shards) for a in placed]
        )
        summary = counter.wrap(lambda_handler)(
            scheduled_event(NOW, "arn:aws:events:::rule/bench"), LocalLambdaContext("cleardue-scheduler")
        )
    enqueued = summary["enqueued"]
    return sum(counter.calls.values()) / max(enqueued, 1), counter.calls, enqueued


def main() -> None:
    parser = cli.parser("bench.decide", accounts=50_000)
    parser.add_argument("--tick-accounts", type=int, default=2_000, help="accounts in the scheduler tick")
    args = parser.parse_args()
    wall, cpu = decision_rate(args.accounts)
    print(
        f"decisions: {args.accounts} accounts, {cpu:,.0f} decisions/s of CPU time on one core "
        f"({wall:,.0f}/s by the wall clock; target 50,000)"
    )
    experiments_wall, experiments_cpu = decision_rate(args.accounts, experiments=True)
    print(
        f"decisions with message experiments on: {experiments_cpu:,.0f} decisions/s of CPU time "
        f"({experiments_wall:,.0f}/s by the wall clock)"
    )
    learning_wall, learning_cpu = decision_rate(args.accounts, learning=True)
    print(
        f"decisions with learning (send-time priors, debtor histories, propensity score): {learning_cpu:,.0f} "
        f"decisions/s of CPU time ({learning_wall:,.0f}/s by the wall clock)"
    )
    per_job, by_operation, enqueued = calls_per_job(args.tick_accounts)
    print(
        f"AWS calls per enqueued job (moto server, one tick): {per_job:.3f} ({sum(by_operation.values())} calls, "
        f"{enqueued} jobs)"
    )
    print_calls(by_operation)
    figures = {
        "accounts": args.accounts,
        "decisions_per_cpu_s": cpu,
        "decisions_per_wall_s": wall,
        "decisions_with_experiments_per_cpu_s": experiments_cpu,
        "decisions_with_learning_per_cpu_s": learning_cpu,
        "tick_accounts": args.tick_accounts,
        "calls_per_job": per_job,
        "jobs": enqueued,
        "calls": dict(by_operation.most_common()),
    }
    cli.write_figures(args.json, figures)


if __name__ == "__main__":
    main()
