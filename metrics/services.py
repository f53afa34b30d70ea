"""Writes of the metrics app: a metric's data as a recorded, cached query run."""

from collections.abc import Mapping

from django.conf import settings

from metrics.definitions import Metric
from metrics.params import MetricParams, params_from_query
from portal.roles import Access, data_scope
from warehouse.result_cache import CachedResult
from warehouse.services import DataAccessDenied, Submission, query_run_sync, query_submit

__all__ = [
    "MetricParams",
    "metric_data_run_sync",
    "metric_data_submit",
    "parse_metric_params",
]


def parse_metric_params(metric: Metric, query_dict: Mapping[str, str]) -> MetricParams:
    """Typed parameters from a request's strings (see metrics.params.params_from_query);
    core.errors.InputError names the field that is wrong."""
    return params_from_query(metric, query_dict, max_window_days=settings.METRICS_MAX_WINDOW_DAYS)


def metric_label(metric: Metric) -> str:
    return f"metric:{metric.slug}"


def metric_data_submit(
    *, metric: Metric, params: MetricParams, user, force_refresh: bool = False
) -> Submission:
    """The metric for ``params`` (checked once, by metric_params or parse_metric_params):
    cached, joined to an identical run in flight, or queued. Raises DataAccessDenied when the
    user may not read the data the metric's query reads."""
    return metric_params_submit(
        metric=metric,
        params=params,
        scope=data_scope(user),
        user=user,
        force_refresh=force_refresh,
    )


def metric_params_submit(
    *,
    metric: Metric,
    params: MetricParams,
    scope: frozenset[Access],
    user=None,
    force_refresh: bool = False,
) -> Submission:
    """Submit already-validated params for ``scope`` (a user's, or each scope when warming)."""
    # Before any work; query_submit checks the tables the SQL reads again, the final word.
    if not metric.readable_by(scope):
        raise DataAccessDenied("You do not have access to the data this metric reads.")
    return query_submit(
        sql=metric.sql,
        params=params.bind(metric),
        scope=scope,
        user=user,
        label=metric_label(metric),
        force_refresh=force_refresh,
    )


def metric_data_run_sync(
    *, metric: Metric, params: MetricParams, engine: str | None = None, force_refresh: bool = False
) -> CachedResult:
    """The metric's result now, run in this process and recorded as a query run. For operators
    (the `metrics run` command) and jobs: it reads with every access class."""
    return query_run_sync(
        sql=metric.sql,
        params=params.bind(metric),
        scope=frozenset(Access),
        label=metric_label(metric),
        engine=engine,
        force_refresh=force_refresh,
    )
