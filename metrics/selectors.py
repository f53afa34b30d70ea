"""Reads of the metrics portal: which metrics and dashboards a user may see, and metric runs.

A metric is visible to a user who may read every table its query reads (its audience, when
restricted, is exactly that access class: `metrics validate` enforces it). Everything else about
it, its page, its API detail, its tile on a dashboard, is hidden from everyone else.
"""

from dataclasses import dataclass

from metrics.catalogue import BrokenMetric, Catalogue, Metric, UnknownMetric, load_catalogue
from metrics.dashboards import DASHBOARDS, Dashboard, Tile, UnknownDashboard, get_dashboard
from metrics.services import metric_label
from metrics.windows import effective_grain
from portal.roles import Access, data_scope
from warehouse.models import QueryRun
from warehouse.selectors import run_visible


def metrics_visible(
    scope: frozenset[Access], *, q: str = "", catalogue: Catalogue | None = None
) -> list[Metric]:
    """The metrics ``scope`` may read, in catalogue order, matching the search ``q``."""
    catalogue = catalogue or load_catalogue()
    words = q.lower().split()
    return [
        m
        for m in catalogue.metrics.values()
        if m.readable_by(scope) and all(w in _search_text(m) for w in words)
    ]


def _search_text(metric: Metric) -> str:
    return " ".join(
        [metric.slug, metric.title, metric.description, metric.owner, metric.area_title]
    ).lower()


def metric_visible(slug: str, scope: frozenset[Access]) -> Metric:
    """The metric, or UnknownMetric when it does not exist or ``scope`` may not read it."""
    metric = load_catalogue().get(slug)
    if not metric.readable_by(scope):
        raise UnknownMetric(slug)
    return metric


def metric_runs(metric: Metric, scope: frozenset[Access], limit: int = 10) -> list[QueryRun]:
    runs = QueryRun.objects.filter(label=metric_label(metric)).defer(
        "canonical_sql", "translated_sql"
    )[:limit]
    return [run for run in runs if run_visible(run, scope)]


@dataclass(frozen=True)
class TileView:
    """A dashboard tile as one user sees it: its metric, or why it cannot be shown."""

    tile: Tile
    metric: Metric | None
    broken: BrokenMetric | None

    def grain(self, requested: str) -> str:
        return effective_grain(requested, self.metric.grains) if self.metric else requested


def dashboard_tiles(
    dashboard: Dashboard, scope: frozenset[Access], catalogue: Catalogue | None = None
) -> list[TileView]:
    """The tiles ``scope`` may read. A tile whose metric file is broken or missing stays, as a
    broken tile, so a dashboard never silently loses a number."""
    catalogue = catalogue or load_catalogue()
    views = []
    for tile in dashboard.tiles:
        metric = catalogue.metrics.get(tile.metric)
        if metric is not None:
            if metric.readable_by(scope):
                views.append(TileView(tile=tile, metric=metric, broken=None))
            continue
        broken = catalogue.broken.get(tile.metric) or BrokenMetric(
            slug=tile.metric, path=None, errors=(f"No metric {tile.metric!r} in the catalogue.",)
        )
        views.append(TileView(tile=tile, metric=None, broken=broken))
    return views


def dashboards_visible(scope: frozenset[Access]) -> list[tuple[Dashboard, list[TileView]]]:
    """Dashboards with at least one tile ``scope`` may read, with those tiles."""
    catalogue = load_catalogue()
    pairs = [(d, dashboard_tiles(d, scope, catalogue)) for d in DASHBOARDS]
    return [(d, tiles) for d, tiles in pairs if any(t.metric for t in tiles)]


def dashboard_visible(slug: str, scope: frozenset[Access]) -> tuple[Dashboard, list[TileView]]:
    """The dashboard and its visible tiles, or UnknownDashboard when none is readable."""
    dashboard = get_dashboard(slug)
    tiles = dashboard_tiles(dashboard, scope)
    if not any(t.metric for t in tiles):
        raise UnknownDashboard(slug)
    return dashboard, tiles


def metric_readable(slug: str, user) -> bool:
    """Whether ``user`` may read the metric (annotations: notes on its charts)."""
    try:
        metric_visible(slug, data_scope(user))
    except UnknownMetric:
        return False
    return True


def dashboard_metrics_readable(slug: str, user) -> list[str] | None:
    """The slugs of the dashboard's metrics ``user`` may read; None if they may read none."""
    try:
        _, tiles = dashboard_visible(slug, data_scope(user))
    except UnknownDashboard:
        return None
    return [t.metric.slug for t in tiles if t.metric]
