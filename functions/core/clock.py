"""Time comes from the event.

The domain never reads the system clock: "now" is the EventBridge event's `time`, the HTTP API's
`requestContext.timeEpoch`, the SQS job's `scheduled_for`, the Stripe event's `created`. These
helpers turn those into timezone-aware UTC datetimes and back.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ClockError(ValueError):
    """A timestamp that is naive, malformed or in an unknown zone."""


def ensure_utc(moment: datetime) -> datetime:
    """Return the same instant in UTC; a naive datetime is refused, never guessed."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ClockError(f"naive datetime {moment.isoformat()} has no time zone")
    return moment.astimezone(UTC)


def parse_utc(text: str) -> datetime:
    """Parse an ISO 8601 timestamp with an offset ("2026-03-08T14:00:00Z") into aware UTC."""
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except (AttributeError, ValueError) as exc:
        raise ClockError(f"{text!r} is not an ISO 8601 timestamp") from exc
    return ensure_utc(parsed)


def from_epoch_millis(millis: int | str) -> datetime:
    """SQS `SentTimestamp` and HTTP API `timeEpoch` are epoch milliseconds."""
    return datetime.fromtimestamp(int(millis) / 1000, tz=UTC)


def to_epoch_millis(moment: datetime) -> int:
    return int(ensure_utc(moment).timestamp() * 1000)


def iso_utc(moment: datetime) -> str:
    """Storage form: ISO 8601 UTC with a `Z`, second precision, sortable as text."""
    return ensure_utc(moment).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def zone(name: str) -> ZoneInfo:
    """An IANA time zone; unknown names are an error."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ClockError(f"unknown time zone {name!r}") from exc


def local_date(moment: datetime, tz_name: str) -> date:
    """The calendar date at `moment` in the debtor's zone (decisions use local dates)."""
    return ensure_utc(moment).astimezone(zone(tz_name)).date()


def at_local_time(day: date, clock_time: time, tz_name: str) -> datetime:
    """The UTC instant of a local wall-clock time on a local day (DST-safe: the zone resolves it)."""
    local = datetime.combine(day, clock_time, tzinfo=zone(tz_name))
    # A wall time skipped by a DST jump does not exist; round-tripping through UTC moves it forward.
    return local.astimezone(UTC)


def floor_to_slot(moment: datetime, minutes: int = 15) -> datetime:
    """The start of the scheduling slot that contains `moment` (slots of `minutes` from midnight UTC)."""
    moment = ensure_utc(moment)
    into_day = timedelta(
        hours=moment.hour, minutes=moment.minute, seconds=moment.second, microseconds=moment.microsecond
    )
    slot = timedelta(minutes=minutes)
    return moment - into_day + (into_day // slot) * slot
