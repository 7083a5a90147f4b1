"""An account keeps a bounded contact history: what `bounded_history` drops, no decision reads.

Each case is an account with a long, random history (attempts and conversations on both channels, over up to
200 days, a few appended out of time order as concurrent senders and an operator's late note do), a random
lender policy within the bounds a policy may set, and a moment at or after the history was bounded. The whole
history and the bounded one must give the same decision, the same verdict from every compliance rule on both
channels, the same earliest allowed moment, the same erasure clock and the same counts the escalation reads."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from functions.core import erasure
from functions.core.account import (
    HISTORY_COUNT,
    HISTORY_DAYS,
    Account,
    Channel,
    Contact,
    ContactKind,
    Debtor,
    bounded_history,
)
from functions.core.channels import learned_order
from functions.core.compliance import Kind, earliest_allowed, gate, gate_policy, standing_of
from functions.core.decision import ContactPlan, decide
from functions.core.lender import LenderProfile
from functions.core.policy import CapsPolicy, OutreachPolicy
from tests.events.factories import make_account

BOUNDED_AT = datetime(2026, 6, 1, 15, 0, tzinfo=UTC)


def _history(rng: random.Random) -> tuple[Contact, ...]:
    span = rng.choice((20, 45, 90, 200))
    conversations = rng.choice((0.1, 0.1, 0.6))  # some debtors mostly call back
    contacts = sorted(
        (
            Contact(
                BOUNDED_AT - timedelta(days=rng.uniform(0, span)),
                rng.choice((Channel.EMAIL, Channel.EMAIL, Channel.SMS)),
                ContactKind.CONVERSATION if rng.random() < conversations else ContactKind.ATTEMPT,
            )
            for _ in range(rng.choice((0, 3, 12, 25, 40, 70)))
        ),
        key=lambda contact: contact.at,
    )
    for _ in range(rng.randint(0, 2)):  # appended late: a claim that raced another, an operator's note of a call
        if len(contacts) > 2:
            n = rng.randrange(len(contacts) - 1)
            contacts[n], contacts[n + 1] = contacts[n + 1], contacts[n]
    return tuple(contacts)


def _profile(rng: random.Random) -> LenderProfile:
    outreach = OutreachPolicy.model_validate(
        {
            "caps": {
                "period_days": rng.randint(1, HISTORY_DAYS),
                "email": rng.randint(1, 7),
                "sms": rng.randint(1, 7),
                "all_channels": rng.randint(1, 14),
            },
            "pause_after_conversation_days": rng.randint(0, 30),
            "escalate_after_attempts": rng.randint(1, HISTORY_COUNT),
            "learning": rng.random() < 0.8,
        }
    )
    return LenderProfile(lender_id="acme", creditor_name="Acme", outreach=outreach)


def _account(rng: random.Random, n: int) -> Account:
    account = make_account(f"H-{n}")
    debtor = Debtor(
        "Dana Reyes", "dana.reyes@example.com", "+13125550147", "America/Chicago", "en",
        phone_is_mobile=True, sms_consent=rng.random() < 0.8,
    )  # fmt: skip
    engagement = {}
    if rng.random() < 0.5:
        engagement = {"email:delivered": rng.randint(0, 9), "sms:delivered": rng.randint(0, 9)}
    history = _history(rng)
    return account.with_changes(
        debtor=debtor,
        recent_contacts=history,
        contacts_sent=len(history),
        last_contact_at=max((c.at for c in history), default=None),
        engagement=engagement,
    )


def _without_history(plan: ContactPlan) -> ContactPlan:
    updated = plan.updated.with_changes(recent_contacts=()) if plan.updated is not None else None
    return replace(plan, updated=updated)


CASES = 400


@pytest.mark.parametrize("seed", range(4))
def test_every_decision_reads_the_same_from_the_bounded_history(seed: int) -> None:
    rng = random.Random(seed)
    dropped = 0
    for n in range(CASES // 4):
        full = _account(rng, n)
        bounded = full.with_changes(recent_contacts=bounded_history(full.recent_contacts, BOUNDED_AT))
        dropped += len(full.recent_contacts) - len(bounded.recent_contacts)
        profile = _profile(rng)
        rules = profile.rules()
        policy = gate_policy(rules)
        now = BOUNDED_AT + timedelta(days=rng.choice((0, 0, rng.uniform(0, 40))))
        due_full, due_bounded = full.with_changes(next_contact_at=now), bounded.with_changes(next_contact_at=now)

        assert _without_history(decide(due_full, now, rules, policy)) == _without_history(
            decide(due_bounded, now, rules, policy)
        ), n
        for channel in Channel:
            for kind in Kind:
                assert gate(full, standing_of(full), channel, kind, now, policy) == gate(
                    bounded, standing_of(bounded), channel, kind, now, policy
                ), (n, channel, kind)
                assert earliest_allowed(full, standing_of(full), channel, kind, now, policy) == earliest_allowed(
                    bounded, standing_of(bounded), channel, kind, now, policy
                ), (n, channel, kind)
        order = (Channel.EMAIL, Channel.SMS)
        assert learned_order(full, order, rules.escalate_after_attempts) == learned_order(
            bounded, order, rules.escalate_after_attempts
        ), n
        assert erasure.last_collection_activity(full) == erasure.last_collection_activity(bounded)
        for count in range(1, HISTORY_COUNT + 1):
            assert (len(full.recent_contacts) < count) == (len(bounded.recent_contacts) < count)
    assert dropped > 0  # the cases did exercise the bound


def test_the_history_is_bounded_whatever_its_length() -> None:
    """Three years of daily messages on two channels and an old call: what the last HISTORY_DAYS hold."""
    every_day = (Contact(BOUNDED_AT - timedelta(days=400), Channel.SMS, ContactKind.CONVERSATION),) + tuple(
        Contact(BOUNDED_AT - timedelta(days=day), channel) for day in range(3 * 365, -1, -1) for channel in Channel
    )
    kept = bounded_history(every_day, BOUNDED_AT)
    recent = [c for c in every_day if c.at >= BOUNDED_AT - timedelta(days=HISTORY_DAYS)]
    assert kept == tuple(recent)  # more than HISTORY_COUNT attempts per channel and in all
    assert bounded_history(kept, BOUNDED_AT) == kept  # bounding again drops nothing more


def test_a_young_history_is_returned_as_it_is() -> None:
    young = (Contact(BOUNDED_AT - timedelta(days=3), Channel.EMAIL),)
    assert bounded_history(young, BOUNDED_AT) is young
    assert bounded_history((), BOUNDED_AT) == ()


def test_no_policy_may_look_back_further_than_the_history_kept() -> None:
    """The bound is safe only while every rule's look-back fits in it: raising a policy bound fails here."""
    assert _bound(CapsPolicy, "period_days") <= HISTORY_DAYS
    assert _bound(OutreachPolicy, "pause_after_conversation_days") <= HISTORY_DAYS
    assert _bound(OutreachPolicy, "escalate_after_attempts") <= HISTORY_COUNT


def _bound(model: type, name: str) -> int:
    return next(meta.le for meta in model.model_fields[name].metadata if getattr(meta, "le", None) is not None)
