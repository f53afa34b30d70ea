"""/runs/<id>/: a run's page, for whoever may read its data (the API's rule), never the API's
raw JSON; /runs/: the runs a user may read, a page at a time, sortable, with totals."""

import re
from datetime import timedelta

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


def make_runs(count: int, *, tables: list[str], label: str) -> list[QueryRun]:
    """Finished runs, each with its own rows, bytes, cost and duration (some unknown)."""
    now = timezone.now()
    return QueryRun.objects.bulk_create(
        QueryRun(
            engine="duckdb",
            label=f"{label} {i}",
            sql_hash="0" * 16,
            canonical_sql="SELECT 1",
            scope="general",
            tables=tables,
            cache_key=f"{label}-{i}",
            status=QueryRun.Status.SUCCEEDED,
            queued_at=now - timedelta(minutes=i),
            started_at=now - timedelta(minutes=i),
            finished_at=now - timedelta(minutes=i) + timedelta(milliseconds=(i * 37) % 900),
            rows=(i * 7919) % 1000,
            bytes_scanned=None if i % 10 == 3 else (i * 104_729) % 5_000_000,
            cost_usd=None if i % 10 == 3 else ((i * 13) % 17) / 1000,
        )
        for i in range(count)
    )


def listed_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<td><a href="/runs/(\d+)/">', html)]


def test_the_runs_list_pages_sorts_and_totals_readable_runs_only(
    client, lake_settings, django_assert_num_queries
):
    client.force_login(user_with_role("analyst"))
    readable = make_runs(130, tables=["fact_bookings"], label="bookings")
    make_runs(40, tables=["fin_refunds"], label="finance")  # hidden: never counted
    with django_assert_num_queries(5):  # session, user, groups, totals, the page
        first = client.get("/runs/")
    html = first.content.decode()
    newest = sorted(readable, key=lambda r: (r.queued_at, r.pk), reverse=True)
    assert listed_ids(html) == [r.pk for r in newest[:50]]
    assert "rows 1\N{EN DASH}50 of 130" in html and "finance" not in html
    total_bytes = sum(r.bytes_scanned or 0 for r in readable)
    assert f"{total_bytes:,}" in html.split("<tfoot>")[1] and total_bytes > 1_000_000
    assert first.context["totals"]["cost_usd"] == pytest.approx(
        sum(r.cost_usd or 0 for r in readable)
    )

    for sort, key in (
        ("-bytes", lambda r: r.bytes_scanned),
        ("bytes", lambda r: r.bytes_scanned),
        ("-duration", lambda r: r.finished_at - r.started_at),
        ("cost", lambda r: r.cost_usd),
    ):
        descending = sort.startswith("-")
        # Missing values last either way, then the newest run first.
        known = [r for r in readable if key(r) is not None]
        by_pk = sorted(known, key=lambda r: r.pk, reverse=True)
        ordered = sorted(by_pk, key=key, reverse=descending)
        ordered += sorted((r for r in readable if key(r) is None), key=lambda r: -r.pk)
        with django_assert_num_queries(5):
            third = client.get(f"/runs/?sort={sort}&page=3").content.decode()
        assert listed_ids(third) == [r.pk for r in ordered[100:130]], sort
        assert "rows 101\N{EN DASH}130 of 130" in third


def test_the_runs_list_reads_as_many_queries_for_many_runs_as_for_few(
    client, lake_settings, django_assert_num_queries
):
    client.force_login(user_with_role("admin"))
    make_runs(3, tables=["fact_bookings"], label="few")
    with django_assert_num_queries(5):
        client.get("/runs/")
    make_runs(300, tables=["fact_bookings"], label="many")
    with django_assert_num_queries(5):
        page = client.get("/runs/?sort=-rows")
    assert len(page.context["runs"]) == 50
