"""Date windows of the portal's metric views: the default window and the one it is compared with.

Pure: no Django, no I/O.
"""

from datetime import date, timedelta

GRAIN_ORDER = ("day", "week", "month")
# What a window may be compared with, and the name its series and headline carry.
COMPARISONS = {
    "none": "No comparison",
    "previous": "Previous period",
    "wow": "Same period last week",
    "yoy": "Same period last year",
}
# Grains whose periods start on a weekday: last year is 52 weeks back for them.
WEEKDAY_GRAINS = ("day", "week")


def previous_window(start: date, end: date) -> tuple[date, date]:
    """The window of the same length that ends the day before ``start``."""
    days = (end - start).days + 1
    return start - timedelta(days=days), start - timedelta(days=1)


def comparison_window(start: date, end: date, compare: str, grain: str) -> tuple[date, date] | None:
    """The window ``compare`` names. Last year is 52 weeks back for days and weeks (the same
    weekdays, so a Monday is compared with a Monday) and the same dates for months and quarters
    (so a month is compared with the same month)."""
    if compare == "previous":
        return previous_window(start, end)
    if compare == "wow":
        return start - timedelta(days=7), end - timedelta(days=7)
    if compare == "yoy":
        if grain in WEEKDAY_GRAINS:
            return start - timedelta(days=364), end - timedelta(days=364)
        return _year_before(start), _year_before(end)
    return None


def comparison_shift(start: date, end: date, compare: str, grain: str) -> tuple[int, int]:
    """How far the comparison's periods move forward to lie under the window's, as (days,
    months): 12 months for last year by month or quarter (a month's first day is 365 or 366
    days later), else the days between the two windows' starts (7 for last week, 364 for last
    year by day or week, the window's length for the previous period)."""
    window = comparison_window(start, end, compare, grain)
    if window is None:
        return 0, 0
    if compare == "yoy" and grain not in WEEKDAY_GRAINS:
        return 0, 12
    return (start - window[0]).days, 0


def _year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def default_window(*, data_as_of: str | None, days: int, today: date) -> tuple[date, date]:
    """The last ``days`` days of data: ending at the newest partition of the lake, not today,
    so a lake that lags shows full days rather than empty ones."""
    end = date.fromisoformat(data_as_of) if data_as_of else today
    return end - timedelta(days=days - 1), end


def effective_grain(requested: str, offered: tuple[str, ...]) -> str:
    """``requested`` if the metric offers it, else the nearest coarser grain it offers, else its
    coarsest one (a 90-day repeat rate may make no sense by day)."""
    if requested in offered:
        return requested
    rank = GRAIN_ORDER.index(requested)
    coarser = [g for g in GRAIN_ORDER[rank:] if g in offered]
    return coarser[0] if coarser else max(offered, key=GRAIN_ORDER.index)


def matured_window(
    start: date, end: date, *, data_as_of: date, matures_after_days: int | None
) -> tuple[date, date]:
    """The window a censored metric's tile shows: ``start``..``end`` if every cohort in it has
    matured by ``data_as_of``, else the window of the same length ending at the latest matured
    cohort (``data_as_of`` minus the maturity). A recent window of a 30-day repeat rate would
    otherwise hold no value at all, and a chargeback win rate one of a few early decisions."""
    if matures_after_days is None:
        return start, end
    last_matured = data_as_of - timedelta(days=matures_after_days)
    if end <= last_matured:
        return start, end
    shift = end - last_matured
    return start - shift, last_matured


def maturity_note(start: date, end: date, *, matures_after_days: int) -> str:
    """What a tile says when it shows ``matured_window`` instead of the window asked for."""
    return (
        f"Cohorts {start.isoformat()} to {end.isoformat()}, the latest matured: "
        f"newer cohorts mature after {matures_after_days} days."
    )
