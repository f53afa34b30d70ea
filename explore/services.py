"""Writes of the explore view: its queries, as recorded and cached query runs."""

from collections.abc import Mapping
from functools import lru_cache

from django.conf import settings

from core.errors import InputError
from explore.forms import ExploreState
from explore.values import values_sql
from metrics.catalogue import Metric
from metrics.definitions import ANY_VALUE, SPLIT_PARAM
from metrics.services import metric_data_submit, parse_metric_params
from portal.roles import data_scope
from warehouse.services import Submission, query_submit
from warehouse.sql import parse


def explore_submit(*, state: ExploreState, user) -> list[Submission]:
    """The metric over the window and the comparison window, each cached, joined to an
    identical run in flight or queued: the same runs as the metric's tiles and API."""
    return [
        metric_data_submit(metric=state.metric, params=params, user=user)
        for params in state.params(settings.METRICS_MAX_WINDOW_DAYS)
    ]


def metric_values_submit(
    *, metric: Metric, dimension: str, query: Mapping[str, str], user
) -> Submission:
    """The values of one of the metric's dimensions in the window, with their row counts (see
    explore.values). The caller has checked that ``user`` may read the metric."""
    if dimension not in metric.dimensions:
        offered = ", ".join(metric.dimensions) or "none"
        raise InputError("dimension", f"{dimension!r} is not a dimension of {metric.slug} "
                         f"(dimensions: {offered})")  # fmt: skip
    # The window's checks are the metric's own: required, end before start, too long.
    window = parse_metric_params(metric, {"start": query.get("start"), "end": query.get("end")})
    sql, placeholders = _values_query(metric.sql, dimension)
    bound = {**window.bind(metric), SPLIT_PARAM: dimension}
    bound.update({name: ANY_VALUE for name in metric.dimensions})
    return query_submit(
        sql=sql,
        params={name: bound[name] for name in placeholders},
        scope=data_scope(user),
        user=user,
        label=f"values:{metric.slug}:{dimension}",
    )


@lru_cache(maxsize=256)
def _values_query(metric_sql: str, dimension: str) -> tuple[str, frozenset[str]]:
    # Derived once per definition: sqlglot's parse and generate cost milliseconds.
    sql = values_sql(metric_sql, dimension)
    return sql, parse(sql).placeholders
