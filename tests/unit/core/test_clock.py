from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest

from functions.core.clock import (
    ClockError,
    at_local_time,
    ensure_utc,
    floor_to_slot,
    from_epoch_millis,
    iso_utc,
    local_date,
    parse_utc,
    to_epoch_millis,
)


def test_parses_event_timestamps_into_aware_utc() -> None:
    assert parse_utc("2026-03-08T14:00:00Z") == datetime(2026, 3, 8, 14, tzinfo=UTC)
    assert parse_utc("2026-03-08T09:00:00-05:00") == datetime(2026, 3, 8, 14, tzinfo=UTC)
    assert parse_utc("2019-09-03T19:37:27.192Z").microsecond == 192000


@pytest.mark.parametrize("text", ["2026-03-08T14:00:00", "yesterday", "", "2026-13-01T00:00:00Z"])
def test_refuses_naive_or_malformed_timestamps(text: str) -> None:
    with pytest.raises(ClockError):
        parse_utc(text)


def test_refuses_naive_datetimes() -> None:
    with pytest.raises(ClockError, match="naive"):
        ensure_utc(datetime(2026, 3, 8, 14))


def test_epoch_millis_round_trip() -> None:
    moment = datetime(2018, 12, 17, 21, 37, 29, 183000, tzinfo=UTC)
    assert from_epoch_millis("1545082649183") == moment
    assert to_epoch_millis(moment) == 1545082649183


def test_storage_form_is_sortable_utc_text() -> None:
    assert iso_utc(datetime(2026, 3, 8, 9, 0, 5, 999, tzinfo=timezone(timedelta(hours=-5)))) == "2026-03-08T14:00:05Z"


def test_local_date_uses_the_debtors_zone() -> None:
    late_evening_utc = datetime(2026, 3, 9, 3, 30, tzinfo=UTC)
    assert local_date(late_evening_utc, "America/Los_Angeles") == date(2026, 3, 8)
    assert local_date(late_evening_utc, "Asia/Tokyo") == date(2026, 3, 9)


def test_local_wall_time_is_dst_safe() -> None:
    # 2026-03-08 is the US spring-forward day: 09:00 in New York is EDT (UTC-4), the day before EST (UTC-5).
    assert at_local_time(date(2026, 3, 8), time(9), "America/New_York") == datetime(2026, 3, 8, 13, tzinfo=UTC)
    assert at_local_time(date(2026, 3, 7), time(9), "America/New_York") == datetime(2026, 3, 7, 14, tzinfo=UTC)
    # 02:30 does not exist that day; the zone resolves it forward to 03:30 EDT.
    assert at_local_time(date(2026, 3, 8), time(2, 30), "America/New_York") == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)


def test_unknown_zone_is_an_error() -> None:
    with pytest.raises(ClockError, match="unknown time zone"):
        local_date(datetime(2026, 1, 1, tzinfo=UTC), "Mars/Olympus_Mons")


def test_floor_to_slot() -> None:
    assert floor_to_slot(datetime(2026, 3, 8, 14, 29, 59, tzinfo=UTC)) == datetime(2026, 3, 8, 14, 15, tzinfo=UTC)
    assert floor_to_slot(datetime(2026, 3, 8, 14, 30, tzinfo=UTC)) == datetime(2026, 3, 8, 14, 30, tzinfo=UTC)
