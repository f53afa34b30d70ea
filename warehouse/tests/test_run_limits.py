"""Cost and queue abuse: a per-user cap on runs in flight (429 naming the limit), and force
refresh limited to roles that may pay for scans, to results old enough, a few times an hour."""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from portal.roles import Access
from tests.support.users import user_with_role
from warehouse import result_cache, services
from warehouse.models import QueryRun

GENERAL = frozenset({Access.GENERAL})
SQL = """
SELECT step, count(*) AS n FROM fact_funnel_events
WHERE event_dt BETWEEN :start AND :end GROUP BY step ORDER BY step
"""
METRIC = "/api/metrics/search_to_view_ctr/data"


def window(day: int) -> dict:
    """A distinct request per day: each is a run of its own."""
    return {"start": date(2026, 1, 18), "end": date(2026, 1, 18) + timedelta(days=day)}


def submit(user, day: int = 0, **overrides) -> services.Submission:
    kwargs = {"sql": SQL, "params": window(day), "scope": GENERAL, "user": user, **overrides}
    return services.query_submit(**kwargs)


@pytest.fixture
def capped(settings, lake_settings):
    settings.QUERY_USER_MAX_IN_FLIGHT = 3
    return settings


@pytest.mark.django_db
class TestInFlightCap:
    def test_a_user_may_have_only_so_many_runs_in_flight(self, capped):
        analyst = user_with_role("analyst")
        runs = [submit(analyst, day).run for day in range(3)]
        with pytest.raises(services.RunLimitReached) as refused:
            submit(analyst, 3)
        assert (refused.value.limit, refused.value.in_flight) == (3, 3)
        assert "the limit is 3 per person" in str(refused.value)
        assert QueryRun.objects.count() == 3

        # What queues nothing is still served: joining a run in flight, a cached result.
        assert submit(analyst, 2).run.pk == runs[2].pk
        services.query_run_execute(run_id=runs[0].pk)
        assert submit(analyst, 0).cached is not None
        # One finished: there is room for one more, and no more.
        assert submit(analyst, 3).run.status == QueryRun.Status.QUEUED
        with pytest.raises(services.RunLimitReached):
            submit(analyst, 4)

    def test_the_cap_is_per_person(self, capped):
        first, second = user_with_role("analyst", "a1"), user_with_role("analyst", "a2")
        for day in range(3):
            submit(first, day)
        assert submit(second, 5).run.requested_by == second

    def test_jobs_are_not_capped(self, capped):
        for day in range(5):
            submit(None, day)
        assert QueryRun.objects.count() == 5

    def test_the_api_answers_429_with_the_limit(self, capped):
        client = Client()
        client.force_login(user_with_role("analyst"))
        for day in range(3):
            query = {"start": "2026-01-18", "end": f"2026-01-{20 + day}"}
            assert client.get(METRIC, query).status_code == 202
        over = client.get(METRIC, {"start": "2026-01-18", "end": "2026-01-30"})
        assert over.status_code == 429
        body = over.json()
        assert (body["limit"], body["in_flight"]) == (3, 3)
        assert "the limit is 3 per person" in body["detail"]
        # The CSV export, a page, says it in words.
        csv = {"start": "2026-01-18", "end": "2026-01-29"}
        page = client.get("/metrics/search_to_view_ctr/data.csv", csv)
        assert page.status_code == 429 and b"the limit is 3 per person" in page.content

    def test_every_api_that_queues_runs_answers_429(self, capped):
        client = Client()
        admin = user_with_role("admin")
        client.force_login(admin)
        for day in range(3):
            submit(admin, day)
        over = client.get("/api/stats/baseline", {"days": 3})
        assert over.status_code == 429 and over.json()["limit"] == 3
        params = {"start": {"type": "date", "value": "2026-01-18"}}
        params["end"] = {"type": "date", "value": "2026-01-30"}
        body = {"sql": SQL, "params": params}
        over = client.post("/api/queries", body, content_type="application/json")
        assert over.status_code == 429 and over.json()["in_flight"] == 3

    def test_the_finance_page_says_so_in_words(self, capped):
        client = Client()
        finance = user_with_role("finance")
        client.force_login(finance)
        for day in range(3):
            submit(finance, day)
        page = client.get("/finance/")
        assert page.status_code == 200
        assert b"the limit is 3 per person" in page.content


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_of_one_person_cannot_pass_the_cap(capped):
    analyst = user_with_role("analyst")

    def ask(day: int) -> str:
        try:
            # No message: a worker left running by other tests would finish runs and free places.
            submit(analyst, day, enqueue=False)
            return "queued"
        except services.RunLimitReached:
            return "refused"
        finally:
            connection.close()  # this thread's own

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(ask, range(12)))
    assert answers.count("queued") == 3 and answers.count("refused") == 9
    assert QueryRun.objects.filter(requested_by=analyst).count() == 3


@pytest.mark.django_db
class TestForceRefresh:
    @pytest.fixture
    def cached_old(self, settings, lake_settings):
        """A cached result, and a clock for its age."""
        settings.QUERY_FORCE_REFRESH_MIN_AGE_SECONDS = 300
        settings.QUERY_FORCE_REFRESH_PER_HOUR = 2
        run = services.query_run_execute(run_id=submit(None).run.pk)

        def age(seconds: float) -> None:
            cached = result_cache.get(run.cache_key)
            then = timezone.now() - timedelta(seconds=seconds)
            result_cache.put(run.cache_key, replace(cached, cached_at=then))

        return age

    def test_roles_that_may_not_pay_for_scans_get_the_cached_result(self, cached_old):
        cached_old(3600)
        for role in ("pm", "support", "finance", "privacy"):
            forced = submit(user_with_role(role), force_refresh=True)
            assert forced.cached is not None and forced.run is None, role
        assert QueryRun.objects.count() == 1

    def test_a_young_result_is_served_even_when_forced(self, cached_old):
        analyst = user_with_role("analyst")
        cached_old(60)
        assert submit(analyst, force_refresh=True).cached is not None
        cached_old(301)
        forced = submit(analyst, force_refresh=True)
        assert forced.cached is None and forced.run.force_refresh is True

    def test_forced_refreshes_per_hour_are_limited(self, cached_old):
        analyst = user_with_role("analyst")
        for _ in range(2):
            cached_old(3600)
            run = submit(analyst, force_refresh=True).run
            assert run is not None
            services.query_run_execute(run_id=run.pk)
        cached_old(3600)
        third = submit(analyst, force_refresh=True)
        assert third.cached is not None and third.run is None
        assert QueryRun.objects.filter(force_refresh=True).count() == 2

    def test_jobs_may_always_force(self, cached_old):
        cached_old(1)
        assert submit(None, force_refresh=True).run.force_refresh is True

    def test_the_api_serves_the_cache_to_a_pm_who_forces(self, cached_old, settings):
        settings.QUERY_FORCE_REFRESH_MIN_AGE_SECONDS = 0  # the role alone decides
        client = Client()
        client.force_login(user_with_role("pm"))
        query = {"start": "2026-01-18", "end": "2026-01-31"}
        run_id = client.get(METRIC, query).json()["run_id"]
        services.query_run_execute(run_id=run_id)
        forced = client.get(METRIC, {**query, "force_refresh": "true"})
        assert forced.status_code == 200 and forced.json()["run_id"] == run_id
        assert not QueryRun.objects.filter(force_refresh=True).exists()
