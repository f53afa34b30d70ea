"""Warming: compute every dashboard tile's default view before anyone opens the dashboard.

A tile's default view is the dashboard's default window (ending at the lake's newest partition),
grain and comparison window, exactly as the page asks for it, so the page then finds it cached.
Results are cached per data-access scope, so each tile is warmed for every scope some active
user has (one per combination of roles in use, not one per user) that may read it.
"""

import logging
from collections.abc import Iterator
from dataclasses import replace

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.utils import timezone

from metrics.catalogue import Metric, load_catalogue
from metrics.dashboards import DASHBOARDS
from metrics.params import MetricParams, matured_params, metric_params
from metrics.services import metric_params_submit
from metrics.windows import default_window, effective_grain, previous_window
from portal.roles import Access, data_scope
from warehouse import watermark
from warehouse.sql import SqlError

log = logging.getLogger(__name__)

WARMED_KEY = "metrics:warmed-watermark:{engine}"


def default_views(data_as_of: str | None) -> Iterator[tuple[Metric, MetricParams]]:
    """Every dashboard tile's default view: its window and, when compared, the one before."""
    catalogue = load_catalogue()
    for dashboard in DASHBOARDS:
        start, end = default_window(
            data_as_of=data_as_of, days=dashboard.default_days, today=timezone.localdate()
        )
        for tile in dashboard.tiles:
            metric = catalogue.metrics.get(tile.metric)
            if metric is None:  # broken or missing: the page shows why; nothing to warm
                continue
            params = metric_params(
                metric,
                start=start,
                end=end,
                grain=effective_grain(dashboard.default_grain, metric.grains),
                split_by=tile.split_by,
                max_window_days=settings.METRICS_MAX_WINDOW_DAYS,
            )
            # A censored metric's tile reads its latest matured window (and the one before
            # that): the same shift as the page's, so the tile finds it warm.
            params = matured_params(metric, params, data_as_of)
            yield metric, params
            if dashboard.default_compare:
                before_start, before_end = previous_window(params.start, params.end)
                yield metric, replace(params, start=before_start, end=before_end)


def scopes_in_use() -> set[frozenset[Access]]:
    """The data scope of every active user, in two queries however many users there are."""
    users = get_user_model().objects.filter(is_active=True).prefetch_related("groups")
    return {scope for user in users if (scope := data_scope(user))}


def dashboards_warm(*, force_refresh: bool = False) -> int:
    """Queue every tile's default view for every scope in use, unless it is cached; returns how
    many were not (queued, or joined a run in flight). ``force_refresh`` recomputes even what
    is cached.

    A view's cache key holds the versions of the tables it reads, so after a write only the
    views reading a table it changed are queued again: the others are found cached."""
    mark = watermark.current(settings.WAREHOUSE)
    scopes = scopes_in_use()
    queued = 0
    for metric, params in default_views(mark.max_partition):
        for scope in scopes:
            if not metric.readable_by(scope):
                continue
            try:
                submission = metric_params_submit(
                    metric=metric, params=params, scope=scope, force_refresh=force_refresh
                )
            except SqlError as err:  # one bad definition must not stop the others warming
                log.warning("not warming %s: %s", metric.slug, err)
                continue
            queued += submission.cached is None
    return queued


def dashboards_warm_if_watermark_moved() -> int:
    """Warm when any table's version differs from those last warmed; 0 when none did."""
    key = WARMED_KEY.format(engine=settings.WAREHOUSE)
    token = watermark.current(settings.WAREHOUSE).token
    if cache.get(key) == token:
        return 0
    submitted = dashboards_warm()
    cache.set(key, token, timeout=None)
    return submitted
