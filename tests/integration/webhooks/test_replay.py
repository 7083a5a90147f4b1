"""The replay test: 1,000 Stripe deliveries drawn from a set of payment histories (succeeded, failed, refunded,
announced twice), shuffled and duplicated, end with exactly the balances that applying each payment once gives,
and one receipt per payment.

The expected balances are computed here from the histories alone (sum of what each payment kept, run down
fees, then interest, then principal), not with the code under test."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.core.account import AccountStatus
from functions.core.audit import EventType, chain_breaks
from functions.core.payments import parse_reason
from functions.store import accounts, events
from functions.webhooks.handler import stripe_handler
from local.lambda_events import LocalLambdaContext
from tests.events.factories import make_account, place
from tests.integration.webhooks.helpers import body_of, drain, http_event, signature, stripe_event

T0 = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
DELIVERIES = 1_000
ACCOUNTS = 12
SEED = 20260310


@dataclass
class History:
    account_id: str
    principal: int
    interest: int
    fees: int
    kept: dict[str, int] = field(default_factory=dict)  # payment id -> amount minus its final refund
    failed_only: set[str] = field(default_factory=set)
    events: list[dict[str, Any]] = field(default_factory=list)


class _Builder:
    """Stripe events of one account's payment history, stamped one virtual minute apart."""

    def __init__(self, history: History, rnd: random.Random, clock: Iterator[int]) -> None:
        self.history, self.rnd, self.clock = history, rnd, clock

    def _add(self, name: str, event_id: str, **changes: Any) -> dict[str, Any]:
        at = T0 + timedelta(minutes=next(self.clock))
        event = stripe_event(name, event_id=event_id, created=at, account_id=self.history.account_id, **changes)
        self.history.events.append(event)
        return event

    def succeeded(self, pi: str, amount: int) -> None:
        self._add(
            "rubymock_payment_intent.succeeded.json", f"evt_ok_{pi}", id=pi, amount=amount, amount_received=amount
        )
        self._add(  # the same payment announced by Checkout too
            "rubymock_checkout.session.completed.payment_mode.json",
            f"evt_cs_{pi}",
            id=f"cs_{pi}",
            payment_intent=pi,
            amount_total=amount,
        )

    def failed(self, pi: str, suffix: str = "") -> None:
        event = self._add("rubymock_payment_intent.payment_failed.json", f"evt_fail_{pi}{suffix}", id=pi)
        codes = ["insufficient_funds", "generic_decline", "expired_card", "stolen_card"]
        event["data"]["object"]["last_payment_error"]["decline_code"] = self.rnd.choice(codes)

    def refunded(self, pi: str, amount: int, refunded: int) -> None:
        self._add(
            "rubymock_charge.refunded.json",
            f"evt_rf_{pi}_{refunded}",
            id=f"ch_{pi}",
            payment_intent=pi,
            amount=amount,
            amount_refunded=refunded,
        )


