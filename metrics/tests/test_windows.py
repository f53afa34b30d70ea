from datetime import date

import pytest

from metrics.windows import (
    comparison_shift,
    comparison_window,
    default_window,
    effective_grain,
    previous_window,
)


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


WEEK = (date(2026, 1, 25), date(2026, 1, 31))  # Sunday to Saturday


@pytest.mark.parametrize(
    ("compare", "grain", "window", "shift"),
    [
        ("previous", "day", (date(2026, 1, 18), date(2026, 1, 24)), (7, 0)),
        ("previous", "month", (date(2026, 1, 18), date(2026, 1, 24)), (7, 0)),
        ("wow", "day", (date(2026, 1, 18), date(2026, 1, 24)), (7, 0)),
        ("wow", "month", (date(2026, 1, 18), date(2026, 1, 24)), (7, 0)),
        # 52 weeks back: the same weekdays.
        ("yoy", "day", (date(2025, 1, 26), date(2025, 2, 1)), (364, 0)),
        ("yoy", "week", (date(2025, 1, 26), date(2025, 2, 1)), (364, 0)),
        # The same dates: the same months, moved by 12 months rather than 365 days.
        ("yoy", "month", (date(2025, 1, 25), date(2025, 1, 31)), (0, 12)),
        ("yoy", "quarter", (date(2025, 1, 25), date(2025, 1, 31)), (0, 12)),
        ("none", "day", None, (0, 0)),
    ],
)
def test_comparison_windows_and_how_far_their_periods_move(compare, grain, window, shift):
    assert comparison_window(*WEEK, compare, grain) == window
    assert comparison_shift(*WEEK, compare, grain) == shift
    if window is not None and grain == "day":
        assert [d.weekday() for d in window] == [d.weekday() for d in WEEK]


def test_last_year_by_month_keeps_the_months_and_29_february_becomes_the_28th():
    assert comparison_window(date(2024, 2, 1), date(2024, 2, 29), "yoy", "month") == (
        date(2023, 2, 1),
        date(2023, 2, 28),
    )
    # 2024-03-01 is 366 days after 2023-03-01 and 2025-03-01 365 after 2024-03-01: a shift
    # in days would put one of them under the wrong month.
    assert comparison_shift(date(2024, 3, 1), date(2024, 3, 31), "yoy", "month") == (0, 12)
    assert comparison_window(date(2024, 3, 1), date(2024, 3, 31), "yoy", "day") == (
        date(2023, 3, 3),
        date(2023, 4, 2),
    )


def test_previous_period_moves_by_the_window_s_length():
    start, end = date(2026, 1, 4), date(2026, 1, 31)
    assert comparison_window(start, end, "previous", "day") == previous_window(start, end)
    assert comparison_shift(start, end, "previous", "week") == (28, 0)
