"""Which pages a view may be saved from, and what data each shows: a dashboard, a metric, or
an explore view of a metric (its ``metric`` parameter)."""

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from django.urls import Resolver404, resolve

from metrics.catalogue import UnknownMetric
from metrics.dashboards import UnknownDashboard
from metrics.selectors import dashboard_visible, metric_visible
from portal.roles import Access

MAX_QUERY = 2000


@dataclass(frozen=True)
class Target:
    kind: str  # dashboard, metric or explore
    slug: str  # the dashboard's or the metric's
    path: str
    query: str


class NotSaveable(ValueError):
    """The URL is not a page a view can be saved from (the message says why)."""


def target_of(url: str) -> Target:
    """The page behind a URL of this portal, or NotSaveable."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        raise NotSaveable("Give the page's path on the portal, e.g. /dashboards/marketplace/.")
    if len(parts.query) > MAX_QUERY:
        raise NotSaveable(f"The page's state is longer than {MAX_QUERY} characters.")
    try:
        match = resolve(parts.path)
    except Resolver404:
        raise NotSaveable("No page of the portal has this path.") from None
    if match.url_name == "dashboard-detail":
        kind, slug = "dashboard", match.kwargs["slug"]
    elif match.url_name == "metric-detail":
        kind, slug = "metric", match.kwargs["slug"]
    elif match.url_name == "explore":
        kind, slug = "explore", parse_qs(parts.query).get("metric", [""])[0]
        if not slug:
            raise NotSaveable("Pick a metric to explore before saving the view.")
    else:
        raise NotSaveable("Only dashboards, metric pages and explore views can be saved.")
    return Target(kind, slug, parts.path, parts.query)


def readable(kind: str, slug: str, scope: frozenset[Access]) -> bool:
    """Whether ``scope`` may read the data a view of ``kind`` over ``slug`` shows."""
    try:
        if kind == "dashboard":
            dashboard_visible(slug, scope)
        else:
            metric_visible(slug, scope)
    except (UnknownDashboard, UnknownMetric):
        return False
    return True
