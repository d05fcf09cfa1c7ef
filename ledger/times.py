"""Time rules. The ledger never reads the clock itself: it is handed one (api/ and the CLI pass
the system clock, tests a fixed one).

Two times matter for every event: `occurred_at`, when it happened in the field (given by the
reporter), and the recording time, when the ledger appended it. Both are timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ledger.errors import InvalidInput, InvalidTime

MAX_CLOCK_SKEW = timedelta(minutes=5)


def aware_utc(value: datetime, *, field: str) -> datetime:
    """Refuse naive datetimes (a field clerk's local time is ambiguous) and convert to UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{field} must carry a time zone, e.g. 2026-03-01T09:30:00Z")
    return value.astimezone(UTC)


def not_in_future(value: datetime, *, now: datetime, field: str) -> datetime:
    moment = aware_utc(value, field=field)
    if moment > now + MAX_CLOCK_SKEW:
        raise InvalidTime(
            f"{field} {format_time(moment)} is in the future (now is {format_time(now)})"
        )
    return moment


def format_time(value: datetime) -> str:
    """The one canonical text form: RFC 3339, UTC, microseconds, 'Z' (27 characters)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def system_clock() -> datetime:
    """The wall clock, for api/ and the CLI to hand to the Ledger; the ledger never calls it."""
    return datetime.now(UTC)
