"""CSV export of a metric's data: the API's data path and access check, as a file."""

import csv
import io

import pandas as pd
import pytest

from metrics.tests.ui_support import WINDOW, client_for, fetch_data, lake_table
from warehouse.models import QueryRun

CSV_URL = "/metrics/seo_nonbrand_clicks/data.csv"


def parse(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def nonbrand_clicks(lake) -> dict[str, int]:
    seo = lake_table(lake, "fact_seo_landings")
    return seo[seo.query_class == "non_brand"].groupby("event_dt")["clicks"].sum().to_dict()


@pytest.mark.django_db
def test_csv_of_a_cached_result(lake_settings, settings):
    analyst = client_for("analyst", settings)
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


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_csv_waits_for_the_run_on_a_real_worker(celery_worker, lake_settings, settings):
    analyst = client_for("analyst", settings)
    response = analyst.get(CSV_URL, {**WINDOW, "grain": "week"})
    assert response.status_code == 200, response.content
    daily = pd.Series(nonbrand_clicks(lake_settings))
    days = pd.to_datetime(daily.index)
    weekly = daily.groupby((days - pd.to_timedelta(days.weekday, unit="D")).strftime("%F")).sum()
    assert {r["period"]: int(r["value"]) for r in parse(response)} == weekly.to_dict()
    assert QueryRun.objects.get().status == "succeeded"


@pytest.mark.django_db
def test_csv_of_a_run_that_does_not_finish_in_time_is_an_error_page(lake_settings, settings):
    settings.QUERY_TIME_LIMIT_SECONDS = 0
    response = client_for("analyst", settings).get(CSV_URL, WINDOW)
    assert response.status_code == 504
    assert "still queued" in response.content.decode()


@pytest.mark.django_db
def test_csv_access_and_bad_input(lake_settings, settings):
    analyst = client_for("analyst", settings)
    denied = analyst.get("/metrics/sla_breach_count/data.csv", WINDOW)
    assert denied.status_code == 403
    assert "You do not have access" in denied.content.decode()
    bad = analyst.get(CSV_URL, {"start": "2026-01-31", "end": "2026-01-01"})
    assert bad.status_code == 400 and "end: must not be before start" in bad.content.decode()
    assert analyst.get("/metrics/nope/data.csv", WINDOW).status_code == 404
    assert QueryRun.objects.count() == 0
