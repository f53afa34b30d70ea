"""Plotly figures (plain dicts, drawn by static/pipeline/charts.js) of the health overview,
from the rows of pipeline.selectors' series (anything with the points' fields)."""

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

_LAYOUT = {
    "margin": {"l": 60, "r": 20, "t": 10, "b": 40},
    "height": 300,
    "legend": {"orientation": "h", "y": -0.2},
    "hovermode": "x unified",
}
_BAD, _MUTED = "#b42318", "#667085"
# Ticks of the log-scale lag axis, in minutes: plain durations rather than Plotly's 2-5-10.
_LAG_TICKS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 240, 480)
_LAG_LABELS = (
    "6 s",
    "30 s",
    "1 min",
    "2 min",
    "5 min",
    "10 min",
    "30 min",
    "1 h",
    "2 h",
    "4 h",
    "8 h",
)


def _budget_line(y: float) -> dict[str, Any]:
    return {
        "type": "line",
        "xref": "paper",
        "x0": 0,
        "x1": 1,
        "y0": y,
        "y1": y,
        "line": {"color": _BAD, "width": 1, "dash": "dash"},
    }


def _expected(point) -> str:
    if point.low is None:
        return ""
    return (
        f" (usual {point.baseline:,.0f}, expected {point.low:,.0f} to {point.high:,.0f}, "
        f"score {point.score:+.1f})"
    )


def _when(point) -> str:
    return point.start.isoformat()


def loss(points: Iterable, min_ratio: float) -> dict[str, Any]:
    """Delivered share per hour and per day, with the budget; breaches in red."""
    traces = []
    for grain, mode in (("hour", "lines"), ("day", "lines+markers")):
        rows = [p for p in points if p.grain == grain and p.ratio is not None]
        traces.append(
            {
                "type": "scatter",
                "mode": mode,
                "name": f"per {grain}",
                "x": [_when(p) for p in rows],
                "y": [p.ratio * 100 for p in rows],
                "line": {"shape": "hv" if grain == "day" else "linear"},
                "marker": {"color": [_BAD if p.breach else _MUTED for p in rows]},
                "customdata": [
                    f"{p.delivered:,} of {p.expected:,}"
                    + ("" if p.settled else " (provisional)")
                    + ("" if p.judged else " (too few to judge)")
                    for p in rows
                ],
                "hovertemplate": "%{y:.2f}%: %{customdata}<extra>" + grain + "</extra>",
            }
        )
    return {
        "data": traces,
        "layout": _LAYOUT
        | {
            "yaxis": {"title": {"text": "delivered to silver (%)"}, "ticksuffix": "%"},
            "shapes": [_budget_line(min_ratio * 100)],
        },
    }


def lag(points: Iterable, stage: str, budget_s: float) -> dict[str, Any]:
    """Hourly p50, p95 and max of one stage's lag in minutes (log scale), with the budget, and
    the daily p95."""
    points = [p for p in points if p.stage == stage and p.events]
    rows = [p for p in points if p.grain == "hour"]
    days = [p for p in points if p.grain == "day"]
    x = [_when(p) for p in rows]
    traces = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": name,
            "x": x,
            "y": [getattr(p, field) / 60 for p in rows],
            "line": {"width": width},
            "hovertemplate": "%{y:.1f} min<extra>" + name + "</extra>",
        }
        for name, field, width in (("p50", "p50_s", 1), ("p95", "p95_s", 2), ("max", "max_s", 1))
    ]
    traces.append(
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "p95 per day",
            "x": [_when(p) for p in days],
            "y": [p.p95_s / 60 for p in days],
            "line": {"shape": "hv", "width": 2, "dash": "dot"},
            "hovertemplate": "%{y:.1f} min<extra>day p95</extra>",
        }
    )
    breaches = [p for p in points if p.breach]
    traces.append(
        {
            "type": "scatter",
            "mode": "markers",
            "name": "p95 over budget",
            "x": [_when(p) for p in breaches],
            "y": [p.p95_s / 60 for p in breaches],
            "marker": {"color": _BAD, "size": 8},
            "hovertemplate": "%{y:.1f} min<extra>over budget</extra>",
        }
    )
    return {
        "data": traces,
        "layout": _LAYOUT
        | {
            "yaxis": {
                "title": {"text": "lag"},
                "type": "log",
                "tickvals": _LAG_TICKS,
                "ticktext": _LAG_LABELS,
            },
            "shapes": [_budget_line(budget_s / 60)],
        },
    }


def volume(points: Iterable) -> dict[str, Any]:
    """Events per day by event type (stacked), anomalies marked; the hover says what was
    expected (docs/anomalies.md)."""
    by_name: dict[str, list] = defaultdict(list)
    for p in points:
        by_name[p.event_name].append(p)
    traces = [
        {
            "type": "bar",
            "name": name,
            "x": [_when(p) for p in rows],
            "y": [p.events for p in rows],
            "customdata": [_expected(p) for p in rows],
            "marker": {"line": {"color": _BAD, "width": [2 if p.anomaly else 0 for p in rows]}},
            "hovertemplate": "%{y:,} events%{customdata}<extra>" + name + "</extra>",
        }
        for name, rows in sorted(by_name.items())
    ]
    return {
        "data": traces,
        "layout": _LAYOUT | {"barmode": "stack", "height": 360, "hovermode": "closest"},
    }
