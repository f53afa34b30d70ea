"""Portal overhead: one metric query through the whole path (HTTP request, Celery worker, engine,
cache write) against the same SQL run straight on DuckDB, on the 50M-event lake."""

import statistics
import time

from bench import common

SQL = """
SELECT event_dt,
       count_if(step = 'search') AS searches,
       count_if(step = 'profile_view') AS views,
       count_if(step = 'message') AS messages,
       count_if(step = 'checkout_start') AS checkout_starts
FROM fact_funnel_events
WHERE event_dt BETWEEN :start AND :end
GROUP BY event_dt
ORDER BY event_dt
"""
REPEAT = 7


def _window():
    import json
    from datetime import date, timedelta

    marker = json.loads((common.BENCH_LAKE / "_demo_lake.json").read_text())
    end = date.fromisoformat(marker["end_date"])
    return end - timedelta(days=marker["days"] - 1), end


def _direct(start, end) -> float:
    """The baseline: the same translated SQL on a bare DuckDB connection over the same files."""
    import duckdb

    from warehouse.engines.duckdb import parquet_scan_sql
    from warehouse.lake import contract, storage
    from warehouse.sql import parse, translate

    table = contract.table("fact_funnel_events")
    scan = parquet_scan_sql(storage.data_files(common.BENCH_LAKE, table), table)
    sql = translate(parse(SQL), "duckdb")

    def once():
        con = duckdb.connect()
        con.execute(f"CREATE VIEW fact_funnel_events AS SELECT * FROM {scan}")  # noqa: S608
        con.execute(sql, {"start": start, "end": end}).fetchall()
        con.close()

    once()  # warm the OS page cache, as the portal runs will find it
    return common.median_time(once, REPEAT)[0]


def run() -> dict:
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client

    from tests.support.services import WorkerProcess

    call_command("migrate", verbosity=0)
    admin, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_superuser": True})
    admin.is_superuser = True
    admin.save()
    client = Client()
    client.force_login(admin)
    settings.QUERY_WAIT_SECONDS = 300
    start, end = _window()
    params = {
        "start": {"type": "date", "value": str(start)},
        "end": {"type": "date", "value": str(end)},
    }

    def ask(force: bool) -> dict:
        response = client.post(
            "/api/queries",
            {"sql": SQL, "params": params, "force_refresh": force, "label": "bench"},
            content_type="application/json",
        )
        body = response.json()
        assert body["status"] == "succeeded", body
        return body

    worker = WorkerProcess(common.BENCH_LAKE)
    try:
        ask(force=True)  # first run warms the worker's imports
        direct_s = _direct(start, end)
        path_s = []
        for _ in range(REPEAT):
            started = time.perf_counter()
            ask(force=True)
            path_s.append(time.perf_counter() - started)
        hits = []
        for _ in range(50):
            started = time.perf_counter()
            assert ask(force=False)["from_cache"]
            hits.append(time.perf_counter() - started)
    finally:
        worker.stop()
    cold = statistics.median(path_s)
    return {
        "broker": "redis" if settings.REDIS_URL else "filesystem",
        "direct_duckdb_s": round(direct_s, 4),
        "portal_cold_s": round(cold, 4),
        "cold_ratio": round(cold / direct_s, 3),
        "cache_hit_median_ms": round(statistics.median(hits) * 1000, 2),
        "cache_hit_p95_ms": round(sorted(hits)[int(len(hits) * 0.95) - 1] * 1000, 2),
        "targets": {"cold_ratio_max": 1.2, "cache_hit_ms_max": 5},
    }
