"""Engagement: hour-of-week histogram in the debtor's local time, channel responsiveness."""

from datetime import UTC, datetime

from functions.core.account import Channel
from functions.core.engagement import (
    EngagementProfile,
    Signal,
    account_from_tag,
    account_tag,
    hour_of_week,
    increments,
)


def test_hour_of_week_is_local_time_monday_zero() -> None:
    # Monday 2026-03-09 14:30 UTC is 09:30 in Chicago (CDT, UTC-5).
    assert hour_of_week(datetime(2026, 3, 9, 14, 30, tzinfo=UTC), "America/Chicago") == 9
    # Sunday 23:10 local.
    assert hour_of_week(datetime(2026, 3, 16, 4, 10, tzinfo=UTC), "America/Chicago") == 6 * 24 + 23


def test_profile_from_signals() -> None:
    counts: dict[str, int] = {}
    at = datetime(2026, 3, 9, 14, 30, tzinfo=UTC)

    def add(signal: Signal, channel: Channel | None, moment: datetime = at) -> None:
        for key, value in increments(signal, channel, moment, "America/Chicago").items():
            counts[key] = counts.get(key, 0) + value

    for _ in range(4):
        add(Signal.DELIVERED, Channel.EMAIL)
    add(Signal.OPENED, Channel.EMAIL)
    add(Signal.CLICKED, Channel.EMAIL)
    add(Signal.OPENED, Channel.EMAIL, datetime(2026, 3, 10, 1, 0, tzinfo=UTC))
    for _ in range(3):
        add(Signal.DELIVERED, Channel.SMS)
    add(Signal.PAID, None)
    profile = EngagementProfile.from_counts(counts)
    assert profile.best_hours(2) == (9, 20)  # 09:xx Monday (3 responses), then Monday 20:00 local
    assert profile.responsiveness(Channel.EMAIL) == 0.5
    assert profile.responsiveness(Channel.SMS) == 0.0
    assert profile.best_channel() is Channel.EMAIL
    assert profile.payments == 1
    assert "email:delivered" in counts and "how:9" in counts
    assert not any(key.startswith("how:") for key in increments(Signal.DELIVERED, Channel.EMAIL, at, "UTC"))


def test_the_account_tag_round_trips_within_ses_tag_characters() -> None:
    for account_id in ("acme#A-1001", "lender-x#Ref/with spaces & ünïcode#2"):
        tag = account_tag(account_id)
        assert all(c.isascii() and (c.isalnum() or c in "_-") for c in tag)
        assert account_from_tag(tag) == account_id
    assert account_from_tag("not base64 !") is None
    assert account_from_tag(account_tag("no-hash")) is None
