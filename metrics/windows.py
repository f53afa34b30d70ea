"""Date windows of the portal's metric views: the default window and the one it is compared with.

Pure: no Django, no I/O.
"""

from datetime import date, timedelta

GRAIN_ORDER = ("day", "week", "month")


def previous_window(start: date, end: date) -> tuple[date, date]:
    """The window of the same length that ends the day before ``start``."""
    days = (end - start).days + 1
    return start - timedelta(days=days), start - timedelta(days=1)


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
