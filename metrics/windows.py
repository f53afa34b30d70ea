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
