"""Dashboards as data: every tile names a real, working catalogue metric; each area's dashboard
shows every metric of its area."""

import pytest
from django.conf import settings

from metrics.catalogue import load_catalogue
from metrics.dashboards import DASHBOARDS, Chart, Size, UnknownDashboard, get_dashboard

AREA_OF_DASHBOARD = {
    "marketplace-health": "marketplace_health",
    "growth": "growth",
    "support": "support",
    "quality-safety": "quality_safety",
}


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def test_the_four_dashboards_of_the_plan():
    assert [(d.slug, d.title) for d in DASHBOARDS] == [
        ("marketplace-health", "Marketplace health"),
        ("growth", "Growth"),
        ("support", "Support"),
        ("quality-safety", "Quality & safety"),
    ]


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda d: d.slug)
def test_tiles_are_the_metrics_of_the_dashboard_s_area(dashboard, catalogue):
    slugs = [tile.metric for tile in dashboard.tiles]
    assert len(slugs) == len(set(slugs)), "a metric appears twice"
    assert not set(slugs) & set(catalogue.broken)
    area = AREA_OF_DASHBOARD[dashboard.slug]
    assert set(slugs) == {m.slug for m in catalogue.metrics.values() if m.area == area}


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda d: d.slug)
def test_tile_settings_fit_their_metric(dashboard, catalogue):
    assert 1 <= dashboard.default_days <= settings.METRICS_MAX_WINDOW_DAYS
    for tile in dashboard.tiles:
        metric = catalogue.get(tile.metric)
        assert dashboard.default_grain in metric.grains
        assert tile.split_by is None or tile.split_by in metric.dimensions
        assert tile.chart in Chart and tile.size in Size


def test_unknown_dashboard():
    assert get_dashboard("growth").title == "Growth"
    with pytest.raises(UnknownDashboard):
        get_dashboard("nope")
