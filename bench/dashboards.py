"""Dashboards: an 8-tile dashboard on the 50M-event lake through the real path: a gunicorn server
(logged in over HTTP through the login form) and a Celery worker.

- cold: every tile's data (its window and the previous one, as the page asks) force-refreshed
  at once, the way dashboard.js does it (202, poll the run, fetch the cached result); the time
  until every tile has its numbers. Target 3 s. Alternated round by round (B, A, B, A, ...)
  with the baseline: the same questions written by hand for DuckDB (native count_if, median),
  one after the other on an open DuckDB connection over the same files; the hand queries must
  answer what the portal answers.
- warm: 20 concurrent clients load the dashboard page and its tiles' (cached) data, once
  untimed (each server process renders the tiles once), then five times timed; per-request
  latency percentiles (target p95 under 100 ms) and requests per second.
- uncached load: 20 clients open the dashboard at once with nothing cached, each fetching its
  tiles over 6 connections as a browser does. Identical requests share one run (single
  flight), so most requests join a run another started: the latencies of requests that
  executed a run and of those that joined one are reported apart, never mixed.

The clients run on the same two cores as the server, each in its own process: the warm
latencies include their share of the CPU, but not a wait for a lock shared between clients.
"""

import multiprocessing
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date
from urllib.parse import urlencode

from bench import common

DASHBOARD = "marketplace-health"
TILES = 8
CLIENTS = 20
PAGE_LOADS_PER_CLIENT = 5
COLD_REPEAT = 5
UNCACHED_ROUNDS = 3
# A browser's connections per host (Chromium, Firefox): how many tile requests run at once.
BROWSER_CONNECTIONS = 6
COLD_S_MAX, WARM_P95_MS_MAX = 3.0, 100

# The tiles' questions written by hand for DuckDB at the dashboard's grain (day), with no
# breakdown or filter: the shape of the portal's answer (period, dimension_value, value and,
# for rates, numerator and denominator). {name} is the read_parquet() of the table's files.
_FUNNEL_RATE = """
SELECT event_dt, 'all', count_if(step = '{num}') / nullif(count_if(step = '{den}'), 0),
       count_if(step = '{num}'), count_if(step = '{den}')
FROM {{fact_funnel_events}}
WHERE event_dt BETWEEN $start AND $end AND step IN ('{den}', '{num}')
GROUP BY event_dt ORDER BY event_dt
"""
_BOOKING_RATE = """
SELECT event_dt, 'all', count_if({flag}) / count(*), count_if({flag}), count(*)
FROM {{fact_bookings}}
WHERE event_dt BETWEEN $start AND $end
GROUP BY event_dt ORDER BY event_dt
"""
NATIVE_SQL = {
    "search_to_view_ctr": _FUNNEL_RATE.format(num="profile_view", den="search"),
    "view_to_message_rate": _FUNNEL_RATE.format(num="message", den="profile_view"),
    "message_to_checkout_start_rate": _FUNNEL_RATE.format(num="checkout_start", den="message"),
    "checkout_completion_rate": _FUNNEL_RATE.format(num="checkout_complete", den="checkout_start"),
    "refund_rate": _BOOKING_RATE.format(flag="is_refunded"),
    "dispute_rate": _BOOKING_RATE.format(flag="is_disputed"),
    "chargeback_win_rate": """
SELECT event_dt, 'all',
       count_if(chargeback_outcome = 'won')
           / nullif(count_if(chargeback_outcome IN ('won', 'lost')), 0),
       count_if(chargeback_outcome = 'won'), count_if(chargeback_outcome IN ('won', 'lost'))
FROM {fact_bookings}
WHERE event_dt BETWEEN $start AND $end AND has_chargeback
GROUP BY event_dt ORDER BY event_dt
""",
    # The median wait from a listing's creation to its first booking, per creation day.
    "time_to_first_booking": """
WITH new_listings AS (
    SELECT listing_id, created_ts
    FROM {dim_listings}
    WHERE CAST(created_ts AS DATE) BETWEEN $start AND $end
),
waits AS (
    SELECT CAST(any_value(l.created_ts) AS DATE) AS created_dt,
           epoch(min(b.booked_ts) - any_value(l.created_ts)) / 86400.0 AS days
    FROM new_listings AS l
    JOIN {fact_bookings} AS b
        ON b.profile_id = l.listing_id AND b.booked_ts >= l.created_ts
        AND b.event_dt BETWEEN $start AND current_date + 1
    GROUP BY l.listing_id
)
SELECT created_dt, 'all', median(days) FROM waits GROUP BY 1 ORDER BY 1
""",
}


