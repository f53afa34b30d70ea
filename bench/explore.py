"""Explore: the explore view and its value pickers on the 50M-event lake, against the same
question asked of DuckDB by hand.

- cold: a rate by week over 90 days, broken down into its top 3 values plus Other, each time
  for a window not cached yet: the explore API (202), the run executed in this process as the
  worker executes it (engine, cache write), the API again (200, shaped). The Celery hop is
  the query_path suite's. Baseline: the fastest SQL by hand (native count_if, the top 3 and
  Other in the same statement) on a bare DuckDB connection over the same files, run for the
  same window just before each portal run, so both find the OS page cache alike. Target: at
  most the baseline + 25 ms.
- warm: the same view cached, alternated request by request with today's tile request (the
  metric data API, cached) for the same window; target: as fast as the tile (ratio near 1).
- pickers: the values of the breakdown's dimension, cold once, then warm; target under 100 ms.
"""

import statistics
import time
from datetime import date, timedelta

from bench import common

SLUG = "view_to_message_rate"
DIMENSION = "listing_kind"
DAYS = 90
TOP = 3  # HAND_SQL's LIMIT
COLD_REPEAT = 7
WARM_REPEAT = 200
TARGET_COLD_EXTRA_MS = 25
TARGET_PICKER_WARM_MS = 100

# The question by hand: messages per listing page view by ISO week, the 3 kinds with the most
# views, the rest as Other.
HAND_SQL = """
WITH weekly AS (
    SELECT date_trunc('week', event_dt) AS period,
           coalesce(listing_kind, 'unknown') AS kind,
           count_if(step = 'message') AS messages,
           count_if(step = 'profile_view') AS views
    FROM fact_funnel_events
    WHERE event_dt BETWEEN $start AND $end AND step IN ('profile_view', 'message')
    GROUP BY 1, 2
),
top AS (SELECT kind FROM weekly GROUP BY kind ORDER BY sum(views) DESC LIMIT 3)
SELECT period,
       CASE WHEN kind IN (SELECT kind FROM top) THEN kind ELSE 'Other' END AS series,
       sum(messages) / sum(views) AS value, sum(messages), sum(views)
FROM weekly GROUP BY 1, 2 ORDER BY 1, 2
"""


def _end() -> date:
    import json

    marker = json.loads((common.BENCH_LAKE / "_demo_lake.json").read_text())
    return date.fromisoformat(marker["end_date"])


def _hand(start: date, end: date) -> float:
    import duckdb
    from django.conf import settings

    from warehouse.engines.duckdb import parquet_scan_sql
    from warehouse.lake import contract, storage

    table = contract.table("fact_funnel_events")
    scan = parquet_scan_sql(storage.data_files(common.BENCH_LAKE, table), table)
    started = time.perf_counter()
    con = duckdb.connect(config={"threads": settings.DUCKDB_THREADS})
    con.execute(f"CREATE VIEW fact_funnel_events AS SELECT * FROM {scan}")  # noqa: S608
    con.execute(HAND_SQL, {"start": start, "end": end}).fetchall()
    con.close()
    return time.perf_counter() - started


def _answer(client, url: str, query: dict) -> tuple[dict, int]:
    from warehouse.services import query_run_execute

    runs = 0
    response = client.get(url, query)
    while response.status_code == 202:
        query_run_execute(run_id=response.json()["run_id"])
        runs += 1
        response = client.get(url, query)
    assert response.status_code == 200, response.content[:300]
    return response.json(), runs


def _forget(*labels: str) -> None:
    """Drop the cached results of earlier runs with these labels (this suite's own)."""
    from django.core.cache import cache

    from warehouse.models import QueryRun

    keys = QueryRun.objects.filter(label__in=labels).values_list("cache_key", flat=True)
    cache.delete_many(sorted(set(keys)))


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def run() -> dict:
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0)
    settings.DEBUG = False
    user, _ = User.objects.get_or_create(username="bench-analyst")
    user.groups.add(Group.objects.get_or_create(name="analyst")[0])
    client = Client()
    client.force_login(user)

    end = _end()
    url = "/api/explore/data"

    def view(window_end: date) -> dict:
        start = window_end - timedelta(days=DAYS - 1)
        return {"metric": SLUG, "start": start, "end": window_end, "grain": "week",
                "compare": "none", "split_by": DIMENSION, "top": TOP}  # fmt: skip

    # Imports, the catalogue and the engine's first connection, outside the timings.
    _hand(end - timedelta(days=DAYS - 1), end)
    _answer(client, url, view(end - timedelta(days=60)))

    _forget(f"metric:{SLUG}", f"values:{SLUG}:{DIMENSION}")  # cold means cold, run after run
    hand_s, cold_s = [], []
    for i in range(COLD_REPEAT):
        window_end = end - timedelta(days=i + 1)  # a window no run has cached yet
        query = view(window_end)
        hand_s.append(_hand(query["start"], window_end))
        started = time.perf_counter()
        _, runs = _answer(client, url, query)
        cold_s.append(time.perf_counter() - started)
        assert runs == 1, runs

    # Warm: the explore view and today's tile request for the same window, alternated.
    query = view(end)
    _answer(client, url, query)
    tile_url = f"/api/metrics/{SLUG}/data"
    tile_query = {"start": query["start"], "end": end, "grain": "week", "split_by": DIMENSION}
    _answer(client, tile_url, tile_query)
    explore_warm, tile_warm = [], []
    for _ in range(WARM_REPEAT):
        explore_warm.append(_timed(lambda: client.get(url, query)))
        tile_warm.append(_timed(lambda: client.get(tile_url, tile_query)))

    values_url = f"/api/metrics/{SLUG}/values/{DIMENSION}"
    window = {"start": query["start"], "end": end}
    started = time.perf_counter()
    values, _ = _answer(client, values_url, window)
    values_cold = time.perf_counter() - started
    values_warm = [_timed(lambda: client.get(values_url, window)) for _ in range(WARM_REPEAT)]

    hand, cold = statistics.median(hand_s), statistics.median(cold_s)
    return {
        "question": f"{SLUG} by week over {DAYS} days, top {TOP} {DIMENSION} + Other",
        "path": "Django test client in process; runs executed in process (no Celery hop)",
        "hand_duckdb_ms": _ms(hand),
        "explore_cold_ms": _ms(cold),
        "explore_cold_extra_ms": _ms(cold - hand),
        "explore_cold_samples_ms": [_ms(s) for s in cold_s],
        "hand_duckdb_samples_ms": [_ms(s) for s in hand_s],
        "explore_warm_median_ms": _ms(statistics.median(explore_warm)),
        "explore_warm_p95_ms": _ms(_p95(explore_warm)),
        "tile_warm_median_ms": _ms(statistics.median(tile_warm)),
        "tile_warm_p95_ms": _ms(_p95(tile_warm)),
        "warm_ratio": round(statistics.median(explore_warm) / statistics.median(tile_warm), 2),
        "picker_values": len(values["values"]),
        "picker_cold_ms": _ms(values_cold),
        "picker_warm_median_ms": _ms(statistics.median(values_warm)),
        "picker_warm_p95_ms": _ms(_p95(values_warm)),
        "targets": {
            "explore_cold_extra_ms_max": TARGET_COLD_EXTRA_MS,
            "picker_warm_ms_max": TARGET_PICKER_WARM_MS,
            "warm_ratio_max": 1.0,
        },
    }
