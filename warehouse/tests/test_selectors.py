"""Reads of the warehouse app: which runs a user sees."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.support.users import user_with_role
from warehouse import selectors
from warehouse.models import QueryRun

pytestmark = pytest.mark.django_db


def make_runs(count: int, *, tables: list[str], label: str, newest_minute: int) -> None:
    now = timezone.now()
    QueryRun.objects.bulk_create(
        QueryRun(
            engine="duckdb",
            label=label,
            sql_hash="0" * 16,
            canonical_sql="SELECT 1",
            scope="general",
            tables=tables,
            cache_key=f"{label}-{i}",
            status=QueryRun.Status.SUCCEEDED,
            queued_at=now - timedelta(minutes=newest_minute + i),
        )
        for i in range(count)
    )


def test_hidden_runs_do_not_take_the_place_of_readable_ones(django_assert_max_num_queries):
    analyst = user_with_role("analyst")
    make_runs(150, tables=["fin_refunds"], label="finance", newest_minute=0)
    make_runs(60, tables=["fact_bookings"], label="privacy: pii check", newest_minute=200)
    make_runs(120, tables=["fact_bookings", "events"], label="bookings", newest_minute=400)
    # "events" must not hide a run of "raw_events" (restricted) or the other way round.
    make_runs(5, tables=["raw_events"], label="raw", newest_minute=600)
    with django_assert_max_num_queries(3):
        runs = list(selectors.runs_readable(analyst).order_by("-queued_at")[:100])
    assert len(runs) == 100
    assert {run.label for run in runs} == {"bookings"}
    assert runs == list(QueryRun.objects.filter(label="bookings")[:100])


def test_readers_of_restricted_data_see_its_runs():
    finance = user_with_role("finance")
    make_runs(3, tables=["finance_cases_v"], label="finance view", newest_minute=0)
    make_runs(2, tables=["fin_refunds"], label="finance table", newest_minute=10)
    make_runs(2, tables=["support_tickets_v"], label="support view", newest_minute=20)
    make_runs(1, tables=["dim_listings"], label="general", newest_minute=30)
    runs = list(selectors.runs_readable(finance).order_by("-queued_at")[:10])
    assert [run.label for run in runs] == ["finance view"] * 3 + ["general"]
