from datetime import date

import pandas as pd
import pytest

from portal.roles import Access
from warehouse import services
from warehouse.engines.base import TransientWarehouseError
from warehouse.lake.storage import bump_watermark
from warehouse.models import QueryRun
from warehouse.sql import QueryRefused, SqlError

GENERAL = frozenset({Access.GENERAL})
ADMIN = frozenset(Access)
FUNNEL_SQL = """
SELECT event_dt, count_if(step = 'search') AS searches, count(*) AS steps
FROM fact_funnel_events
WHERE event_dt BETWEEN :start AND :end
GROUP BY event_dt
ORDER BY event_dt
"""
WINDOW = {"start": date(2026, 1, 20), "end": date(2026, 1, 26)}

pytestmark = pytest.mark.django_db


def expected_funnel(lake_root) -> pd.DataFrame:
    """The same numbers straight from the Parquet files with pandas."""
    frame = pd.read_parquet(lake_root / "gold" / "fact_funnel_events")
    frame["event_dt"] = pd.to_datetime(frame["event_dt"].astype(str)).dt.date
    frame = frame[(frame.event_dt >= WINDOW["start"]) & (frame.event_dt <= WINDOW["end"])]
    return (
        frame.groupby("event_dt")
        .agg(searches=("step", lambda s: int((s == "search").sum())), steps=("step", "size"))
        .reset_index()
    )


def submit(**overrides):
    kwargs = {"sql": FUNNEL_SQL, "params": WINDOW, "scope": GENERAL, **overrides}
    return services.query_submit(**kwargs)


def test_run_executes_on_the_lake_and_matches_pandas(lake_settings):
    submission = submit(label="funnel")
    assert submission.cached is None
    run = services.query_run_execute(run_id=submission.run.pk)
    assert run.status == QueryRun.Status.SUCCEEDED
    assert run.rows == 7 and run.bytes_scanned > 0
    assert "$start" in run.translated_sql and "2026-01-20" not in run.translated_sql
    assert run.started_at <= run.finished_at

    cached = submit().cached
    assert cached is not None and cached.run_id == run.pk
    got = cached.frame.assign(event_dt=pd.to_datetime(cached.frame.event_dt).dt.date)
    want = expected_funnel(lake_settings)
    assert (
        got[["event_dt", "searches", "steps"]]
        .astype({"searches": int, "steps": int})
        .equals(want.astype({"searches": int, "steps": int}))
    )
    assert cached.data_as_of == "2026-01-31"


def test_identical_requests_in_flight_share_one_run(lake_settings):
    first = submit()
    second = submit()
    assert second.run.pk == first.run.pk
    assert QueryRun.objects.count() == 1


def test_a_run_finishing_between_the_cache_read_and_the_flight_look_is_not_run_again(
    lake_settings, monkeypatch
):
    """The interleaving of a request that misses the cache just before an identical run writes
    it, and looks for the run in flight just after it left flight."""
    first = submit()
    look_in_flight = services._in_flight

    def finishing_first(key):
        services.query_run_execute(run_id=first.run.pk)
        return look_in_flight(key)

    monkeypatch.setattr(services, "_in_flight", finishing_first)
    second = submit()
    assert second.run is None and second.cached.run_id == first.run.pk
    assert QueryRun.objects.count() == 1


def test_force_refresh_bypasses_the_cache(lake_settings):
    run = services.query_run_execute(run_id=submit().run.pk)
    refreshed = submit(force_refresh=True)
    assert refreshed.cached is None and refreshed.run.pk != run.pk


def test_scope_is_part_of_the_cache_key(lake_settings):
    run = services.query_run_execute(run_id=submit().run.pk)
    other_scope = submit(scope=ADMIN)
    assert other_scope.cached is None
    assert other_scope.run.cache_key != run.cache_key


def test_new_data_invalidates_cached_results(lake_settings):
    services.query_run_execute(run_id=submit().run.pk)
    assert submit().cached is not None
    bump_watermark(lake_settings)
    after = submit()
    assert after.cached is None and after.run is not None


def test_partition_rule_and_access_are_checked_before_queueing(lake_settings):
    with pytest.raises(QueryRefused, match="without a filter on event_dt"):
        submit(sql="SELECT count(*) FROM fact_funnel_events", params={})
    with pytest.raises(services.DataAccessDenied):
        submit(
            sql="SELECT count(*) FROM fin_refunds WHERE event_dt BETWEEN :start AND current_date",
            params={"start": 1},
        )
    with pytest.raises(SqlError, match="Missing value for parameter :end"):
        submit(params={"start": WINDOW["start"]})
    assert QueryRun.objects.count() == 0


def test_engine_error_fails_the_run_with_the_engine_message(lake_settings):
    sql = "SELECT CAST(step AS integer) AS n FROM fact_funnel_events WHERE event_dt = :d"
    run = services.query_run_execute(run_id=submit(sql=sql, params={"d": WINDOW["end"]}).run.pk)
    assert run.status == QueryRun.Status.FAILED
    assert "Could not convert string" in run.error
    assert run.finished_at is not None


def test_transient_error_puts_the_run_back_in_the_queue(settings):
    settings.WAREHOUSE_POSTGRES_URL = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"
    run = submit(engine="postgres").run
    with pytest.raises(TransientWarehouseError):
        services.query_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == QueryRun.Status.QUEUED and run.attempts == 1


def test_finished_runs_are_not_run_again(lake_settings):
    run = services.query_run_execute(run_id=submit().run.pk)
    assert services.query_run_execute(run_id=run.pk) is None


def test_sync_run_records_a_run_and_reuses_the_cache(
    lake_settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as enqueued:
        first = services.query_run_sync(sql=FUNNEL_SQL, params=WINDOW, scope=GENERAL, label="job")
    assert enqueued == []  # ran here, not on another worker
    run = QueryRun.objects.get()
    assert run.status == QueryRun.Status.SUCCEEDED and run.label == "job"
    assert first.run_id == run.pk and len(first.frame) == 7
    again = services.query_run_sync(sql=FUNNEL_SQL, params=WINDOW, scope=GENERAL)
    assert again.run_id == run.pk and QueryRun.objects.count() == 1


def test_sync_run_raises_with_the_engine_message(lake_settings):
    sql = "SELECT CAST(step AS integer) AS n FROM fact_funnel_events WHERE event_dt = :d"
    with pytest.raises(services.QueryFailed, match="Could not convert string"):
        services.query_run_sync(sql=sql, params={"d": WINDOW["end"]}, scope=GENERAL)