@dataclass(frozen=True)
class View:
    """One tile request: its URL and the hand-written query for the same question."""

    label: str
    url: str
    native_sql: str
    start: date
    end: date


def _views(dashboard, metrics, mark, start: date, end: date) -> list[View]:
    from django.conf import settings

    from metrics.params import matured_params, metric_params
    from metrics.services import metric_label
    from metrics.windows import previous_window
    from warehouse.engines.duckdb import parquet_scan_sql
    from warehouse.lake import contract, storage

    tables = [contract.table(n) for n in ("fact_funnel_events", "fact_bookings", "dim_listings")]
    scans = {t.name: parquet_scan_sql(storage.data_files(common.BENCH_LAKE, t), t) for t in tables}
    views = []
    for metric in metrics:
        shown = metric_params(
            metric,
            start=start,
            end=end,
            grain=dashboard.default_grain,
            max_window_days=settings.METRICS_MAX_WINDOW_DAYS,
        )
        # As the page's tile asks: a censored metric's latest matured window.
        shown = matured_params(metric, shown, mark.max_partition)
        if metric.slug not in NATIVE_SQL or shown.grain != "day":
            raise SystemExit(
                f"{metric.slug} by {shown.grain}: no hand-written query for it in {__name__}"
            )
        for window_start, window_end in [
            (shown.start, shown.end),
            previous_window(shown.start, shown.end),
        ]:
            params = replace(shown, start=window_start, end=window_end)
            query = {"start": window_start, "end": window_end, "grain": params.grain}
            views.append(
                View(
                    label=metric_label(metric),
                    url=f"/api/metrics/{metric.slug}/data?{urlencode(query)}",
                    native_sql=NATIVE_SQL[metric.slug].format(**scans),
                    start=window_start,
                    end=window_end,
                )
            )
    return views


def _native(con, views: list[View]):
    """A callable running every hand-written query on ``con``, one after the other; it
    returns their rows."""

    def once(_round: int = 0) -> list[list[tuple]]:
        return [
            con.execute(v.native_sql, {"start": v.start, "end": v.end}).fetchall() for v in views
        ]

    return once


def _same_answer(view: View, portal: list[list], native: list[tuple]) -> None:
    """The hand query must answer what the portal answers, or the ratio compares two
    different questions."""
    if not common.same_rows(portal, native):
        raise SystemExit(
            f"{view.url}: the hand-written query disagrees with the portal: "
            f"{native[:2]} against {portal[:2]}"
        )


def _tile(http: common.Http, url: str, force: bool = False) -> tuple[dict, int | None]:
    """One tile's data as dashboard.js gets it: 200 now, or 202 then poll the run, then the
    data again; the data and the run waited for (None: cached)."""
    status, body = http.get_json(f"{url}&force_refresh=true" if force else url)
    run_id = None
    if status == 202:
        run_id = body["run_id"]
        common.wait_for_run(http, body["poll_url"])
        status, body = http.get_json(url)
    if status != 200:
        raise RuntimeError(f"{url}: HTTP {status} {str(body)[:200]}")
    return body, run_id


def _fetch_all(port: int, cookies: dict, urls: list[str], force: bool, connections: int):
    """Every URL's data over ``connections`` keep-alive connections at once, as a browser
    fills a page's tiles; (data, common.Fetched) per URL, in order."""
    local = threading.local()
    opened: list[common.Http] = []

    def one(url: str) -> tuple[dict, common.Fetched]:
        if not hasattr(local, "http"):
            local.http = common.Http(port, cookies)
            opened.append(local.http)
        sent_at, started = time.time(), time.perf_counter()
        data, run_id = _tile(local.http, url, force)
        return data, common.Fetched(sent_at, time.perf_counter() - started, run_id)

    try:
        with ThreadPoolExecutor(connections) as pool:
            return list(pool.map(one, urls))
    finally:
        for http in opened:
            http.close()


