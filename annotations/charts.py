"""Annotations on Plotly figures built in Python (plain dicts: the pipeline's health charts, an
experiment's lift over time, any other time series): a dotted vertical line per annotation and
a marker at its top whose hover says what happened, when, and who or what it was about.

static/annotations/annotations.js draws the same markers on charts built in the browser (the
dashboard tiles and metric pages); the two keep the same colours and hover text.
"""

import textwrap
from collections.abc import Sequence
from datetime import date, datetime
from html import escape
from typing import Any

from django.utils import timezone

from annotations.selectors import Annotation, annotations_in

COLOURS = {
    "experiment_launch": "#12805c",
    "experiment_kill": "#b42318",
    "experiment_conclusion": "#7a5af8",
    "alarm_raised": "#f79009",
    "alarm_resolved": "#98a2b3",
    "note": "#2f5bea",
}
# The markers' own y axis over the chart's, from 0 to 1: they sit at the top whatever the
# chart's scale (log lag, stacked bars).
AXIS = "y9"
TEXT_WIDTH = 60
TEXT_LINES = 4


def hover_text(annotation: Annotation) -> str:
    when = timezone.localtime(annotation.at).strftime("%d %b %Y %H:%M")
    lines = [f"<b>{escape(annotation.label)}</b> · {when}", escape(annotation.title)]
    wrapped = textwrap.wrap(annotation.text, TEXT_WIDTH)
    if len(wrapped) > TEXT_LINES:
        wrapped = [*wrapped[: TEXT_LINES - 1], wrapped[TEXT_LINES - 1] + " …"]
    return "<br>".join(lines + [escape(line) for line in wrapped])


def markers(items: Sequence[Annotation]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(shapes, trace) of ``items``: lines under the data, markers with hover text on AXIS."""
    xs = [timezone.localtime(a.at).strftime("%Y-%m-%d %H:%M:%S") for a in items]
    colours = [COLOURS[a.kind] for a in items]
    shapes = [
        {
            "type": "line",
            "xref": "x",
            "yref": "paper",
            "x0": x,
            "x1": x,
            "y0": 0,
            "y1": 1,
            "layer": "below",
            "line": {"color": colour, "width": 1, "dash": "dot"},
        }
        for x, colour in zip(xs, colours, strict=True)
    ]
    trace = {
        "type": "scatter",
        "mode": "markers",
        "name": "annotations",
        "x": xs,
        "y": [1] * len(items),
        "yaxis": AXIS,
        "marker": {"symbol": "triangle-down", "size": 10, "color": colours},
        "text": [hover_text(a) for a in items],
        "hovertemplate": "%{text}<extra></extra>",
        "showlegend": False,
        "cliponaxis": False,
    }
    return shapes, trace


def annotated(figure: dict[str, Any], items: Sequence[Annotation]) -> dict[str, Any]:
    """A copy of ``figure`` with ``items`` marked (the figure itself, unchanged, if none)."""
    if not items:
        return figure
    shapes, trace = markers(items)
    layout = figure.get("layout", {})
    overlay = {"overlaying": "y", "range": [0, 1], "visible": False, "fixedrange": True}
    return figure | {
        "data": [*figure.get("data", []), trace],
        "layout": layout
        | {"shapes": [*layout.get("shapes", []), *shapes], f"yaxis{AXIS[1:]}": overlay},
    }


def with_annotations(
    figure: dict[str, Any],
    *,
    user,
    start: date | datetime | None = None,
    end: date | datetime | None = None,
) -> dict[str, Any]:
    """``figure`` with what ``user`` may see between start and end (default: the first and
    last x of its traces, ISO dates or times). Notes: those on every chart."""
    if start is None or end is None:
        window = figure_window(figure)
        if window is None:
            return figure
        start, end = window
    return annotated(figure, annotations_in(start=start, end=end, user=user))


def figure_window(figure: dict[str, Any]) -> tuple[date | datetime, date | datetime] | None:
    """The first and last x of the figure's traces (a date x counts its whole day)."""
    xs = [_when(x) for trace in figure.get("data", []) for x in trace.get("x", [])]
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return min(xs, key=_sort_key), max(xs, key=_sort_key)


def _when(x: Any) -> date | datetime | None:
    if isinstance(x, date):
        return timezone.make_aware(x) if isinstance(x, datetime) and timezone.is_naive(x) else x
    try:
        parsed = datetime.fromisoformat(str(x))
    except ValueError:
        return None
    if len(str(x)) == 10:
        return parsed.date()
    return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed


def _sort_key(x: date | datetime) -> datetime:
    if isinstance(x, datetime):
        return x
    return timezone.make_aware(datetime.combine(x, datetime.min.time()))
