from datetime import date

import pytest

from metrics.windows import default_window, effective_grain, previous_window


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (date(2026, 1, 18), date(2026, 1, 31), (date(2026, 1, 4), date(2026, 1, 17))),
        (date(2026, 3, 1), date(2026, 3, 1), (date(2026, 2, 28), date(2026, 2, 28))),
        (date(2024, 3, 1), date(2024, 3, 31), (date(2024, 1, 30), date(2024, 2, 29))),
    ],
)
def test_previous_window_has_the_same_length_and_ends_the_day_before(start, end, expected):
    assert previous_window(start, end) == expected
    before_start, before_end = expected
    assert (before_end - before_start) == (end - start)


def test_default_window_ends_at_the_newest_data_not_today():
    today = date(2026, 11, 25)
    assert default_window(data_as_of="2026-01-31", days=28, today=today) == (
        date(2026, 1, 4),
        date(2026, 1, 31),
    )
    assert default_window(data_as_of=None, days=7, today=today) == (
        date(2026, 11, 19),
        today,
    )


@pytest.mark.parametrize(
    ("requested", "offered", "expected"),
    [
        ("day", ("day", "week", "month"), "day"),
        ("day", ("week", "month"), "week"),
        ("week", ("day", "month"), "month"),
        ("month", ("day", "week"), "week"),
    ],
)
def test_effective_grain(requested, offered, expected):
    assert effective_grain(requested, offered) == expected
