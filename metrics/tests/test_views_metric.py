"""A metric's page: definition, SQL and its translations, lineage, history, runs, chart wiring."""

import re
from datetime import date
from html import unescape

import pytest
from django.utils import timezone

from metrics.tests.ui_support import WINDOW, fetch_data
from pipeline.models import TableFreshness
from tests.support.users import client_for
from warehouse.lake import contract
from warehouse.lake import views as lake_views

# Pages over the shared small lake; `analyst` is the shared fixture (tests/support/users.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("lake_settings")]


def tile_attrs(page: str) -> dict[str, str]:
    tag = re.search(r"<section class=\"tile[^>]*>", page).group(0)
    return {k: unescape(v) for k, v in re.findall(r'(data-[a-z-]+)="([^"]*)"', tag)}


def test_shows_the_definition(analyst):
    page = analyst.get("/metrics/search_to_view_ctr/").content.decode()
    assert "<h1>Search → view CTR" in page
    assert "marketplace-analytics" in page  # owner
    assert "v1" in page and "First canonical definition." in page  # version and history
    assert "FROM fact_funnel_events" in page  # canonical SQL
    for engine in ("duckdb", "postgres", "redshift", "athena"):
        assert f'data-engine="{engine}"' in page
    assert "%(start)s" in unescape(page)  # the postgres translation, as the driver gets it
    lineage = re.search(r'data-lineage-table="fact_funnel_events".*?</tr>', page, re.S).group(0)
    assert "<code>step</code>" in lineage and "<code>event_dt</code>" in lineage


def test_chart_defaults_to_the_last_28_days_of_data_compared_with_the_28_before(analyst):
    attrs = tile_attrs(analyst.get("/metrics/search_to_view_ctr/").content.decode())
    assert attrs["data-url"] == (
        "/api/metrics/search_to_view_ctr/data?start=2026-01-04&end=2026-01-31&grain=day"
    )
    assert attrs["data-compare-url"] == (
        "/api/metrics/search_to_view_ctr/data?start=2025-12-07&end=2026-01-03&grain=day"
    )
    assert attrs["data-format"] == "percent" and attrs["data-higher-is-better"] == "true"
    assert attrs["data-shift-days"] == "28"


def test_controls_carry_into_the_chart_and_csv_urls(lake_settings):
    support = client_for("support")
    query = {
        **WINDOW,
        "grain": "week",
        "compare": "none",
        "split_by": "channel",
        "priority": "high",
    }
    page = support.get("/metrics/support_first_response_time/", query).content.decode()
    attrs = tile_attrs(page)
    expected = "start=2026-01-18&end=2026-01-31&grain=week&split_by=channel&priority=high"
    assert attrs["data-url"] == f"/api/metrics/support_first_response_time/data?{expected}"
    assert "data-compare-url" not in attrs
    assert f'href="/metrics/support_first_response_time/data.csv?{expected}"' in unescape(page)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"start": "yesterday"}, "start"),
        ({"start": "2026-01-31", "end": "2026-01-01"}, "end"),
        ({"start": "2020-01-01", "end": "2026-01-31"}, "end"),
        ({"grain": "hour"}, "grain"),
    ],
)
def test_bad_controls_are_400_naming_the_field(analyst, query, field):
    response = analyst.get("/metrics/search_to_view_ctr/", query)
    assert response.status_code == 400
    page = response.content.decode()
    assert f'<p class="form-error" role="alert"><strong>{field}</strong>' in page
    assert "data-tile" not in page


def test_unknown_split_is_400(lake_settings):
    support = client_for("support")
    response = support.get("/metrics/sla_breach_count/", {"split_by": "category"})
    assert response.status_code == 400
    assert "<strong>split_by</strong>" in response.content.decode()


def test_recent_runs_with_their_statistics(analyst):
    body = fetch_data(analyst, "search_to_view_ctr", **WINDOW)
    page = analyst.get("/metrics/search_to_view_ctr/").content.decode()
    row = re.search(rf'<tr data-run="{body["run_id"]}">.*?</tr>', page, re.S).group(0)
    assert "succeeded" in row and "2026-01-18 \u2013 2026-01-31 \u00b7 day" in row
    assert re.search(r'<td class="num">14</td>', row)  # one row per day
    assert re.search(r'<td class="num">[\d.]+\xa0(bytes|KB|MB)</td>', row)


def test_restricted_metric_page_is_404(analyst):
    assert analyst.get("/metrics/support_first_response_time/").status_code == 404
    assert analyst.get("/metrics/no_such_metric/").status_code == 404


def test_query_count(analyst, django_assert_max_num_queries):
    fetch_data(analyst, "search_to_view_ctr", **WINDOW)
    # session, user, roles, runs, and one for the freshness of every table the lineage shows
    with django_assert_max_num_queries(5):
        assert analyst.get("/metrics/search_to_view_ctr/").status_code == 200


def freshness(table: str, *, age_s: float | None, status: str) -> TableFreshness:
    return TableFreshness.objects.create(
        table_name=table,
        cadence="daily",
        newest_partition=date(2026, 1, 31),
        newest_column="gold_processed_ts",
        age_s=age_s,
        budget_s=108000.0,
        status=status,
        checked_at=timezone.now(),
    )


def lineage_row(page: str, table: str) -> str:
    return re.search(rf'data-lineage-table="{table}".*?</tr>', page, re.S).group(0)


def test_lineage_shows_each_table_s_freshness(analyst):
    stale = freshness("fact_funnel_events", age_s=30 * 3600, status="alarm")
    page = analyst.get("/metrics/search_to_view_ctr/").content.decode()
    row = lineage_row(page, "fact_funnel_events")
    assert 'data-freshness="alarm"' in row
    assert stale.age_display in row and "newest partition 2026-01-31" in row

    stale.delete()
    page = analyst.get("/metrics/search_to_view_ctr/").content.decode()
    assert 'data-freshness="unchecked"' in lineage_row(page, "fact_funnel_events")
    assert "not checked yet" in lineage_row(page, "fact_funnel_events")


def test_a_view_is_as_fresh_as_the_stalest_table_under_it(lake_settings):
    support = client_for("support")
    bases = sorted(lake_views.bases(contract.table("support_tickets_v")))
    for i, name in enumerate(bases):
        freshness(name, age_s=3600.0 * (i + 1), status="ok")
    stalest = freshness("unrelated", age_s=None, status="alarm")  # another table: not shown
    page = support.get("/metrics/support_first_response_time/").content.decode()
    row = lineage_row(page, "support_tickets_v")
    expected = TableFreshness.objects.get(table_name=bases[-1])
    assert 'data-freshness="ok"' in row and expected.age_display in row
    assert "its stalest table" in row and stalest.table_name not in row
