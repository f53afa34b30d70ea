"""Pipeline health on the 50M-event lake.

- checks: every health check over the lake's 90 days (the beat job's work, with a 90-day
  window and no cached results), as the worker runs it: canonical SQL through the warehouse
  layer, evaluation, the time series written to the portal database, alerts. Target 10 s.
- baseline: one plain DuckDB scan of the same tables and columns the checks read, over the same
  days, in this process; the checks' time is quoted as a ratio of it.
- overview: the /pipeline/ page over 90 days of stored series, warm (after one load), through
  Django's test client. Target under 100 ms.
"""

import json
import statistics
import time
from datetime import UTC, date, datetime, timedelta

from bench import common

REPEAT = 3
PAGE_LOADS = 30
# The columns the checks read, per table (freshness reads the newest rows of every table too).
SCANNED = {
    "raw_events": ("ingest_ts", "event_name", "schema_version"),
    "events": ("ingest_ts", "silver_processed_ts"),
    "fact_funnel_events": ("event_ts", "silver_processed_ts", "gold_processed_ts"),
    "dead_letter_events": ("received_ts", "reason", "event_name", "payload"),
}


def _window() -> tuple[date, date]:
    marker = json.loads((common.BENCH_LAKE / "_demo_lake.json").read_text())
    end = date.fromisoformat(marker["end_date"])
    return end - timedelta(days=marker["days"] - 1), end


def _plain_scan(start: date, end: date) -> float:
    """One bare DuckDB pass over the same columns of the same partitions, no grouping."""
    import duckdb
    from django.conf import settings

    from warehouse.engines.duckdb import parquet_scan_sql
    from warehouse.lake import contract, storage

    def once() -> None:
        con = duckdb.connect(config={"threads": settings.DUCKDB_THREADS})
        for name, columns in SCANNED.items():
            table = contract.table(name)
            scan = parquet_scan_sql(storage.data_files(common.BENCH_LAKE, table), table)
            aggregates = ", ".join(f"max({c})" for c in columns)
            con.execute(
                f"SELECT count(*), {aggregates} FROM {scan} "  # noqa: S608
                "WHERE event_dt BETWEEN $start AND $end",
                {"start": start, "end": end},
            ).fetchall()
        con.close()

    once()  # warm the OS page cache, as the checks will find it
    return common.median_time(once, REPEAT)[0]


def run() -> dict:
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client

    from pipeline import services
    from pipeline.models import CheckState, HealthRun
    from warehouse.models import QueryRun

    call_command("migrate", verbosity=0)
    start, end = _window()
    days = (end - start).days + 1
    as_of = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    as_of += timedelta(minutes=30)
    baseline_s = _plain_scan(start, end)

    def checks() -> HealthRun:
        run = services.health_run(as_of=as_of, days=days, force_refresh=True)
        assert run.outcome == HealthRun.Outcome.SUCCEEDED, run.error
        return run

    checks()  # imports, first connection
    samples, warehouse = [], []
    for _ in range(REPEAT):
        started = time.perf_counter()
        run = checks()
        samples.append(time.perf_counter() - started)
        runs = QueryRun.objects.filter(queued_at__gte=run.started_at, label__startswith="pipeline:")
        warehouse.append(sum(r.duration_s or 0 for r in runs))
    checks_s = statistics.median(samples)

    admin, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_superuser": True})
    admin.is_superuser = True
    admin.save()
    client = Client()
    client.force_login(admin)
    url = f"/pipeline/?days={min(days, 90)}"
    assert client.get(url).status_code == 200  # warm
    loads = []
    for _ in range(PAGE_LOADS):
        started = time.perf_counter()
        response = client.get(url)
        loads.append(time.perf_counter() - started)
        assert response.status_code == 200
    loads.sort()
    return {
        "days": days,
        "plain_scan_s": round(baseline_s, 3),
        "checks_s": round(checks_s, 3),
        "checks_ratio": round(checks_s / baseline_s, 2),
        "checks_warehouse_s": round(statistics.median(warehouse), 3),
        "statuses": dict(CheckState.objects.values_list("name", "status")),
        "overview_warm_median_ms": round(statistics.median(loads) * 1000, 1),
        "overview_warm_p95_ms": round(loads[int(len(loads) * 0.95) - 1] * 1000, 1),
        "targets": {"checks_s_max": 10, "overview_warm_ms_max": 100},
    }
