"""The debtor's engagement profile: when they respond (hour of the week, their local time) and how
well each channel reaches them. The decision engine reads it for send time (core.sendtime) and channel
(core.channels).

Stored as flat counters (`how:<0..167>`, `<channel>:<signal>`) so that every signal is one atomic
increment, whatever the order or concurrency of the events that bring them. Hour of week 0 is
Monday 00:00-00:59 local time.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum

from functions.core.account import Channel
from functions.core.clock import ensure_utc, zone

HOURS_IN_WEEK = 168
ACCOUNT_TAG = "account"  # the SES email tag that names the account (see `account_tag`)
HOUR_KEY_PREFIX = "how:"


class Signal(StrEnum):
    DELIVERED = "delivered"  # the provider delivered a message
    OPENED = "opened"  # an email was opened (a pixel: a lower bound, mail privacy proxies inflate it)
    CLICKED = "clicked"  # a link in a message was followed
    REPLIED = "replied"  # an SMS reply (other than STOP / HELP)
    PORTAL_VISIT = "portal_visit"  # the debtor opened the pay page and passed the identity check
    PAID = "paid"  # a payment arrived


# Signals that show the debtor paying attention at that moment: they shape the hour-of-week histogram.
RESPONSES = frozenset({Signal.OPENED, Signal.CLICKED, Signal.REPLIED, Signal.PORTAL_VISIT, Signal.PAID})


def hour_of_week(at: datetime, timezone: str) -> int:
    local = ensure_utc(at).astimezone(zone(timezone))
    return local.weekday() * 24 + local.hour


def increments(signal: Signal, channel: Channel | None, at: datetime, timezone: str) -> dict[str, int]:
    """The counters one signal adds to (a channel's count, and the hour of week for a response)."""
    counts: dict[str, int] = {f"{channel.value if channel else 'any'}:{signal.value}": 1}
    if signal in RESPONSES:
        counts[f"{HOUR_KEY_PREFIX}{hour_of_week(at, timezone)}"] = 1
    return counts


@dataclass(frozen=True, slots=True)
class ChannelStats:
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    replied: int = 0

    @property
    def responses(self) -> int:
        return self.opened + self.clicked + self.replied

    @property
    def responsiveness(self) -> float | None:
        """Share of delivered messages that got a response (None before anything was delivered).
        An open and a click of the same message count once each: a bounded score, capped at 1."""
        if self.delivered <= 0:
            return None
        return min(1.0, max(self.clicked, self.opened, self.replied) / self.delivered)


@dataclass(frozen=True, slots=True)
class EngagementProfile:
    hours: tuple[int, ...] = (0,) * HOURS_IN_WEEK
    channels: dict[Channel, ChannelStats] = field(default_factory=dict)
    portal_visits: int = 0
    payments: int = 0

    @classmethod
    def from_counts(cls, counts: dict[str, int]) -> EngagementProfile:
        """Rebuild the profile from the stored counters (unknown keys are ignored)."""
        hours = [0] * HOURS_IN_WEEK
        per_channel: dict[Channel, dict[str, int]] = {}
        visits = paid = 0
        for key, raw in counts.items():
            value = int(raw)
            if key.startswith(HOUR_KEY_PREFIX):
                index = key[len(HOUR_KEY_PREFIX) :]
                if index.isdigit() and int(index) < HOURS_IN_WEEK:
                    hours[int(index)] += value
                continue
            name, _, signal = key.partition(":")
            if signal == Signal.PORTAL_VISIT.value:
                visits += value
                continue
            if signal == Signal.PAID.value:
                paid += value
                continue
            if name in {c.value for c in Channel} and signal in ChannelStats.__dataclass_fields__:
                per_channel.setdefault(Channel(name), {})[signal] = value
        return cls(
            hours=tuple(hours),
            channels={channel: ChannelStats(**stats) for channel, stats in per_channel.items()},
            portal_visits=visits,
            payments=paid,
        )

    def best_hours(self, top: int = 3) -> tuple[int, ...]:
        """The hours of the week with the most responses, most first (ties: the earlier hour)."""
        ranked = sorted((-count, hour) for hour, count in enumerate(self.hours) if count > 0)
        return tuple(hour for _, hour in ranked[:top])

    def responsiveness(self, channel: Channel) -> float | None:
        stats = self.channels.get(channel)
        return stats.responsiveness if stats else None

    def best_channel(self, minimum_delivered: int = 3) -> Channel | None:
        """The channel that answers best, once each candidate has enough deliveries to judge."""
        judged = [
            (stats.responsiveness or 0.0, channel.value, channel)
            for channel, stats in self.channels.items()
            if stats.delivered >= minimum_delivered
        ]
        if not judged:
            return None
        return max(judged)[2]


# The portal's "when would you like to hear from us" choices, in the debtor's local time (always clipped
# to the lender's contact window).
TIMES_OF_DAY: dict[str, tuple[time, time]] = {
    "morning": (time(8), time(12)),
    "afternoon": (time(12), time(17)),
    "evening": (time(17), time(21)),
}


def preferred_send_time(
    earliest: datetime, preferred: str | None, timezone: str, window_start: time, window_end: time
) -> tuple[datetime, str | None]:
    """The first moment at or after `earliest` inside the debtor's chosen time of day (and the window).

    An unknown choice, or one that does not overlap the window, leaves `earliest` as it is."""
    earliest = ensure_utc(earliest)
    band = TIMES_OF_DAY.get(preferred or "")
    if band is None:
        return earliest, None
    start, end = max(band[0], window_start), min(band[1], window_end)
    if start >= end:
        return earliest, None
    tz = zone(timezone)
    local = earliest.astimezone(tz)
    if start <= local.time() < end:
        return earliest, None
    day = local.date() if local.time() < start else local.date() + timedelta(days=1)
    moment = ensure_utc(datetime.combine(day, start, tzinfo=tz))
    return moment, f"send time: the debtor's {preferred}"


def account_tag(account_id: str) -> str:
    """The value of the `account` SES email tag for an account id: base64url without padding, since SES
    tag values allow only ASCII letters, digits, `_` and `-` (an account id has `#` and the lender's ref)."""
    return base64.urlsafe_b64encode(account_id.encode("utf-8")).decode("ascii").rstrip("=")


def account_from_tag(value: str) -> str | None:
    """The account id an `account` tag carries, or None for anything that is not one."""
    try:
        decoded = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return decoded if "#" in decoded else None
