"""Plotly figures (plain dicts, drawn by static/experiments/charts.js) of a results page."""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats as sps

from experiments.models import ResultSnapshot

_LAYOUT = {"margin": {"l": 60, "r": 20, "t": 30, "b": 50}, "height": 320}
POSTERIOR_POINTS = 200
# One colour per variant, by its place in the experiment (control first), on every chart.
VARIANT_PALETTE = ("#475467", "#2e6bd3", "#c4320a", "#7a5af8", "#0e9384", "#b54708")
# The forest plot colours what the printed interval shows, in the metric's direction.
OUTCOME_COLOURS = {
    "better": "#12805c",
    "worse": "#b42318",
    "inconclusive": "#667085",
    "too_few_units": "#98a2b3",
}


def variant_colours(names: Iterable[str]) -> dict[str, str]:
    return {name: VARIANT_PALETTE[i % len(VARIANT_PALETTE)] for i, name in enumerate(names)}


def forest(snapshots: Iterable[ResultSnapshot], titles: Mapping[str, str]) -> dict[str, Any]:
    """Relative lift of every variant on every metric with its interval, one row each, coloured
    by the outcome that interval shows (a control of 0 has no relative lift to draw)."""
    rows = [s for s in snapshots if not s.error and s.ci_rel_low is not None]
    labels = [f"{titles.get(s.metric, s.metric)} · {s.variant}" for s in rows]
    colour = [OUTCOME_COLOURS.get(s.outcome, OUTCOME_COLOURS["inconclusive"]) for s in rows]
    trace = {
        "type": "scatter",
        "mode": "markers",
        "x": [s.lift_rel * 100 for s in rows],
        "y": labels,
        "marker": {"size": 10, "color": colour},
        "error_x": {
            "type": "data",
            "symmetric": False,
            "array": [(s.ci_rel_high - s.lift_rel) * 100 for s in rows],
            "arrayminus": [(s.lift_rel - s.ci_rel_low) * 100 for s in rows],
        },
        "customdata": [[s.ci_rel_low * 100, s.ci_rel_high * 100] for s in rows],
        "hovertemplate": (
            "%{y}: %{x:+.2f}% (interval %{customdata[0]:+.1f}% to %{customdata[1]:+.1f}%)"
            "<extra></extra>"
        ),
    }
    return {
        "data": [trace],
        "layout": _LAYOUT
        | {
            "height": max(200, 60 + 40 * len(rows)),
            "xaxis": {
                "title": {"text": "lift vs control (%)"},
                "zeroline": True,
                "range": lift_range(
                    [s.lift_rel for s in rows],
                    [s.ci_rel_low for s in rows],
                    [s.ci_rel_high for s in rows],
                ),
            },
            "yaxis": {"autorange": "reversed", "automargin": True},
            "shapes": [
                {
                    "type": "line",
                    "x0": 0,
                    "x1": 0,
                    "y0": 0,
                    "y1": 1,
                    "yref": "paper",
                    "line": {"color": "#1d2330", "width": 1},
                }
            ],
        },
    }


def lift_range(
    lifts: Sequence[float], lows: Sequence[float], highs: Sequence[float]
) -> list[float] | None:
    """A relative-lift axis (%): every interval, but not below -100% (no lift of a metric that
    cannot be negative goes there) nor beyond three times the largest lift (at least 100%), so
    one huge interval of a small sample does not flatten the rest. Clipped intervals run off
    the plot; the hover gives them whole."""
    if not lifts:
        return None
    low = max(min(lows) * 100, -100.0)
    largest = max(abs(lift) for lift in lifts) * 100
    high = max(min(max(highs) * 100, max(100.0, 3 * largest)), low + 1)
    pad = (high - low) * 0.05
    return [low - pad, high + pad]


def posterior(
    totals: Mapping[str, Mapping[str, float]], colours: Mapping[str, str]
) -> dict[str, Any]:
    """Beta(1 + conversions, 1 + non-conversions) densities of each variant's conversion rate
    (the uniform prior of the results), over the range that holds nearly all their mass."""
    shapes = {
        name: (1 + t["conversions"], 1 + t["units"] - t["conversions"])
        for name, t in totals.items()
    }
    low = min(sps.beta.ppf(1e-4, a, b) for a, b in shapes.values())
    high = max(sps.beta.ppf(1 - 1e-4, a, b) for a, b in shapes.values())
    x = np.linspace(low, high, POSTERIOR_POINTS)
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": name,
            "x": (x * 100).round(4).tolist(),
            "y": sps.beta.pdf(x, a, b).round(6).tolist(),
            "fill": "tozeroy",
            "line": {"color": colours.get(name)},
        }
        for name, (a, b) in shapes.items()
    ]
    return {
        "data": data,
        "layout": _LAYOUT
        | {
            "xaxis": {"title": {"text": "conversion rate (%)"}},
            "yaxis": {"title": {"text": "posterior density"}},
        },
    }


def exposures(
    series: Mapping[str, Mapping[str, list]], colours: Mapping[str, str]
) -> dict[str, Any]:
    """Cumulative exposed units of each variant, by day of first exposure."""
    data = [
        {"type": "scatter", "mode": "lines+markers", "name": name, "x": s["days"],
         "y": s["cumulative"], "line": {"color": colours.get(name)}}
        for name, s in series.items()
    ]  # fmt: skip
    return {
        "data": data,
        "layout": _LAYOUT | {"yaxis": {"title": {"text": "units exposed (cumulative)"}}},
    }


def lift_over_time(
    series: Mapping[str, Mapping[str, list]], colours: Mapping[str, str], interval: str
) -> dict[str, Any]:
    """Per treatment, the cumulative relative lift by day of first exposure inside its band
    (`interval` names it: always-valid, or valid only at the end)."""
    data: list[dict[str, Any]] = []
    for name, s in series.items():
        colour = colours.get(name)
        days = list(s["days"])
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": days + days[::-1],
                "y": [v * 100 for v in s["high"]] + [v * 100 for v in s["low"][::-1]],
                "fill": "toself",
                "fillcolor": colour,
                "opacity": 0.18,
                "line": {"width": 0},
                "hoverinfo": "skip",
                "showlegend": False,
                "name": f"{name} {interval}",
            }
        )
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": name,
                "x": days,
                "y": [v * 100 for v in s["lift_rel"]],
                "line": {"color": colour},
                "hovertemplate": f"{name} %{{x}}: %{{y:+.2f}}%<extra></extra>",
            }
        )
    return {
        "data": data,
        "layout": _LAYOUT
        | {
            "yaxis": {
                "title": {"text": f"lift vs control (%), {interval}"},
                "zeroline": True,
                "range": lift_range(
                    [v for s in series.values() for v in s["lift_rel"]],
                    [v for s in series.values() for v in s["low"]],
                    [v for s in series.values() for v in s["high"]],
                ),
            },
            "xaxis": {"title": {"text": "units first exposed up to"}},
        },
    }
