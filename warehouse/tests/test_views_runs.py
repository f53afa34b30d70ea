"""/runs/<id>/: a run's page, for whoever may read its data (the API's rule), never the API's
raw JSON."""

import pytest
from django.conf import settings
from django.utils import timezone

from portal.roles import Access
from tests.support.users import user_with_role
from warehouse import services
from warehouse.models import QueryRun

pytestmark = pytest.mark.django_db

SQL = "SELECT count(*) AS n FROM fact_funnel_events WHERE event_dt BETWEEN :start AND :end"


def test_a_run_page_shows_what_it_ran_and_what_it_cost(client, lake_settings):
    analyst = user_with_role("analyst")
    client.force_login(analyst)
    run = services.query_submit(
        sql=SQL,
        params={"start": "2026-01-20", "end": "2026-01-26"},
        scope=frozenset({Access.GENERAL}),
        user=analyst,
        label="funnel check",
    ).run
    QueryRun.objects.filter(pk=run.pk).update(
        status=QueryRun.Status.SUCCEEDED,
        rows=1,
        bytes_scanned=123_456_789,
        cost_usd=0.000617,
        started_at=timezone.now(),
        finished_at=timezone.now(),
    )
    page = client.get(f"/runs/{run.pk}/")
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    html = page.content.decode()
    for shown in (
        "Query run",
        "funnel check",
        "succeeded",
        run.engine,
        analyst.username,
        "123,456,789",
        "$0.000617",
        run.cache_key,
        "fact_funnel_events",
        "count(*) AS n FROM fact_funnel_events",
    ):
        assert shown in html, shown
    # The runs list links here, not to the API.
    listed = client.get("/runs/").content.decode()
    assert f'href="/runs/{run.pk}/"' in listed and f'href="/api/runs/{run.pk}"' not in listed


def test_a_failed_runs_error_names_no_server_path(client, lake_settings):
    client.force_login(user_with_role("analyst"))
    root = str(settings.LAKE_ROOT)
    run = QueryRun.objects.create(
        engine="duckdb", sql_hash="0" * 16, canonical_sql=SQL, scope="general",
        tables=["fact_funnel_events"], cache_key="k", status=QueryRun.Status.FAILED,
        error=f"IO Error: No files found that match the pattern {root}/gold/x.parquet",
        finished_at=timezone.now(),
    )  # fmt: skip
    for path in (f"/runs/{run.pk}/", "/runs/"):
        html = client.get(path).content.decode()
        assert "No files found" in html and root not in html, path


def test_a_run_over_restricted_data_is_forbidden_as_its_api_is(client, lake_settings):
    finance_sql = (
        "SELECT count(*) AS n FROM fin_refunds WHERE event_dt BETWEEN :start AND current_date"
    )
    run = services.query_submit(
        sql=finance_sql, params={"start": 1}, scope=frozenset({Access.GENERAL, Access.FINANCE})
    ).run
    for role, status in (("analyst", 403), ("admin", 200)):
        client.force_login(user_with_role(role))
        page = client.get(f"/runs/{run.pk}/")
        assert page.status_code == status == client.get(f"/api/runs/{run.pk}").status_code
        assert ("fin_refunds" in page.content.decode()) is (status == 200), role
    assert client.get("/runs/999999/").status_code == 404
