"""How a simulated debtor reacts to what reaches them. Pure: traits, what the message looked like, a seeded
random stream in, intentions with their moments out. The runner carries the intentions out through the
real interfaces (SES/SNS events to the webhooks function, the portal API, Stripe Checkout on the emulator).

The model (docs/simulation.md has the reasoning and sources):
- a delivered message is *noticed* with the debtor's attention to that channel, lower on the channel they
  do not prefer, and lower the further its local hour is from the hour they read messages at;
- too many messages in 7 days (over the debtor's tolerance) may make them opt out of the channel (email
  unsubscribe, SMS STOP) or complain (email), each message over the tolerance one more chance;
- a noticed message is *acted on* (an email opened then clicked, a text's link followed: a portal visit)
  with the debtor's willingness, less when the tone is far from the one they answer, a little less for the
  subject style they like less, less as fatigue and habituation build up;
- in the portal: a disputer disputes; otherwise each visit the debtor can pay in full with probability
  `capacity`, else asks for hardship help, takes a plan, or promises a date (kept or not), or leaves.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_string
from email.header import decode_header, make_header
from email.message import Message
from zoneinfo import ZoneInfo

from local.simulate.population import TONES, Debtor

TOKEN = re.compile(r"#t=([A-Za-z0-9_.\-]+)")
# What a reader sees in the first sentence of a reminder (functions/core/templates/en/reminder.j2).
TONE_MARKERS = (("A friendly reminder", "friendly"), ("needs your attention", "firm"), ("has a balance of", "neutral"))
SMS_REMINDER = re.compile(r"(Pay or see options:|Pay/options:|due\. Pay:)")
HABITUATION = 0.97  # each earlier collection message makes the next a little less likely to be acted on
FATIGUE_DAMPING = 0.15  # response lost per message over the tolerance in the last 7 days
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Seen:
    """A delivered message as the debtor sees it."""

    channel: str  # email | sms
    at: datetime  # when it was delivered
    message_id: str
    token: str | None  # the signed pay link's token (also what the one-click unsubscribe carries)
    reminder: bool  # a collection reminder (not a receipt or a notice about a plan or promise)
    tone: str  # friendly | neutral | firm (what the wording reads as; texts read neutral)
    variant: str | None  # a | b: the subject's style (emails), None when it cannot be told


def seen_email(raw: str, message_id: str, at: datetime) -> Seen:
    """Read a raw MIME email as its recipient would: the link, the tone of the first sentence, the subject style."""
    mime = message_from_string(raw)
    text = _plain_text(mime)
    found = TOKEN.search(text)
    tone = next((name for marker, name in TONE_MARKERS if marker in text), None)
    subject = str(make_header(decode_header(mime.get("Subject") or "")))  # RFC 2047 words decoded
    variant = "b" if subject[:1] in "$€£¥" or subject[:1].isdigit() else "a"
    return Seen(
        "email", at, message_id, found.group(1) if found else None, tone is not None, tone or "neutral", variant
    )


def seen_text(body: str, message_id: str, at: datetime) -> Seen:
    found = TOKEN.search(body)
    return Seen(
        "sms", at, message_id, found.group(1) if found else None, bool(SMS_REMINDER.search(body)), "neutral", None
    )


def _plain_text(mime: Message) -> str:
    for part in mime.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload.decode(part.get_content_charset() or "utf-8", errors="replace")
    return ""


@dataclass(frozen=True)
class Intent:
    """Something the debtor will do at `at`: delivered | open | click | visit | unsubscribe | complain | stop."""

    at: datetime
    kind: str
    seen: Seen


@dataclass
class DebtorState:
    """What the simulation remembers about a debtor (the platform does not see it)."""

    debtor: Debtor
    rng: random.Random
    received: list[datetime] = field(default_factory=list)  # collection messages, in order
    opted_out: set[str] = field(default_factory=set)
    complained: bool = False
    disputed: bool = False
    paid: bool = False
    hardship_asked: bool = False
    plan_chosen: bool = False
    promise_until: datetime | None = None
    last_token: str | None = None
    visits: int = 0

    @property
    def done(self) -> bool:
        return self.paid or self.disputed

    def recent(self, now: datetime) -> int:
        return sum(1 for at in self.received if now - at < WEEK)


def local_hour(at: datetime, zone: str) -> float:
    moment = at.astimezone(ZoneInfo(zone))
    return moment.hour + moment.minute / 60


def hour_factor(debtor: Debtor, hour: float) -> float:
    """1 at the debtor's reading hour, down to `off_hours_attention` far from it (circular distance)."""
    distance = abs(hour - debtor.reading_peak_hour) % 24
    distance = min(distance, 24 - distance)
    bell = math.exp(-(distance**2) / (2 * debtor.reading_spread_hours**2))
    return debtor.off_hours_attention + (1 - debtor.off_hours_attention) * bell


