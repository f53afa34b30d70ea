"""The parameters of a metric query: checked, typed, and bound as the SQL contract says.

Pure: no Django. Every placeholder of a metric's query is always bound: :start, :end, :grain,
and for a metric with dimensions :split_by and one parameter per dimension (its filter).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date

from core.errors import InputError
from metrics.definitions import ANY_VALUE, NO_SPLIT, SPLIT_PARAM, Metric
from metrics.windows import matured_window

MAX_FILTER_LENGTH = 200


@dataclass(frozen=True)
class MetricParams:
    start: date
    end: date
    grain: str
    split_by: str | None = None
    filters: Mapping[str, str] = field(default_factory=dict)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def bind(self, metric: Metric) -> dict[str, object]:
        """The values for the query's placeholders: exactly one per placeholder."""
        values: dict[str, object] = {"start": self.start, "end": self.end, "grain": self.grain}
        if metric.dimensions:
            values[SPLIT_PARAM] = self.split_by or NO_SPLIT
            for name in metric.dimensions:
                values[name] = self.filters.get(name, ANY_VALUE)
        return values


def metric_params(
    metric: Metric,
    *,
    start: date,
    end: date,
    grain: str,
    split_by: str | None = None,
    filters: Mapping[str, str] | None = None,
    max_window_days: int,
) -> MetricParams:
    if end < start:
        raise InputError("end", "must not be before start")
    days = (end - start).days + 1
    if days > max_window_days:
        raise InputError(
            "end", f"the window is {days} days; at most {max_window_days} days are allowed"
        )
    if grain not in metric.grains:
        raise InputError("grain", f"must be one of {', '.join(metric.grains)}")
    if split_by is not None and split_by not in metric.dimensions:
        raise InputError("split_by", _not_a_dimension(metric, split_by))
    clean: dict[str, str] = {}
    for name, value in (filters or {}).items():
        if name not in metric.dimensions:
            raise InputError(name, _not_a_dimension(metric, name))
        if not isinstance(value, str) or not value or value == ANY_VALUE:
            raise InputError(name, "must be a non-empty value")
        if len(value) > MAX_FILTER_LENGTH:
            raise InputError(name, f"must be at most {MAX_FILTER_LENGTH} characters")
        clean[name] = value
    return MetricParams(start=start, end=end, grain=grain, split_by=split_by, filters=clean)


def matured_params(metric: Metric, params: MetricParams, data_as_of: str | None) -> MetricParams:
    """The params a tile or headline of ``metric`` reads: ``params`` shifted back to the latest
    window whose cohorts have all matured by ``data_as_of`` (the newest partition), for a metric
    that declares ``matures_after_days``; unchanged otherwise. Pages and warming both call this,
    so the warmed query is the one the tile asks for."""
    if metric.matures_after_days is None or data_as_of is None:
        return params
    start, end = matured_window(
        params.start,
        params.end,
        data_as_of=date.fromisoformat(data_as_of),
        matures_after_days=metric.matures_after_days,
    )
    return replace(params, start=start, end=end)


def params_from_query(
    metric: Metric, query: Mapping[str, str], *, max_window_days: int
) -> MetricParams:
    """Parameters from request strings: start and end (YYYY-MM-DD, required), grain (default:
    day if offered, else the metric's first grain), split_by (a dimension; empty or "none": not
    split) and one optional filter per dimension, under the dimension's name (empty: all)."""
    start = _date(query, "start")
    end = _date(query, "end")
    grain = query.get("grain") or ("day" if "day" in metric.grains else metric.grains[0])
    split_by = query.get(SPLIT_PARAM) or None
    if split_by == NO_SPLIT:
        split_by = None
    filters = {name: query[name] for name in metric.dimensions if query.get(name)}
    return metric_params(
        metric,
        start=start,
        end=end,
        grain=grain,
        split_by=split_by,
        filters=filters,
        max_window_days=max_window_days,
    )


def _date(query: Mapping[str, str], name: str) -> date:
    raw = query.get(name)
    if not raw:
        raise InputError(name, "is required (YYYY-MM-DD)")
    try:
        return date.fromisoformat(raw)
    except (TypeError, ValueError):
        raise InputError(name, f"{raw!r} is not a date (YYYY-MM-DD)") from None


def _not_a_dimension(metric: Metric, name: str) -> str:
    offered = ", ".join(metric.dimensions) or "none"
    return f"{name!r} is not a dimension of {metric.slug} (dimensions: {offered})"
