"""The trend and the previous-period comparison of the finance and support pages, from the
daily rows of their trend queries (FINANCE_TREND_SQL, SUPPORT_TREND_SQL), which cover the
chosen window and the window of as many days just before it. Plain pandas, no Django: the
figures are Plotly dicts drawn by static/privacy/charts.js."""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd

# Longer windows are drawn per week: a bar per day stops being readable.
MAX_DAILY_DAYS = 92

_LAYOUT = {
    "margin": {"l": 60, "r": 60, "t": 10, "b": 40},
    "height": 300,
    "legend": {"orientation": "h", "y": -0.2},
    "hovermode": "x unified",
    "barmode": "overlay",
}
_MAIN, _PREVIOUS, _BAD = "#2e6db4", "#98a2b3", "#b42318"
_CURRENCY_COLOURS = ("#12805c", "#b54708", "#6941c6", "#0e7090", "#c11574")


@dataclass(frozen=True)
class Window:
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def previous(self) -> "Window":
        """The same number of days just before."""
        end = self.start - timedelta(days=1)
        return Window(end - timedelta(days=self.days - 1), end)

    @property
    def grain(self) -> str:
        return "day" if self.days <= MAX_DAILY_DAYS else "week"


@dataclass(frozen=True)
class Headline:
    """A number of the window beside the same number of the previous one."""

    label: str
    current: float | None
    previous: float | None
    unit: str = "count"  # count, cents or minutes: how the page writes it
    currency: str = ""

    @property
    def delta(self) -> float | None:
        if self.current is None or self.previous is None:
            return None
        return self.current - self.previous

    @property
    def delta_percent(self) -> float | None:
        if self.delta is None or not self.previous:
            return None
        return self.delta / self.previous * 100

    @property
    def current_text(self) -> str:
        return self._text(self.current)

    @property
    def previous_text(self) -> str:
        return self._text(self.previous)

    @property
    def delta_text(self) -> str:
        """ "+1,204 (+12.5%)"; the percentage only when the previous period had some."""
        if self.delta is None:
            return ""
        text = self._text(self.delta, signed=True)
        if self.delta_percent is not None:
            text += f" ({self.delta_percent:+,.1f}%)"
        return text

    def _text(self, value: float | None, signed: bool = False) -> str:
        if value is None:
            return "\N{EN DASH}"
        sign = "+" if signed else ""
        if self.unit == "cents":
            return f"{value / 100:{sign},.2f}"
        if self.unit == "minutes":
            return f"{value:{sign},.1f}"
        return f"{value:{sign},.0f}"


def _days(frame: pd.DataFrame, window: Window) -> pd.DataFrame:
    day = pd.to_datetime(frame["day"]).dt.date
    return frame[(day >= window.start) & (day <= window.end)]


def finance_headlines(frame: pd.DataFrame, window: Window) -> list[Headline]:
    """Cases, then the amount per currency (never one sum over currencies); a currency of the
    previous period only shows too, with 0 now."""
    now, before = _days(frame, window), _days(frame, window.previous)
    headlines = [Headline("Cases", int(now["cases"].sum()), int(before["cases"].sum()))]
    for currency in sorted(set(now["currency"]) | set(before["currency"])):
        headlines.append(
            Headline(
                "Amount",
                int(now.loc[now["currency"] == currency, "amount_cents"].sum()),
                int(before.loc[before["currency"] == currency, "amount_cents"].sum()),
                unit="cents",
                currency=currency,
            )
        )
    return headlines


def finance_totals(frame: pd.DataFrame, window: Window) -> list[dict[str, Any]]:
    """Cases and amount per currency over the window: the totals row of the cases."""
    now = _days(frame, window)
    grouped = now.groupby("currency")[["cases", "amount_cents"]].sum().reset_index()
    return grouped.astype(object).to_dict("records")


def support_headlines(frame: pd.DataFrame, window: Window) -> list[Headline]:
    """Tickets, SLA breaches and the average first response. Not the open tickets: recent ones
    are open because they are recent, so the current window always has more."""
    now, before = _days(frame, window), _days(frame, window.previous)

    def both(column: str) -> tuple[int, int]:
        return int(now[column].sum()), int(before[column].sum())

    return [
        Headline("Tickets", *both("tickets")),
        Headline("SLA breached", *both("breached")),
        Headline(
            "Avg first response (min)",
            _mean(now, "first_response_minutes", "first_responses"),
            _mean(before, "first_response_minutes", "first_responses"),
            unit="minutes",
        ),
    ]


def support_totals(frame: pd.DataFrame, window: Window) -> dict[str, Any]:
    """Counts over the window (the totals row of the tickets) and the average first response."""
    now = _days(frame, window)
    totals: dict[str, Any] = {
        name: int(now[name].sum()) for name in ("tickets", "answered", "breached", "open")
    }
    totals["avg_first_response_minutes"] = _mean(now, "first_response_minutes", "first_responses")
    return totals


