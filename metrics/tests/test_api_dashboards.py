"""The dashboards API and the OpenAPI schema of the metrics API."""

import pytest

from metrics.serializers import MetricDataSerializer, RunQueuedSerializer, SummarySerializer
from metrics.tests.ui_support import fetch_data, lake_table, rows
from tests.support.users import client_for

# Pages over the shared small lake; `analyst` is the shared fixture (tests/support/users.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("lake_settings")]


def test_list_shows_only_dashboards_with_readable_tiles(analyst):
    slugs = [d["slug"] for d in analyst.get("/api/dashboards/").json()]
    assert slugs == ["marketplace-health", "growth", "quality-safety"]
    support = client_for("support")
    assert "support" in [d["slug"] for d in support.get("/api/dashboards/").json()]


def test_list_query_count(analyst, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        assert analyst.get("/api/dashboards/").status_code == 200


def test_detail_lists_tiles_and_the_default_window_ending_at_the_newest_data(analyst):
    body = analyst.get("/api/dashboards/growth").json()
    assert body["default_window"] == {"start": "2026-01-04", "end": "2026-01-31"}
    assert body["default_grain"] == "day" and body["default_compare"] is True
    tiles = {t["metric"]: t for t in body["tiles"]}
    assert set(tiles) == {
        "email_digest_ctr",
        "alert_ctr",
        "referral_qualification_rate",
        "promo_roas",
        "seo_nonbrand_clicks",
        "seo_top100_landing_ctr",
        "seo_indexation_rate",
    }
    assert tiles["seo_nonbrand_clicks"]["chart"] == "bar"
    assert tiles["seo_nonbrand_clicks"]["title"] == "SEO non-brand clicks"
    assert tiles["alert_ctr"]["broken"] is None


def test_a_tile_fetched_as_the_api_says_gives_the_metric_s_number(analyst, lake_settings):
    """A dashboard client builds each tile's request from the dashboard and the metric."""
    dashboard = analyst.get("/api/dashboards/growth").json()
    tile = next(t for t in dashboard["tiles"] if t["metric"] == "seo_nonbrand_clicks")
    metric = analyst.get(f"/api/metrics/{tile['metric']}").json()
    body = fetch_data(
        analyst, metric["slug"], **dashboard["default_window"], grain=dashboard["default_grain"]
    )
    seo = lake_table(lake_settings, "fact_seo_landings")
    expected = seo[seo.query_class == "non_brand"].groupby("event_dt")["clicks"].sum()
    assert {r["period"][:10]: r["value"] for r in rows(body)} == expected.to_dict()


def test_support_dashboard_is_404_for_an_analyst(analyst):
    assert analyst.get("/api/dashboards/support").status_code == 404
    assert analyst.get("/api/dashboards/nope").status_code == 404


def test_schema_describes_the_metrics_api(analyst):
    schema = analyst.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    data = schema["paths"]["/api/metrics/{slug}/data"]["get"]
    assert {"200", "202", "400", "403", "404"} <= set(data["responses"])
    assert {p["name"] for p in data["parameters"]} >= {"start", "end", "grain", "force_refresh"}
    ok = data["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    fields = schema["components"]["schemas"][ok.rsplit("/", 1)[1]]["properties"]
    assert {"run_id", "cached_at", "data_as_of", "result", "summary"} <= set(fields)
    for path in (
        "/api/metrics/",
        "/api/metrics/{slug}",
        "/api/dashboards/",
        "/api/dashboards/{slug}",
    ):
        assert "get" in schema["paths"][path]


def test_data_answers_are_shaped_as_the_schema_says(analyst):
    window = {"start": "2026-01-20", "end": "2026-01-21"}
    queued = analyst.get("/api/metrics/alert_ctr/data", window).json()
    assert set(queued) == set(RunQueuedSerializer().fields)
    body = fetch_data(analyst, "alert_ctr", **window)
    assert set(body) == set(MetricDataSerializer().fields)
    assert set(body["summary"]) == set(SummarySerializer().fields)
    assert set(body["result"]) == {"columns", "rows"}