def _histories(rnd: random.Random) -> list[History]:
    histories = []
    clock = iter(range(1, 10_000))
    kinds = ["full", "partial", "over", "retry", "failed", "refund", "refund_all"]
    for n in range(ACCOUNTS):
        principal, interest, fees = rnd.randint(5_000, 40_000), rnd.randint(0, 3_000), rnd.choice([0, 1_500, 2_500])
        history = History(f"acme#R-{n:04d}", principal, interest, fees)
        build = _Builder(history, rnd, clock)
        total = principal + interest + fees
        for k, kind in enumerate(rnd.sample(kinds, 3)):
            pi = f"pi_{n}_{k}"
            amount = {"full": total, "over": total + 1_234}.get(kind, rnd.randint(500, total // 2))
            if kind == "failed":
                build.failed(pi)
                build.failed(pi, "_again")
                history.failed_only.add(pi)
                continue
            if kind == "retry":
                build.failed(pi)  # declined, then paid with another card on the same PaymentIntent
            build.succeeded(pi, amount)
            kept = amount
            if kind == "refund":
                build.refunded(pi, amount, amount // 4)
                build.refunded(pi, amount, amount // 2)  # cumulative: the later event knows both refunds
                kept = amount - amount // 2
            elif kind == "refund_all":
                build.refunded(pi, amount, amount)
                kept = 0
            history.kept[pi] = kept
        histories.append(history)
    return histories


def _expected(history: History) -> tuple[int, int, int, int]:
    """(fees, interest, principal, credit) after applying each payment once."""
    paid = sum(history.kept.values())
    fees = max(0, history.fees - paid)
    paid -= history.fees - fees
    interest = max(0, history.interest - paid)
    paid -= history.interest - interest
    principal = max(0, history.principal - paid)
    paid -= history.principal - principal
    return fees, interest, principal, paid


@pytest.fixture(scope="module")
def replayed(webhooks_stack: dict[str, Any]) -> dict[str, Any]:
    """One moto, one set of accounts, 1,000 deliveries; the tests below read what they left."""
    rnd = random.Random(SEED)
    histories = _histories(rnd)
    unique = [event for history in histories for event in history.events]
    deliveries = unique + [rnd.choice(unique) for _ in range(DELIVERIES - len(unique))]
    rnd.shuffle(deliveries)
    for history in histories:
        place(
            make_account(
                history.account_id.split("#")[1],
                principal=history.principal,
                interest=history.interest,
                fees=history.fees,
            ),
            T0 - timedelta(days=1),
        )
    context = LocalLambdaContext("cleardue-webhooks")
    statuses: Counter[int] = Counter()
    for event in deliveries:
        body = body_of(event)
        response = stripe_handler(http_event(body, signature(body), T0), context)
        statuses[response["statusCode"]] += 1
    return {
        "histories": histories,
        "statuses": statuses,
        "unique": len(unique),
        "jobs": drain(webhooks_stack["sqs"], webhooks_stack["queue_url"]),
        "accounts": {h.account_id: accounts.get(h.account_id) for h in histories},
        "trails": {h.account_id: events.history(h.account_id) for h in histories},
    }


def test_every_delivery_is_acknowledged(replayed: dict[str, Any]) -> None:
    assert replayed["statuses"] == {200: DELIVERIES}
    assert replayed["unique"] < DELIVERIES / 3  # most deliveries are duplicates


def test_balances_equal_each_payment_applied_once(replayed: dict[str, Any]) -> None:
    for history in replayed["histories"]:
        account = replayed["accounts"][history.account_id]
        fees, interest, principal, credit = _expected(history)
        balance = account.balance
        assert (balance.fees.minor, balance.interest.minor, balance.principal.minor) == (fees, interest, principal)
        assert (account.credit.minor if account.credit else 0) == credit
        owes = fees + interest + principal > 0
        assert account.status is (AccountStatus.ACTIVE if owes else AccountStatus.PAID)
        if not owes:
            assert account.next_contact_at is None
        assert {p.payment_id for p in account.payments} == set(history.kept)
        assert {p.payment_id: p.amount.minor - p.refunded_minor for p in account.payments} == history.kept


def test_one_receipt_per_payment_and_at_most_one_failure_notice(replayed: dict[str, Any]) -> None:
    jobs = replayed["jobs"]
    receipts = Counter(parse_reason(j["reason"])["payment"] for j in jobs if j["template"] == "receipt")
    expected = {pi for h in replayed["histories"] for pi in h.kept}
    assert set(receipts) == expected and set(receipts.values()) == {1}
    failures = Counter(parse_reason(j["reason"])["payment"] for j in jobs if j["template"] == "payment_failed")
    failed_only = {pi for h in replayed["histories"] for pi in h.failed_only}
    assert failed_only <= set(failures) and set(failures.values()) == {1}
    assert len({j["job_id"] for j in jobs}) == len(jobs)


def test_each_payment_is_audited_once_on_an_unbroken_chain(replayed: dict[str, Any]) -> None:
    for history in replayed["histories"]:
        trail = replayed["trails"][history.account_id]
        applied = Counter(e.detail["payment"] for e in trail if e.type is EventType.PAYMENT_APPLIED)
        assert applied == Counter(dict.fromkeys(history.kept, 1))
        assert chain_breaks(trail) == []


def test_paid_accounts_leave_the_schedule(replayed: dict[str, Any]) -> None:
    paid = [a for a in replayed["accounts"].values() if a.status is AccountStatus.PAID]
    assert paid and all(a.next_contact_at is None for a in paid)