def _mean(frame: pd.DataFrame, total: str, count: str) -> float | None:
    n = frame[count].sum()
    return float(frame[total].sum() / n) if n else None


def weighted_mean(rows: list[dict], value: str, weight: str) -> float | None:
    """The mean over every row of averages ``value`` taken over ``weight`` items each."""
    n = sum(r[weight] or 0 for r in rows)
    if not n:
        return None
    return sum((r[value] or 0) * (r[weight] or 0) for r in rows) / n


def series(frame: pd.DataFrame, window: Window, columns: list[str], by: str = "") -> pd.DataFrame:
    """``columns`` summed per day (or week, see Window.grain) of ``window``, every bucket
    present (0 where nothing happened), per value of ``by`` if given. Columns: bucket, [by],
    columns."""
    buckets = _buckets(window)
    rows = _days(frame, window).copy()
    rows["bucket"] = [_bucket(d, window) for d in pd.to_datetime(rows["day"]).dt.date]
    keys = ["bucket", by] if by else ["bucket"]
    summed = rows.groupby(keys)[columns].sum()
    if by:
        index = pd.MultiIndex.from_product([buckets, sorted(rows[by].unique())], names=keys)
    else:
        index = pd.Index(buckets, name="bucket")
    return summed.reindex(index, fill_value=0).reset_index()


def _bucket(day: date, window: Window) -> date:
    if window.grain == "day":
        return day
    return max(window.start, day - timedelta(days=day.weekday()))  # the week's Monday


def _buckets(window: Window) -> list[date]:
    days = (window.start + timedelta(days=i) for i in range(window.days))
    return sorted({_bucket(d, window) for d in days})


def _previous_trace(frame: pd.DataFrame, window: Window, column: str, name: str) -> dict:
    """The previous period's ``column`` drawn over the current buckets, shifted by the
    window's length: the same day of each period one above the other."""
    shifted = frame.assign(day=pd.to_datetime(frame["day"]) + pd.Timedelta(days=window.days))
    before = series(shifted, window, [column])
    return {
        "type": "scatter",
        "mode": "lines",
        "name": name,
        "x": [b.isoformat() for b in before["bucket"]],
        "y": before[column].tolist(),
        "line": {"color": _PREVIOUS, "dash": "dash"},
    }


def _axis_title(window: Window, what: str) -> dict:
    return {"title": {"text": f"{what} per {window.grain}"}, "rangemode": "tozero"}


def finance_figure(frame: pd.DataFrame, window: Window) -> dict[str, Any]:
    """Cases per day (bars, the previous period dashed) and the amount per currency (lines, on
    a second axis; one line per currency)."""
    now = frame[pd.to_datetime(frame["day"]).dt.date >= window.start]
    cases = series(now, window, ["cases"])
    amounts = series(now, window, ["amount_cents"], by="currency")
    previous = frame[pd.to_datetime(frame["day"]).dt.date < window.start]
    traces = [
        {
            "type": "bar",
            "name": "cases",
            "x": [b.isoformat() for b in cases["bucket"]],
            "y": cases["cases"].tolist(),
            "marker": {"color": _MAIN},
            "opacity": 0.6,
        },
        _previous_trace(previous, window, "cases", "cases, previous period"),
    ]
    for i, (currency, rows) in enumerate(amounts.groupby("currency")):
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": f"amount {currency}",
                "yaxis": "y2",
                "x": [b.isoformat() for b in rows["bucket"]],
                "y": (rows["amount_cents"] / 100).round(2).tolist(),
                "line": {"color": _CURRENCY_COLOURS[i % len(_CURRENCY_COLOURS)]},
            }
        )
    layout = _LAYOUT | {
        "yaxis": _axis_title(window, "cases"),
        "yaxis2": _axis_title(window, "amount") | {"overlaying": "y", "side": "right"},
    }
    return {"data": traces, "layout": layout}


def support_figure(frame: pd.DataFrame, window: Window) -> dict[str, Any]:
    """Tickets per day (bars, the previous period dashed) and SLA breaches (a line)."""
    now = frame[pd.to_datetime(frame["day"]).dt.date >= window.start]
    counts = series(now, window, ["tickets", "breached"])
    x = [b.isoformat() for b in counts["bucket"]]
    previous = frame[pd.to_datetime(frame["day"]).dt.date < window.start]
    traces = [
        {
            "type": "bar",
            "name": "tickets",
            "x": x,
            "y": counts["tickets"].tolist(),
            "marker": {"color": _MAIN},
            "opacity": 0.6,
        },
        _previous_trace(previous, window, "tickets", "tickets, previous period"),
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "SLA breached",
            "x": x,
            "y": counts["breached"].tolist(),
            "line": {"color": _BAD},
        },
    ]
    return {"data": traces, "layout": _LAYOUT | {"yaxis": _axis_title(window, "tickets")}}
