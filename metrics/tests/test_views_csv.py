"""CSV export of a metric's data: the API's data path and access check, as a file."""

import csv
import io

import pandas as pd
import pytest

from metrics.tests.ui_support import WINDOW, fetch_data, lake_table
from tests.support.services import wait_until
from tests.support.users import client_for
from warehouse import services
from warehouse.lake.contract import Access
from warehouse.models import QueryRun

CSV_URL = "/metrics/seo_nonbrand_clicks/data.csv"


def parse(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def nonbrand_clicks(lake) -> dict[str, int]:
    seo = lake_table(lake, "fact_seo_landings")
    return seo[seo.query_class == "non_brand"].groupby("event_dt")["clicks"].sum().to_dict()


@pytest.mark.django_db
def test_csv_of_a_cached_result(lake_settings):
    analyst = client_for("analyst")
    body = fetch_data(analyst, "seo_nonbrand_clicks", **WINDOW)
    response = analyst.get(CSV_URL, WINDOW)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="seo_nonbrand_clicks_2026-01-18_2026-01-31_day.csv"'
    )
    assert response["X-Data-As-Of"] == "2026-01-31"
    assert response["X-Query-Run"] == str(body["run_id"])
    got = parse(response)
    assert list(got[0]) == ["period", "dimension_value", "value"]
    assert {r["period"]: int(r["value"]) for r in got} == nonbrand_clicks(lake_settings)
    assert QueryRun.objects.count() == 1


def weekly_nonbrand_clicks(lake) -> dict[str, int]:
    daily = pd.Series(nonbrand_clicks(lake))
    days = pd.to_datetime(daily.index)
    return daily.groupby((days - pd.to_timedelta(days.weekday, unit="D")).strftime("%F")).sum()


@pytest.mark.django_db
def test_csv_of_an_uncached_result_is_prepared_then_downloaded_from_the_same_link(
    lake_settings, settings, django_assert_max_num_queries
):
    settings.QUERY_WAIT_SECONDS = 0  # no worker here: nothing would finish the run meanwhile
    analyst = client_for("analyst")
    with django_assert_max_num_queries(12):
        preparing = analyst.get(CSV_URL, WINDOW)
    assert preparing.status_code == 202 and preparing["Retry-After"] == "2"
    run = QueryRun.objects.get()
    # Answered at once: the query was queued for a worker, not run in the web request.
    assert run.status == QueryRun.Status.QUEUED and run.started_at is None
    page = preparing.content.decode()
    assert "Preparing the CSV of" in page and f"query run {run.pk}" in page
    # It reloads the export's link, naming the run it waits for.
    link = f"{CSV_URL}?start={WINDOW['start']}&amp;end={WINDOW['end']}&amp;run={run.pk}"
    assert f'<meta http-equiv="refresh" content="2; url={link}">' in page
    assert f'<a href="{link}">Download the CSV</a>' in page

    again = analyst.get(CSV_URL, {**WINDOW, "run": run.pk})  # a reload while it waits joins it
    assert again.status_code == 202 and QueryRun.objects.count() == 1

    services.query_run_execute(run_id=run.pk)  # what the worker's task does
    done = analyst.get(CSV_URL, {**WINDOW, "run": run.pk})
    assert done.status_code == 200 and done["X-Query-Run"] == str(run.pk)
    assert {r["period"]: int(r["value"]) for r in parse(done)} == nonbrand_clicks(lake_settings)
    assert QueryRun.objects.count() == 1


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_csv_link_works_once_a_real_worker_finished_the_run(celery_worker, lake_settings, settings):
    settings.QUERY_WAIT_SECONDS = 0
    analyst = client_for("analyst")
    query = {**WINDOW, "grain": "week"}
    first = analyst.get(CSV_URL, query)
    # 202 unless the worker was faster than this request's one look at the run.
    assert first.status_code in (200, 202)
    run = QueryRun.objects.get()
    wait_until(lambda: QueryRun.objects.get().is_finished, timeout=120)
    response = analyst.get(CSV_URL, query)
    assert response.status_code == 200, response.content
    assert {r["period"]: int(r["value"]) for r in parse(response)} == (
        weekly_nonbrand_clicks(lake_settings).to_dict()
    )
    assert QueryRun.objects.get().status == "succeeded" and response["X-Query-Run"] == str(run.pk)


@pytest.mark.django_db
def test_a_run_that_fails_while_the_page_waits_is_shown_not_run_again(lake_settings, settings):
    settings.QUERY_WAIT_SECONDS = 0
    analyst = client_for("analyst")
    preparing = analyst.get(CSV_URL, WINDOW)
    run = QueryRun.objects.get()
    assert preparing.status_code == 202
    QueryRun.objects.filter(pk=run.pk).update(status="failed", error="the engine fell over")
    response = analyst.get(CSV_URL, {**WINDOW, "run": run.pk})  # the page's reload
    assert response.status_code == 502
    assert "The query failed: the engine fell over" in response.content.decode()
    assert f"/api/runs/{run.pk}" in response.content.decode()
    assert QueryRun.objects.count() == 1  # not asked again
    # Another user's failed run of data they may not read says nothing: a new export instead.
    finance_sql = "SELECT count(*) AS n FROM fin_refunds WHERE event_dt BETWEEN :s AND :e"
    hidden = services.query_submit(
        sql=finance_sql, params={"s": 1, "e": 2}, scope=frozenset(Access)
    ).run
    QueryRun.objects.filter(pk=hidden.pk).update(status="failed", error="secret")
    other = analyst.get(CSV_URL, {**WINDOW, "run": hidden.pk})
    assert other.status_code == 202 and "secret" not in other.content.decode()


@pytest.mark.django_db
def test_csv_access_and_bad_input(lake_settings):
    analyst = client_for("analyst")
    denied = analyst.get("/metrics/sla_breach_count/data.csv", WINDOW)
    assert denied.status_code == 403
    assert "You do not have access" in denied.content.decode()
    bad = analyst.get(CSV_URL, {"start": "2026-01-31", "end": "2026-01-01"})
    assert bad.status_code == 400 and "end: must not be before start" in bad.content.decode()
    assert analyst.get("/metrics/nope/data.csv", WINDOW).status_code == 404
    assert QueryRun.objects.count() == 0
