"""The catalogue page: metrics by area, search, restricted metrics hidden, broken ones shown."""

import shutil

import pytest
from django.conf import settings as django_settings

from tests.support.users import client_for

# Pages over the shared small lake; `analyst` is the shared fixture (tests/support/users.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("lake_settings")]


def test_lists_every_readable_metric_by_area(analyst):
    page = analyst.get("/metrics/").content.decode()
    for heading in ("Marketplace health", "Growth", "Quality &amp; safety"):
        assert heading in page
    assert page.count("data-filter-item") == 23
    assert 'href="/metrics/search_to_view_ctr/"' in page
    assert "sla_breach_count" not in page and "<h2>Support" not in page


def test_support_sees_support_metrics_marked_restricted(lake_settings):
    page = client_for("support").get("/metrics/").content.decode()
    assert page.count("data-filter-item") == 28
    assert 'href="/metrics/sla_breach_count/"' in page
    assert page.count(">support only</span>") == 5


def test_search_on_the_server(analyst):
    page = analyst.get("/metrics/", {"q": "SEO"}).content.decode()
    assert page.count("data-filter-item") == 3
    assert "seo_indexation_rate" in page and "search_to_view_ctr" not in page
    assert "3 metrics match" in page


def test_search_without_a_match(analyst):
    page = analyst.get("/metrics/", {"q": "no such words"}).content.decode()
    assert "No metric matches" in page and "data-filter-item" not in page


def test_a_broken_definition_is_shown_with_its_error_and_the_rest_still_work(
    analyst, settings, tmp_path
):
    for slug in ("search_to_view_ctr", "alert_ctr"):
        shutil.copy(django_settings.METRICS_DIR / f"{slug}.sql", tmp_path)
    broken = (django_settings.METRICS_DIR / "seo_nonbrand_clicks.sql").read_text()
    (tmp_path / "seo_nonbrand_clicks.sql").write_text(
        broken.replace("FROM fact_seo", "FROM nope_seo")
    )
    settings.METRICS_DIR = tmp_path

    page = analyst.get("/metrics/").content.decode()
    assert page.count("data-filter-item") == 2
    assert 'data-broken-metric="seo_nonbrand_clicks"' in page
    assert "seo_nonbrand_clicks.sql:" in page and "nope_seo" in page
    assert analyst.get("/metrics/seo_nonbrand_clicks/").status_code == 404
    assert analyst.get("/metrics/alert_ctr/").status_code == 200


def test_query_count(analyst, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):  # session, user, roles
        assert analyst.get("/metrics/").status_code == 200


def test_login_required(client, lake_settings):
    response = client.get("/metrics/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
