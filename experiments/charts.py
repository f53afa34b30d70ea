"""Plotly figures (plain dicts, drawn by static/experiments/charts.js) of a results page."""

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from scipy import stats as sps

from experiments.models import ResultSnapshot

_LAYOUT = {"margin": {"l": 60, "r": 20, "t": 30, "b": 50}, "height": 320}
POSTERIOR_POINTS = 200


def forest(snapshots: Iterable[ResultSnapshot], titles: Mapping[str, str]) -> dict[str, Any]:
    """Relative lift of every variant on every metric with its interval, one row each."""
    rows = [s for s in snapshots if not s.error and s.lift_rel is not None]
    labels = [f"{titles.get(s.metric, s.metric)} · {s.variant}" for s in rows]
    colour = [
        "#b42318" if s.guardrail_breached or s.ci_rel_high < 0 else
        "#12805c" if s.ci_rel_low > 0 else "#667085"
        for s in rows
    ]  # fmt: skip
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
        "hovertemplate": "%{y}: %{x:+.2f}%<extra></extra>",
    }
    return {
        "data": [trace],
        "layout": _LAYOUT
        | {
            "height": max(200, 60 + 40 * len(rows)),
            "xaxis": {"title": {"text": "lift vs control (%)"}, "zeroline": True},
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


def posterior(totals: Mapping[str, Mapping[str, float]]) -> dict[str, Any]:
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


def exposures(series: Mapping[str, Mapping[str, list]]) -> dict[str, Any]:
    """Cumulative exposed units of each variant, by day of first exposure."""
    data = [
        {"type": "scatter", "mode": "lines+markers", "name": name, "x": s["days"],
         "y": s["cumulative"]}
        for name, s in series.items()
    ]  # fmt: skip
    return {
        "data": data,
        "layout": _LAYOUT | {"yaxis": {"title": {"text": "units exposed (cumulative)"}}},
    }
