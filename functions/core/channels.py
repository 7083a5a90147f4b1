"""Channel choice: which channel to try first for a debtor, from how they answer each one (docs/learning.md).

- **Responsiveness**: per channel a Beta(1 + responses, 1 + deliveries - responses) posterior from the
  engagement counters (`core.engagement`: `<channel>:delivered`, `:clicked`, `:replied`). A response is what
  every channel can show: a link followed (an email's click from SES; a text's from the portal, whose visit
  came by the text's own link) or a reply. Not an email's open: a text has no open to match it (an email
  that is read would beat a text that is acted on), and mail privacy proxies open mail nobody read. A
  channel judged on enough deliveries whose posterior mean is above the first choice's goes first.
- **Escalation**: a channel with `k` unanswered deliveries since its last response (the counters'
  `<channel>:answered` mark: the deliveries counted when a response last came; a payment or a portal
  visit answers every channel) goes after the channels that are still answering. Without delivery
  counters for a channel (no provider events yet), its last `k` attempts with no payment or promise
  since stand for them.
- **Return**: a response on a demoted channel moves its mark up to its deliveries: it is answering
  again and takes its place (the debtor's preference, then the policy's order) back.
When every channel is demoted, the one tried longest ago goes first (a rotation, not a dead end). A
channel the debtor chose (the portal's preference) is never reordered or demoted: what they said beats
what the counters suggest.

Only an order of candidates: the compliance gate still decides, channel by channel, what may be sent
(consent, opt-outs, caps, the window); a channel it refuses is skipped for the next one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from functions.core.account import Account, Channel, ContactKind

MIN_DELIVERIES_TO_JUDGE = 3  # deliveries on a channel before its responsiveness reorders the channels
ANSWERED = "answered"  # `<channel>:answered`: the channel's deliveries counted at its last response
ROTATION = "every channel unanswered"  # the note of a rotation: the debtor's record tells no channel apart
_ATTEMPT = ContactKind.ATTEMPT


@dataclass(frozen=True, slots=True)
class Responsiveness:
    """One channel's record with a debtor: deliveries, responses (at most one per delivery), unanswered."""

    delivered: int
    responses: int
    unanswered: int

    @property
    def beta(self) -> tuple[int, int]:
        return 1 + self.responses, 1 + self.delivered - self.responses

    @property
    def mean(self) -> float:
        a, b = self.beta
        return a / (a + b)


# Each channel's counter names (`<channel>:delivered`, `:clicked`, `:replied`, `:answered`), made once;
# keyed by the channel's text (hashing an Enum member is a Python-level call).
_COUNTERS = {
    c._value_: tuple(f"{c._value_}:{n}" for n in ("delivered", "clicked", "replied", ANSWERED)) for c in Channel
}


def responsiveness(counts: Mapping[str, int], channel: Channel) -> Responsiveness | None:
    """The channel's record from the engagement counters, None before anything was delivered on it."""
    delivered_key, clicked_key, replied_key, answered_key = _COUNTERS[channel._value_]
    delivered = int(counts.get(delivered_key, 0))
    if delivered <= 0:
        return None
    responses = min(delivered, max(int(counts.get(clicked_key, 0)), int(counts.get(replied_key, 0))))
    mark = counts.get(answered_key)
    # Counters from before the mark existed: answered if the channel ever got a response.
    unanswered = (0 if responses else delivered) if mark is None else max(0, delivered - int(mark))
    record = object.__new__(Responsiveness)  # `Responsiveness(...)` without the frozen dataclass's __init__
    _SET_DELIVERED(record, delivered)
    _SET_RESPONSES(record, responses)
    _SET_UNANSWERED(record, unanswered)
    return record


# The slot setters `responsiveness` makes its record with (the decision's hot path for a debtor with counters;
# tests/unit/core/test_channels.py checks the record equals the dataclass's).
_SET_DELIVERED, _SET_RESPONSES, _SET_UNANSWERED = (
    vars(Responsiveness)[name].__set__ for name in Responsiveness.__slots__
)
assert Responsiveness.__slots__ == ("delivered", "responses", "unanswered")


def answered_marks(channel: Channel | None) -> dict[str, str]:
    """The marks a response sets (`<channel>:answered` := `<channel>:delivered`): on its channel, or on every
    channel for a response of none (a payment, a portal visit)."""
    channels = (channel,) if channel is not None else tuple(Channel)
    return {f"{c._value_}:{ANSWERED}": f"{c._value_}:delivered" for c in channels}


def _unanswered_attempts(account: Account, channel: Channel, attempts: int) -> bool:
    """The channel's last `attempts` attempts got no payment and no promise since the first of them."""
    if len(account.recent_contacts) < attempts:
        return False  # not that many contacts on any channel
    on_channel = [c for c in account.recent_contacts if c.kind is _ATTEMPT and c.channel is channel]
    if len(on_channel) < attempts:
        return False
    since = on_channel[-attempts].at
    if any(p.at >= since for p in account.payments):
        return False
    return not (account.promise is not None and account.promise.made_at >= since)


def _last_attempt(account: Account, channel: Channel) -> tuple[int, datetime | None]:
    """A sort key: never tried first, then the channel tried longest ago."""
    moments = [c.at for c in account.recent_contacts if c.kind is _ATTEMPT and c.channel is channel]
    return (1, max(moments)) if moments else (0, None)


def learned_order(
    account: Account, order: tuple[Channel, ...], escalate_after: int
) -> tuple[tuple[Channel, ...], list[str]]:
    """The candidate channels reordered by what this debtor answers, with notes for the decision's record.
    `order` is the policy's (the debtor's stated preference first)."""
    notes: list[str] = []
    counts = account.engagement
    if len(order) < 2 or (not counts and len(account.recent_contacts) < escalate_after):
        return order, notes  # nothing learned yet (most accounts): the policy's order
    records = {channel: responsiveness(counts, channel) for channel in order} if counts else {}
    if account.preferred_channel is None and records:
        first = records.get(order[0])
        judged = [
            (record.mean, channel)
            for channel, record in records.items()
            if record is not None and record.delivered >= MIN_DELIVERIES_TO_JUDGE
        ]
        if judged:
            mean, best = max(judged, key=lambda pair: (pair[0], -order.index(pair[1])))
            if best is not order[0] and (
                first is None or first.delivered < MIN_DELIVERIES_TO_JUDGE or mean > first.mean
            ):
                order = (best, *(c for c in order if c is not best))
                notes.append(f"engagement: {best._value_} answers best")
    demoted: list[Channel] = []
    for channel in order:
        if channel is account.preferred_channel:
            continue  # the debtor chose it: what they said beats what the counters suggest
        record = records.get(channel)
        if record is not None:
            if record.unanswered >= escalate_after:
                demoted.append(channel)
                notes.append(f"escalated: {record.unanswered} unanswered {channel._value_} deliveries")
        elif _unanswered_attempts(account, channel, escalate_after):
            demoted.append(channel)
            notes.append(f"escalated: {escalate_after} unanswered {channel._value_} attempts")
    if not demoted:
        return order, notes
    if len(demoted) == len(order):
        tried = {c: _last_attempt(account, c) for c in order}
        never = [c for c in order if tried[c][0] == 0]
        rotation = (*never, *sorted((c for c in order if c not in never), key=lambda c: tried[c][1]))  # type: ignore[arg-type,return-value]
        return rotation, [*notes, f"{ROTATION}: {rotation[0]._value_}, tried longest ago"]
    return (*(c for c in order if c not in demoted), *demoted), notes