def _last_run_pk() -> int:
    from warehouse.models import QueryRun

    return QueryRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def _split_report(split: dict[str, list[float]]) -> dict:
    return {
        kind: common.spread_ms(seconds) if seconds else {"n": 0} for kind, seconds in split.items()
    }


def _cold(port: int, cookies: dict, views: list[View], native) -> dict:
    """All tiles force-refreshed at once, alternated with the hand queries."""
    urls = [v.url for v in views]
    splits: list[dict[str, list[float]]] = []

    def portal(_round: int) -> None:
        last = _last_run_pk()
        fetched = [f for _, f in _fetch_all(port, cookies, urls, True, len(urls))]
        splits.append(common.executed_and_joined(fetched, last))

    # Once untimed, to check that both answer the same numbers.
    answers = _fetch_all(port, cookies, urls, True, len(urls))
    for view, (data, _), rows in zip(views, answers, native(), strict=True):
        _same_answer(view, data["result"]["rows"], rows)
    samples = common.alternate({"native": native, "portal": portal}, COLD_REPEAT)
    timed = splits[1:]  # the first was the warm-up round
    return {
        **common.paired(samples["native"], samples["portal"]),
        "requests": {kind: sum(len(split[kind]) for split in timed) for kind in timed[0]},
        "portal_max_s": round(max(samples["portal"]), 3),
    }


def _client(port: int, cookies: dict, page: str, urls: list[str]) -> list[tuple[bool, float]]:
    """One client's page loads: (was it the page, seconds) per request."""
    http = common.Http(port, cookies)
    timings = []
    try:
        # One load untimed: each server process keeps its own rendering of the tiles, and the
        # warm case is the one where it has it.
        for path in (page, *urls):
            http.get(path)
        for _ in range(PAGE_LOADS_PER_CLIENT):
            for path in (page, *urls):
                started = time.perf_counter()
                status, _body = http.get(path)
                elapsed = time.perf_counter() - started
                if status != 200:
                    raise RuntimeError(f"{path}: HTTP {status}")
                timings.append((path == page, elapsed))
    finally:
        http.close()
    return timings


def _warm(port: int, cookies: dict, page: str, urls: list[str]) -> dict:
    # One process per client: twenty client threads in one interpreter would queue for its
    # lock, and that wait would be counted as server latency.
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(CLIENTS) as pool:
        per_client = pool.starmap(_client, [(port, cookies, page, urls)] * CLIENTS)
    wall = time.perf_counter() - started
    page_s = [s for timings in per_client for is_page, s in timings if is_page]
    data_s = [s for timings in per_client for is_page, s in timings if not is_page]
    every = page_s + data_s
    return {
        "clients": CLIENTS,
        "requests": len(every),
        "requests_per_s": round(len(every) / wall, 1),
        "request": common.spread_ms(every),
        "page": common.spread_ms(page_s),
        "tile_data": common.spread_ms(data_s),
    }


def _uncached_client(
    port: int, cookies: dict, page: str, urls: list[str], start_at: float
) -> tuple[float, list[common.Fetched]]:
    """One browser opening the dashboard at ``start_at``: the page, then its tiles over
    BROWSER_CONNECTIONS connections."""
    time.sleep(max(0.0, start_at - time.time()))
    http = common.Http(port, cookies)
    try:
        started = time.perf_counter()
        status, _ = http.get(page)
        page_s = time.perf_counter() - started
        if status != 200:
            raise RuntimeError(f"{page}: HTTP {status}")
    finally:
        http.close()
    fetched = _fetch_all(port, cookies, urls, False, BROWSER_CONNECTIONS)
    return page_s, [f for _, f in fetched]


