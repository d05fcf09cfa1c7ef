"""Time rules. The ledger never reads the clock itself: it is handed one (api/ and the CLI pass
the system clock, tests a fixed one).

Two times matter for every event: `occurred_at`, when it happened in the field (given by the
reporter), and the recording time, when the ledger appended it. Both are timezone-aware UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from ledger.domain.errors import InvalidInput, InvalidTime

MAX_CLOCK_SKEW = timedelta(minutes=5)
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


MIN_YEAR, MAX_YEAR = 1800, 9999
"""Every time the ledger takes is within these years once in UTC: four digits in the canonical
text (so the texts sort as the times do), and never next to datetime's own limits, where
converting an offset or adding a day overflows."""


def aware_utc(value: datetime, *, field: str) -> datetime:
    """Refuse naive datetimes (a field clerk's local time is ambiguous) and times outside the
    years MIN_YEAR to MAX_YEAR in UTC; convert to UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{field} must carry a time zone, e.g. 2026-03-01T09:30:00Z")
    try:
        moment = value.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 moved across midnight by its offset
        moment = None
    if moment is None or not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise InvalidTime(
            f"{field} must be between the years {MIN_YEAR} and {MAX_YEAR} in UTC, got "
            f"{value.isoformat()}"
        )
    return moment


def not_in_future(value: datetime, *, now: datetime, field: str) -> datetime:
    moment = aware_utc(value, field=field)
    if moment > now + MAX_CLOCK_SKEW:
        raise InvalidTime(
            f"{field} {format_time(moment)} is in the future (now is {format_time(now)})"
        )
    return moment


def format_time(value: datetime) -> str:
    """The one canonical text form: RFC 3339, UTC, microseconds, 'Z' (27 characters, a four-digit
    year whatever the platform's strftime does with years before 1000)."""
    t = value.astimezone(UTC)
    return (
        f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
        f".{t.microsecond:06d}Z"
    )


def end_of_day(day: date, *, field: str) -> datetime:
    """The last instant of `day` in UTC: what a date asked about means (the dashboard's and the
    CLI's `as_of`)."""
    return aware_utc(datetime.combine(day, time.max, tzinfo=UTC), field=field)


def parse_moment(text: str, *, field: str) -> datetime:
    """A date written YYYY-MM-DD (the end of that day in UTC), or RFC 3339 with a time zone."""
    text = text.strip()
    try:
        if DATE.fullmatch(text):
            return end_of_day(date.fromisoformat(text), field=field)
        moment = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise InvalidTime(
            f"{field} must be a date (2026-06-30, the end of that day in UTC) or RFC 3339 with a"
            f" time zone (2026-06-30T12:00:00Z), got {text!r}"
        ) from None
    return aware_utc(moment, field=field)


def system_clock() -> datetime:
    """The wall clock, for api/ and the CLI to hand to the Ledger; the ledger never calls it."""
    return datetime.now(UTC)
