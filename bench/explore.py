"""Explore: the explore view and its value pickers on the 50M-event lake, against the same
question asked of DuckDB by hand.

- cold: a rate by week over 90 days, broken down into its top 3 values plus Other, each time
  for a window not cached yet: the explore API (202), the run executed in this process as the
  worker executes it (engine, cache write), the API again (200, shaped). HTTP and the Celery
  hop are the query_path suite's. Baseline: the fastest SQL by hand (native count_if, the top
  3 and Other in the same statement) on a DuckDB connection opened before the timings, over
  the same files and for the same window, alternated run by run with the portal's (B, A, B,
  A, ...). Target: at most the baseline + 25 ms at the median.
- warm: the same view cached, alternated request by request with today's tile request (the
  metric data API, cached) for the same window; target: as fast as the tile (ratio at most 1).
- pickers: the values of the breakdown's dimension, cold once, then warm; target under 100 ms.
"""

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
# The explore view's cached answer no dearer than a tile's.
WARM_RATIO_MAX = 1.0

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
    return date.fromisoformat(common.lake_marker()["end_date"])


def _hand(con):
    """A callable asking HAND_SQL on ``con`` for a window ending at a given day."""
    from warehouse.engines.duckdb import parquet_scan_sql
    from warehouse.lake import contract, storage

    table = contract.table("fact_funnel_events")
    scan = parquet_scan_sql(storage.data_files(common.BENCH_LAKE, table), table)
    sql = HAND_SQL.replace("fact_funnel_events", scan)

    def ask(window_end: date) -> None:
        start = window_end - timedelta(days=DAYS - 1)
        con.execute(sql, {"start": start, "end": window_end}).fetchall()

    return ask


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

    def window_end(round_: int) -> date:
        return end - timedelta(days=round_ + 2)  # a window no run has cached yet, per round

    def portal(round_: int) -> None:
        _, runs = _answer(client, url, view(window_end(round_)))
        assert runs == 1, runs

    common.drop_cached([f"metric:{SLUG}", f"values:{SLUG}:{DIMENSION}"])  # cold means cold
    con = common.duckdb_connection()
    try:
        hand = _hand(con)
        cold = common.alternate(
            {"hand": lambda r: hand(window_end(r)), "portal": portal}, COLD_REPEAT
        )
    finally:
        con.close()

    # Warm: the explore view and today's tile request for the same window, alternated.
    query = view(end)
    _answer(client, url, query)
    tile_url = f"/api/metrics/{SLUG}/data"
    tile_query = {"start": query["start"], "end": end, "grain": "week", "split_by": DIMENSION}
    _answer(client, tile_url, tile_query)
    warm = common.alternate(
        {
            "tile": lambda _: client.get(tile_url, tile_query),
            "explore": lambda _: client.get(url, query),
        },
        WARM_REPEAT,
    )

    values_url = f"/api/metrics/{SLUG}/values/{DIMENSION}"
    window = {"start": query["start"], "end": end}
    started = time.perf_counter()
    values, _ = _answer(client, values_url, window)
    values_cold = time.perf_counter() - started
    values_warm = common.timings(lambda: client.get(values_url, window), WARM_REPEAT)

    cold_paired = common.paired(cold["hand"], cold["portal"])
    warm_paired = common.paired(warm["tile"], warm["explore"])
    picker = common.spread_ms(values_warm)
    return {
        "question": f"{SLUG} by week over {DAYS} days, top {TOP} {DIMENSION} + Other",
        "path": "Django test client in process; runs executed in process (no Celery hop)",
        "cold": {"baseline_is": "hand-written DuckDB SQL", **cold_paired},
        "warm": {"baseline_is": "the tile's cached data request", **warm_paired},
        "picker_values": len(values["values"]),
        "picker_cold_ms": common.ms(values_cold),
        "picker_warm": picker,
        "targets": {
            "explore_cold_extra_ms_max": TARGET_COLD_EXTRA_MS,
            "picker_warm_median_ms_max": TARGET_PICKER_WARM_MS,
            "warm_ratio_max": WARM_RATIO_MAX,
        },
        "met": {
            "explore_cold_extra_ms_max": cold_paired["extra_ms"] <= TARGET_COLD_EXTRA_MS,
            "picker_warm_median_ms_max": picker["median_ms"] <= TARGET_PICKER_WARM_MS,
            "warm_ratio_max": warm_paired["ratio"] <= WARM_RATIO_MAX,
        },
    }