def _uncached(port: int, cookies: dict, page: str, views: list[View]) -> dict:
    from warehouse.models import QueryRun

    urls = [v.url for v in views]
    labels = sorted({v.label for v in views})
    split: dict[str, list[float]] = {"executed": [], "joined": [], "cached": []}
    pages, runs_created = [], 0
    for _ in range(UNCACHED_ROUNDS):
        common.drop_cached(labels)
        last = _last_run_pk()
        start_at = time.time() + 1.0  # every client forked and ready by then
        with multiprocessing.get_context("fork").Pool(CLIENTS) as pool:
            per_client = pool.starmap(
                _uncached_client, [(port, cookies, page, urls, start_at)] * CLIENTS
            )
        runs_created += QueryRun.objects.filter(pk__gt=last, label__in=labels).count()
        for kind, seconds in common.executed_and_joined(
            [f for _, fetched in per_client for f in fetched], last
        ).items():
            split[kind] += seconds
        pages += [page_s for page_s, _ in per_client]
    return {
        "clients": CLIENTS,
        "rounds": UNCACHED_ROUNDS,
        "tile_requests": sum(len(s) for s in split.values()),
        "runs_created": runs_created,
        # Tile latencies by what the request did; "executed" is the uncached latency.
        **_split_report(split),
        "page": common.spread_ms(pages),
    }


def _cpu_s(server: subprocess.Popen) -> float:
    """CPU seconds used so far by the gunicorn workers: what a request costs, queueing apart."""
    import psutil

    workers = psutil.Process(server.pid).children()
    return sum(sum(w.cpu_times()[:2]) for w in workers)


def run() -> dict:
    from django.conf import settings
    from django.core.management import call_command

    from metrics.catalogue import load_catalogue
    from metrics.dashboards import get_dashboard
    from metrics.windows import default_window
    from tests.support.services import WorkerProcess
    from warehouse import watermark

    call_command("migrate", verbosity=0)
    common.bench_user("bench-analyst", role="analyst")

    dashboard = get_dashboard(DASHBOARD)
    catalogue = load_catalogue()
    metrics = [catalogue.get(tile.metric) for tile in dashboard.tiles[:TILES]]
    mark = watermark.current(settings.WAREHOUSE)
    start, end = default_window(
        data_as_of=mark.max_partition, days=dashboard.default_days, today=date.today()
    )
    views = _views(dashboard, metrics, mark, start, end)
    urls = [v.url for v in views]
    page = f"/dashboards/{DASHBOARD}/?{urlencode({'start': start, 'end': end})}"
    con = common.duckdb_connection()
    native = _native(con, views)

    worker = WorkerProcess(common.BENCH_LAKE)
    try:
        with common.gunicorn() as server:
            cookies = common.http_login(server.port, "bench-analyst")
            cold = _cold(server.port, cookies, views, native)
            cpu_before = _cpu_s(server)
            warm = _warm(server.port, cookies, page, urls)
            warm["server_cpu_ms_per_request"] = round(
                (_cpu_s(server) - cpu_before) * 1000 / warm["requests"], 2
            )
            uncached = _uncached(server.port, cookies, page, views)
    finally:
        worker.stop()
        con.close()
    cold_s = cold["measured"]["median_ms"] / 1000
    return {
        "dashboard": DASHBOARD,
        "tiles": [m.slug for m in metrics],
        "window": f"{start}..{end} by {dashboard.default_grain}, compared with the one before",
        "queries_per_load": len(urls),
        "path": f"HTTP to gunicorn ({common.GUNICORN_WORKERS} sync workers), Celery worker",
        "broker": "redis" if settings.REDIS_URL else "filesystem",
        "baseline": "hand-written DuckDB SQL, one query after the other, alternated round by round",
        "cold_all_tiles": cold,
        "warm": warm,
        "uncached_load": uncached,
        "targets": {"cold_all_tiles_s_max": COLD_S_MAX, "warm_request_p95_ms_max": WARM_P95_MS_MAX},
        "met": {
            "cold_all_tiles_s_max": cold_s <= COLD_S_MAX,
            "warm_request_p95_ms_max": warm["request"]["p95_ms"] <= WARM_P95_MS_MAX,
        },
    }
