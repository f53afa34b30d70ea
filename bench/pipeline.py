"""Pipeline health on the 50M-event lake.

- checks: every health check over the lake's 90 days (the beat job's work, with a 90-day
  window and no cached results), as the worker runs it: canonical SQL through the warehouse
  layer, evaluation, the time series written to the portal database, alerts. Target 10 s.
- baseline: one plain DuckDB scan of the same tables and columns the checks read, over the same
  days, in this process, on a connection opened before the timings (the least any check must
  read); alternated run by run with the checks (B, A, B, A, ...), which are quoted as a ratio
  of it.
- overview: the /pipeline/ page over 90 days of stored series, warm (after one load), through
  Django's test client. Target under 100 ms at the median.
"""

import statistics
from datetime import UTC, date, datetime, timedelta

from bench import common

REPEAT = 3
PAGE_LOADS = 30
CHECKS_S_MAX, OVERVIEW_MS_MAX = 10, 100
# The columns the checks read, per table (freshness reads the newest rows of every table too).
SCANNED = {
    "raw_events": ("ingest_ts", "event_name", "schema_version"),
    "events": ("ingest_ts", "silver_processed_ts"),
    "fact_funnel_events": ("event_ts", "silver_processed_ts", "gold_processed_ts"),
    "dead_letter_events": ("received_ts", "reason", "event_name", "payload"),
}


def _window() -> tuple[date, date]:
    marker = common.lake_marker()
    end = date.fromisoformat(marker["end_date"])
    return end - timedelta(days=marker["days"] - 1), end


def _plain_scan(con, start: date, end: date):
    """A callable: one bare DuckDB pass over the same columns of the same partitions, no
    grouping."""
    from warehouse.engines.duckdb import parquet_scan_sql
    from warehouse.lake import contract, storage

    queries = []
    for name, columns in SCANNED.items():
        table = contract.table(name)
        scan = parquet_scan_sql(storage.data_files(common.BENCH_LAKE, table), table)
        aggregates = ", ".join(f"max({c})" for c in columns)
        queries.append(
            f"SELECT count(*), {aggregates} FROM {scan} "  # noqa: S608
            "WHERE event_dt BETWEEN $start AND $end"
        )

    def once(_round: int = 0) -> None:
        for sql in queries:
            con.execute(sql, {"start": start, "end": end}).fetchall()

    return once


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
    warehouse = []

    def checks(round_: int) -> None:
        run = services.health_run(as_of=as_of, days=days, force_refresh=True)
        assert run.outcome == HealthRun.Outcome.SUCCEEDED, run.error
        if round_ >= 0:
            runs = QueryRun.objects.filter(
                queued_at__gte=run.started_at, label__startswith="pipeline:"
            )
            warehouse.append(sum(r.duration_s or 0 for r in runs))

    con = common.duckdb_connection()
    try:
        plain_scan = _plain_scan(con, start, end)
        samples = common.alternate({"plain_scan": plain_scan, "checks": checks}, REPEAT)
    finally:
        con.close()

    admin, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_superuser": True})
    admin.is_superuser = True
    admin.save()
    client = Client()
    client.force_login(admin)
    url = f"/pipeline/?days={min(days, 90)}"
    assert client.get(url).status_code == 200  # warm

    def load() -> None:
        assert client.get(url).status_code == 200

    overview = common.spread_ms(common.timings(load, PAGE_LOADS))
    paired = common.paired(samples["plain_scan"], samples["checks"])
    checks_s = paired["measured"]["median_ms"] / 1000
    return {
        "days": days,
        "checks": {"baseline_is": "a plain DuckDB scan of the columns read", **paired},
        "checks_warehouse_s": round(statistics.median(warehouse), 3),
        "statuses": dict(CheckState.objects.values_list("name", "status")),
        "overview_warm": overview,
        "targets": {"checks_s_max": CHECKS_S_MAX, "overview_warm_median_ms_max": OVERVIEW_MS_MAX},
        "met": {
            "checks_s_max": checks_s <= CHECKS_S_MAX,
            "overview_warm_median_ms_max": overview["median_ms"] <= OVERVIEW_MS_MAX,
        },
    }
