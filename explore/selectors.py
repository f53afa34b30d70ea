"""Reads of the explore view: which metrics one may explore, and the view's numbers from the
cached results of its runs."""

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd
from django.conf import settings
from django.utils import timezone

from explore import frames
from explore.forms import ExploreState, explore_state
from metrics import selectors as metric_selectors
from metrics.catalogue import Metric
from portal.roles import Access
from warehouse import watermark
from warehouse.result_cache import CachedResult


def explorable_metrics(scope: frozenset[Access]) -> list[Metric]:
    return metric_selectors.metrics_visible(scope)


def explorable_metric(slug: str, scope: frozenset[Access]) -> Metric:
    """The metric, or UnknownMetric when it does not exist or ``scope`` may not read it: the
    same answer for both, so a restricted metric is not revealed."""
    return metric_selectors.metric_visible(slug, scope)


def state_from_query(metric: Metric, query: Mapping[str, str]) -> ExploreState:
    """The state a URL asks for; defaults end at the newest data (see explore_state)."""
    return explore_state(
        metric,
        query,
        data_as_of=watermark.current(settings.WAREHOUSE).max_partition,
        today=timezone.localdate(),
        max_window_days=settings.METRICS_MAX_WINDOW_DAYS,
    )


@dataclass(frozen=True)
class Explored:
    state: ExploreState
    names: list[str]  # the series: the top values (and Other), or "all"
    table: pd.DataFrame  # frames.table's columns
    totals: list[frames.Total]
    notes: list[str]
    results: list[CachedResult]


def explored(state: ExploreState, results: list[CachedResult]) -> Explored:
    """The view from its runs' results: the window's, then the comparison window's."""
    kind = state.kind
    current = frames.regrain(results[0].frame, state.grain, kind)
    compare = frames.regrain(results[1].frame, state.grain, kind) if len(results) > 1 else None
    notes = []
    top: list[str] = []
    if state.split_by:
        top = frames.top_values(current, state.top, kind)
        values = current["dimension_value"].nunique()
        current = frames.keep_top(current, top, kind)
        if compare is not None:
            compare = frames.keep_top(compare, top, kind)
        if values > len(top) and not kind.additive:
            notes.append(
                f"The top {len(top)} of {values} values by periods with data; the rest are not "
                f"shown as Other: a {state.metric.unit} median cannot be combined from its parts."
            )
    names = frames.series_order(top, current)
    periods = frames.window_periods(state.start, state.end, state.grain)
    window = state.compare_window
    compare_periods = frames.window_periods(*window, state.grain) if window else None
    table = frames.table(current, compare, names, periods, compare_periods, kind)
    totals = frames.totals(current, compare, names, kind, state.grain)
    return Explored(
        state=state, names=names, table=table, totals=totals, notes=notes, results=results
    )