def tone_factor(debtor: Debtor, tone: str) -> float:
    gap = abs(TONES.index(tone) - TONES.index(debtor.preferred_tone)) / (len(TONES) - 1)
    return 1 - debtor.tone_sensitivity * gap


def notice_probability(debtor: Debtor, seen: Seen) -> float:
    attention = debtor.attention[seen.channel]
    if seen.channel != debtor.channel_preference:
        attention *= debtor.off_channel_attention
    return attention * hour_factor(debtor, local_hour(seen.at, debtor.timezone))


def act_probability(state: DebtorState, seen: Seen) -> float:
    debtor = state.debtor
    p = debtor.willingness * tone_factor(debtor, seen.tone)
    if seen.variant is not None and seen.variant != debtor.preferred_variant:
        p *= 1 - debtor.variant_sensitivity
    over = max(0.0, state.recent(seen.at) - debtor.fatigue_tolerance)
    p *= max(0.2, 1 - FATIGUE_DAMPING * over)
    return p * HABITUATION ** max(0, len(state.received) - 1)


def _reading_delay(debtor: Debtor, seen: Seen, rng: random.Random) -> timedelta:
    """Soon when the message arrives near the reading hour; otherwise at the next reading hour."""
    hour = local_hour(seen.at, debtor.timezone)
    if hour_factor(debtor, hour) > 0.6:
        return timedelta(minutes=rng.uniform(2, 60))
    wait = (debtor.reading_peak_hour - hour) % 24
    return timedelta(hours=wait, minutes=rng.uniform(0, 45))


def react(state: DebtorState, seen: Seen) -> list[Intent]:
    """What the debtor does about one delivered message (the provider's delivery event included)."""
    rng, debtor = state.rng, state.debtor
    intents = [Intent(seen.at + timedelta(seconds=rng.uniform(2, 30)), "delivered", seen)]
    if seen.token:
        state.last_token = seen.token
    if not seen.reminder or state.done or seen.channel in state.opted_out:
        return intents
    state.received.append(seen.at)
    later = seen.at + _reading_delay(debtor, seen, rng)
    over = state.recent(seen.at) - debtor.fatigue_tolerance
    if over > 0 and rng.random() < 1 - (1 - debtor.fatigue_sensitivity) ** over:
        if seen.channel == "sms":
            kind = "stop"
        else:
            kind = "complain" if rng.random() < debtor.complaint_share else "unsubscribe"
        state.opted_out.add(seen.channel)
        return [*intents, Intent(later, kind, seen)]
    if rng.random() >= notice_probability(debtor, seen):
        return intents
    acts = rng.random() < act_probability(state, seen)
    if seen.channel == "email":
        intents.append(Intent(later, "open", seen))
        if acts:
            intents.append(Intent(later + timedelta(seconds=rng.uniform(10, 120)), "click", seen))
    if acts:
        intents.append(Intent(later + timedelta(minutes=rng.uniform(1, 10)), "visit", seen))
    return intents


@dataclass(frozen=True)
class Choice:
    """What a debtor does in the portal on one visit."""

    kind: str  # dispute | pay | hardship | plan | promise | leave
    days: int = 0  # promise: in how many days


def portal_choice(state: DebtorState, balance_minor: int, min_installment_minor: int, max_promise_days: int) -> Choice:
    rng, debtor = state.rng, state.debtor
    state.visits += 1
    if debtor.disputes and not state.disputed:
        return Choice("dispute")
    if rng.random() < debtor.capacity:
        return Choice("pay")
    if debtor.hardship and not state.hardship_asked:
        return Choice("hardship")
    if debtor.wants_plan and not state.plan_chosen and balance_minor >= 2 * min_installment_minor:
        return Choice("plan")
    if debtor.promises and state.promise_until is None:
        return Choice("promise", days=rng.randint(min(3, max_promise_days), max_promise_days))
    return Choice("leave")
