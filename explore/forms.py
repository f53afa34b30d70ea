"""The explore view's state: every control of the page, read from and written to its URL.

A refusal is core.errors.InputError naming the GET parameter (the page answers 400 with it,
the API 400 {"<parameter>": ["<problem>"]}).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlencode

from core.errors import InputError
from explore.frames import GRAINS, SQL_GRAIN, Kind
from metrics.catalogue import Metric
from metrics.params import MetricParams, metric_params
from metrics.windows import COMPARISONS, comparison_window, default_window

DEFAULT_DAYS = 28
DEFAULT_TOP = 5
MAX_TOP = 20
NO_SPLIT = ("", "none")


@dataclass(frozen=True)
class ExploreState:
    metric: Metric
    start: date
    end: date
    grain: str  # one of frames.GRAINS
    split_by: str | None
    top: int
    compare: str  # one of frames.COMPARISONS
    filters: Mapping[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> Kind:
        return Kind(is_ratio=self.metric.is_ratio, unit=self.metric.unit)

    @property
    def compare_window(self) -> tuple[date, date] | None:
        return comparison_window(self.start, self.end, self.compare, self.grain)

    def params(self, max_window_days: int) -> list[MetricParams]:
        """The metric's query parameters: the window's, then the comparison window's."""
        windows = [(self.start, self.end)]
        if self.compare_window is not None:
            windows.append(self.compare_window)
        return [
            metric_params(
                self.metric,
                start=start,
                end=end,
                grain=SQL_GRAIN[self.grain],
                split_by=self.split_by,
                filters=self.filters,
                max_window_days=max_window_days,
            )
            for start, end in windows
        ]

    def query(self) -> dict[str, str]:
        """The GET parameters that reproduce this state, defaults written out."""
        query = {
            "metric": self.metric.slug,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "grain": self.grain,
            "compare": self.compare,
        }
        if self.split_by:
            query.update(split_by=self.split_by, top=str(self.top))
        query.update(self.filters)
        return query

    def urlencode(self) -> str:
        return urlencode(self.query())


def explore_state(
    metric: Metric,
    query: Mapping[str, str],
    *,
    data_as_of: str | None,
    today: date,
    max_window_days: int,
) -> ExploreState:
    """The state ``query`` asks for, each missing control at its default: the last 28 days of
    data, by day (or the metric's finest grain), compared with the previous period."""
    default_start, default_end = default_window(
        data_as_of=data_as_of, days=DEFAULT_DAYS, today=today
    )
    start = _date(query, "start", default_start)
    end = _date(query, "end", default_end)
    grain = query.get("grain") or ("day" if "day" in metric.grains else metric.grains[0])
    kind = Kind(is_ratio=metric.is_ratio, unit=metric.unit)
    if grain not in GRAINS:
        raise InputError("grain", f"must be one of {', '.join(GRAINS)}")
    if grain == "quarter" and not kind.additive:
        raise InputError(
            "grain",
            f"quarter needs a metric whose months add up (a ratio or a count); {metric.slug} "
            f"is in {metric.unit} and its months cannot be combined",
        )
    if SQL_GRAIN[grain] not in metric.grains:
        raise InputError("grain", f"must be one of {', '.join(metric.grains)}")
    compare = query.get("compare") or "previous"
    if compare not in COMPARISONS:
        raise InputError("compare", f"must be one of {', '.join(COMPARISONS)}")
    split_by = query.get("split_by") or ""
    split_by = None if split_by in NO_SPLIT else split_by
    top = _top(query.get("top"))
    filters = {name: query[name] for name in metric.dimensions if query.get(name)}
    state = ExploreState(
        metric=metric,
        start=start,
        end=end,
        grain=grain,
        split_by=split_by,
        top=top,
        compare=compare,
        filters=filters,
    )
    state.params(max_window_days)  # the metric's own checks: window, split_by, filters
    return state


def _date(query: Mapping[str, str], name: str, default: date) -> date:
    raw = query.get(name)
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InputError(name, f"{raw!r} is not a date (YYYY-MM-DD)") from None


def _top(raw: str | None) -> int:
    if not raw:
        return DEFAULT_TOP
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_TOP:
        raise InputError("top", f"a whole number from 1 to {MAX_TOP}")
    return int(raw)
