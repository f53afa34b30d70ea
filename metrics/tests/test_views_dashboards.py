"""Dashboard pages: which dashboards and tiles a user sees, and how each tile is wired."""

import re
from html import unescape

import pytest
from django.test import Client

from tests.support.users import client_for, user_with_role

# Pages over the shared small lake; `analyst` is the shared fixture (tests/support/users.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("lake_settings")]


def tiles(page: str) -> dict[str, dict[str, str]]:
    """data-* attributes of each tile, by metric slug."""
    found = {}
    for tag in re.findall(r"<section class=\"tile[^>]*data-tile[^>]*>", page):
        attrs = {k: unescape(v) for k, v in re.findall(r'(data-[a-z-]+)="([^"]*)"', tag)}
        found[attrs["data-metric"]] = attrs
    return found


def test_list_shows_the_dashboards_the_user_can_read(analyst):
    page = analyst.get("/dashboards/").content.decode()
    assert re.findall(r'href="/dashboards/([a-z-]+)/"', page) == [
        "marketplace-health",
        "growth",
        "quality-safety",
    ]
    support_page = client_for("support").get("/dashboards/").content.decode()
    assert 'href="/dashboards/support/"' in support_page
    assert "5 tiles" in support_page


def test_every_tile_loads_its_metric_for_the_default_window(analyst):
    page = analyst.get("/dashboards/marketplace-health/").content.decode()
    found = tiles(page)
    assert len(found) == 13
    ctr = found["search_to_view_ctr"]
    assert ctr["data-url"] == (
        "/api/metrics/search_to_view_ctr/data?start=2026-01-04&end=2026-01-31&grain=day"
    )
    assert ctr["data-compare-url"] == (
        "/api/metrics/search_to_view_ctr/data?start=2025-12-07&end=2026-01-03&grain=day"
    )
    assert ctr["data-state"] == "waiting" and ctr["data-format"] == "percent"
    assert 'href="/metrics/search_to_view_ctr/data.csv?start=2026-01-04' in unescape(page)
    assert "Data as of 2026-01-31" in page


def test_controls_change_every_tile(analyst):
    query = {"start": "2026-01-18", "end": "2026-01-24", "grain": "week", "compare": "none"}
    found = tiles(analyst.get("/dashboards/growth/", query).content.decode())
    assert len(found) == 7
    for slug, attrs in found.items():
        assert attrs["data-url"] == (
            f"/api/metrics/{slug}/data?start=2026-01-18&end=2026-01-24&grain=week"
        )
        assert "data-compare-url" not in attrs


def test_presets_end_at_the_newest_data_and_keep_other_controls(analyst):
    page = unescape(analyst.get("/dashboards/growth/", {"grain": "week"}).content.decode())
    presets = re.findall(r'<a href="\?([^"]+)"( aria-current="true")?>(\d+)', page)
    assert [(days, bool(current)) for _, current, days in presets] == [
        ("7", False),
        ("28", True),
        ("90", False),
    ]
    assert presets[0][0] == "grain=week&start=2026-01-25&end=2026-01-31"


def test_tiles_of_metrics_the_user_may_not_read_are_absent(lake_settings):
    """Hide, don't tease: a restricted tile is not shown, not even as a locked box."""
    admin = client_for("admin")
    analyst = client_for("analyst")
    assert len(tiles(admin.get("/dashboards/support/").content.decode())) == 5
    assert analyst.get("/dashboards/support/").status_code == 404


def test_a_tile_whose_metric_is_broken_says_so(analyst, settings, tmp_path):
    (tmp_path / "alert_ctr.sql").write_text("-- slug: alert_ctr\nSELECT 1\n")
    settings.METRICS_DIR = tmp_path
    for name in ("email_digest_ctr", "seo_nonbrand_clicks"):
        (tmp_path / f"{name}.sql").write_text(
            (settings.BASE_DIR / "analytics" / "metrics" / f"{name}.sql").read_text()
        )
    page = analyst.get("/dashboards/growth/").content.decode()
    assert set(tiles(page)) == {"email_digest_ctr", "seo_nonbrand_clicks"}
    assert page.count("data-broken-tile") == 5  # alert_ctr broken, four missing
    assert "alert_ctr.sql:1: header is missing" in page
    assert "No metric &#x27;promo_roas&#x27; in the catalogue." in page


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"start": "2026-02-30"}, "start"),
        ({"start": "2026-01-20", "end": "2026-01-10"}, "end"),
        ({"start": "2024-01-01", "end": "2026-01-31"}, "end"),
        ({"grain": "year"}, "grain"),
        ({"compare": "yes"}, "compare"),
    ],
)
def test_bad_controls_are_400_naming_the_field(analyst, query, field):
    response = analyst.get("/dashboards/growth/", query)
    assert response.status_code == 400
    page = response.content.decode()
    assert f"<strong>{field}</strong>" in page
    assert not tiles(page)


def test_unknown_dashboard_is_404(analyst):
    assert analyst.get("/dashboards/nope/").status_code == 404


def test_query_count(analyst, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        assert analyst.get("/dashboards/marketplace-health/").status_code == 200
    with django_assert_max_num_queries(3):
        assert analyst.get("/dashboards/").status_code == 200


def test_tiles_are_rendered_once_per_window_and_definition(analyst, settings, tmp_path):
    """Tiles hold no numbers and nothing of the user, so users share one rendering; a changed
    window or definition renders again instead of serving stale tiles."""
    from portal.local_cache import local_cache

    fragments = local_cache()
    first = tiles(analyst.get("/dashboards/growth/").content.decode())
    assert len(fragments._cache) == 1
    other = Client()
    other.force_login(user_with_role("analyst", username="another-analyst"))
    assert tiles(other.get("/dashboards/growth/").content.decode()) == first
    assert len(fragments._cache) == 1  # the same tiles for another user of the same scope
    window = {"start": "2026-01-20", "end": "2026-01-27"}
    moved = tiles(analyst.get("/dashboards/growth/", window).content.decode())
    assert {t["data-start"] for t in moved.values()} == {"2026-01-20"}
    assert len(fragments._cache) == 2

    for path in (settings.BASE_DIR / "analytics" / "metrics").glob("*.sql"):
        (tmp_path / path.name).write_text(path.read_text())
    renamed = tmp_path / "alert_ctr.sql"
    renamed.write_text(renamed.read_text().replace("-- title: ", "-- title: Renamed ", 1))
    settings.METRICS_DIR = tmp_path
    page = analyst.get("/dashboards/growth/").content.decode()
    assert ">Renamed " in page
