"""The whole path with real processes: HTTP request, Celery worker, DuckDB over the lake, cache."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import Client

from tests.support.services import wait_until
from tests.support.users import user_with_role
from warehouse.models import QueryRun

SQL = (
    "SELECT step, count(*) AS n FROM fact_funnel_events "
    "WHERE event_dt BETWEEN :start AND :end GROUP BY step ORDER BY step"
)

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def admin_client(lake_settings) -> Client:
    client = Client()
    client.force_login(user_with_role("admin"))
    return client


def post(client: Client, start: str, end: str, sql: str = SQL):
    params = {"start": {"type": "date", "value": start}, "end": {"type": "date", "value": end}}
    return client.post(
        "/api/queries", {"sql": sql, "params": params}, content_type="application/json"
    )


def test_query_runs_on_a_real_worker_then_comes_from_cache(celery_worker, admin_client, settings):
    settings.QUERY_WAIT_SECONDS = 30
    first = post(admin_client, "2026-01-18", "2026-01-31")
    assert first.status_code == 200, first.json()
    body = first.json()
    assert body["status"] == "succeeded" and body["from_cache"] is False
    steps = {row[0]: row[1] for row in body["result"]["rows"]}
    assert steps["search"] > steps["profile_view"] > steps["message"]

    again = post(admin_client, "2026-01-18", "2026-01-31")
    assert again.json()["from_cache"] is True
    assert again.json()["result"] == body["result"]
    assert QueryRun.objects.count() == 1


def test_concurrent_identical_requests_make_one_warehouse_run(
    celery_worker, admin_client, settings
):
    settings.QUERY_WAIT_SECONDS = 30

    def ask(_):
        client = Client()
        client.cookies = admin_client.cookies
        return post(client, "2026-01-19", "2026-01-30").json()

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(ask, range(6)))
    assert {a["status"] for a in answers} == {"succeeded"}
    assert len({a["run_id"] for a in answers}) == 1
    assert len({str(a["result"]) for a in answers}) == 1
    assert QueryRun.objects.count() == 1


def test_engine_failure_marks_the_run_failed_on_the_worker(celery_worker, admin_client, settings):
    settings.QUERY_WAIT_SECONDS = 0
    bad = SQL.replace("count(*)", "sum(CAST(step AS integer))")
    run_id = post(admin_client, "2026-01-20", "2026-01-21", sql=bad).json()["run_id"]
    run = wait_until(lambda: QueryRun.objects.filter(pk=run_id, status="failed").first())
    assert "Could not convert" in run.error
    assert run.finished_at is not None
