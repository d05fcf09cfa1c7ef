"""The one place times are bounded and written (ledger/domain/times.py), issue 16."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ledger.domain.errors import InvalidTime
from ledger.domain.times import aware_utc, format_time

PLUS_1, MINUS_1 = timezone(timedelta(hours=1)), timezone(timedelta(hours=-1))


@pytest.mark.parametrize(
    ("moment", "shown"),
    [
        (datetime(1, 1, 1, tzinfo=PLUS_1), "0001-01-01T00:00:00+01:00"),  # overflows to UTC
        (datetime(9999, 12, 31, 23, 59, 59, tzinfo=MINUS_1), "9999-12-31T23:59:59-01:00"),
        (datetime(999, 1, 1, tzinfo=UTC), "0999-01-01T00:00:00+00:00"),
        (datetime(1799, 12, 31, 23, 59, 59, tzinfo=UTC), "1799-12-31T23:59:59+00:00"),
        (datetime(1800, 1, 1, 0, 30, tzinfo=PLUS_1), "1800-01-01T00:30:00+01:00"),  # 1799 in UTC
    ],
)
def test_a_time_outside_the_years_1800_to_9999_in_utc_is_refused_never_an_overflow(
    moment: datetime, shown: str
) -> None:
    with pytest.raises(
        InvalidTime, match="occurred_at must be between the years 1800 and 9999 in UTC"
    ) as refused:
        aware_utc(moment, field="occurred_at")

    assert refused.value.message == (
        f"occurred_at must be between the years 1800 and 9999 in UTC, got {shown}"
    )


def test_the_bounds_themselves_are_accepted_and_converted_to_utc() -> None:
    first = aware_utc(datetime(1800, 1, 1, 1, 0, tzinfo=PLUS_1), field="at")
    last = aware_utc(datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), field="at")

    assert first == datetime(1800, 1, 1, tzinfo=UTC)
    assert last.year == 9999


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(1800, 1, 1, tzinfo=UTC), "1800-01-01T00:00:00.000000Z"),
        (datetime(999, 3, 4, 5, 6, 7, 8, tzinfo=UTC), "0999-03-04T05:06:07.000008Z"),
        (datetime(2026, 3, 1, 10, 30, tzinfo=PLUS_1), "2026-03-01T09:30:00.000000Z"),
    ],
)
def test_the_canonical_text_has_a_four_digit_year_and_27_characters(
    moment: datetime, text: str
) -> None:
    assert format_time(moment) == text
    assert len(text) == 27
