"""The debtor model: what makes timing, channel, tone and volume matter."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from functions.core.messages import EmailMessage
from functions.sender.service import mime_message
from local.simulate import behaviour
from local.simulate.behaviour import DebtorState, Seen
from local.simulate.population import DEFAULT_POPULATION, load, sample

NOON_NY = datetime(2026, 3, 3, 17, 0, tzinfo=UTC)  # 12:00 in New York


def _debtor(**changes: object) -> behaviour.Debtor:
    debtor = sample(load(DEFAULT_POPULATION), 1, seed=1, start=date(2026, 3, 2))[0]
    return replace(debtor, timezone="America/New_York", **changes)  # type: ignore[arg-type]


def _seen(at: datetime = NOON_NY, channel: str = "email", tone: str = "friendly") -> Seen:
    return Seen(channel, at, "m-1", "2tok", True, tone, "a")


def test_a_message_at_the_reading_hour_is_noticed_more_than_one_far_from_it() -> None:
    debtor = _debtor(reading_peak_hour=12.0, reading_spread_hours=1.5, off_hours_attention=0.2)

    at_noon = behaviour.notice_probability(debtor, _seen(NOON_NY))
    at_night = behaviour.notice_probability(debtor, _seen(NOON_NY + timedelta(hours=8)))

    assert at_noon > 3 * at_night


def test_the_channel_not_preferred_is_noticed_less() -> None:
    debtor = _debtor(channel_preference="sms", off_channel_attention=0.3, attention={"email": 0.5, "sms": 0.5})

    assert behaviour.notice_probability(debtor, _seen(channel="email")) < behaviour.notice_probability(
        debtor, _seen(channel="sms")
    )


def test_a_tone_far_from_the_preferred_one_is_acted_on_less() -> None:
    debtor = _debtor(preferred_tone="friendly", tone_sensitivity=0.8)
    state = DebtorState(debtor, random.Random(1))

    assert behaviour.act_probability(state, _seen(tone="firm")) < behaviour.act_probability(
        state, _seen(tone="friendly")
    )


def test_blasting_past_the_tolerance_ends_in_opt_outs() -> None:
    debtor = _debtor(fatigue_tolerance=1.0, fatigue_sensitivity=0.5, complaint_share=0.0)
    state = DebtorState(debtor, random.Random(3))

    kinds = []
    for n in range(8):
        kinds += [i.kind for i in behaviour.react(state, _seen(NOON_NY + timedelta(hours=12 * n)))]

    assert "unsubscribe" in kinds
    assert "email" in state.opted_out


def test_an_email_is_read_as_its_recipient_sees_it() -> None:
    # Given the MIME the sender hands SES (a subject with "••••" is RFC 2047 encoded as a whole)
    message = EmailMessage(
        subject="$120.00 is past due: Sim Bank account ••••0042",
        text="A friendly reminder about your Sim Bank account: pay at https://pay.example/#t=2abcDEF_-123\n",
        html="<p>A friendly reminder</p>",
        headers={},
        language="en",
    )
    mime = mime_message(message, "Sim Bank <billing@sim.example>", "debtor@sim.example")

    seen = behaviour.seen_email(mime.as_string(), "m-9", NOON_NY)

    assert (seen.token, seen.tone, seen.variant, seen.reminder) == ("2abcDEF_-123", "friendly", "b", True)
