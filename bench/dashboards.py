"""Dashboards: an 8-tile dashboard on the 50M-event lake through the real path.

- cold: every tile's data (its window and the previous one, as the page asks) force-refreshed
  at once through a gunicorn server and a Celery worker, the way dashboard.js does it (202, poll
  the run, fetch the cached result); the time until every tile has its numbers. Target 3 s.
- warm: 20 concurrent clients load the dashboard page and its tiles' (cached) data from
  gunicorn, once untimed (each server process renders the tiles once), then five times timed;
  per-request latency percentiles (target p95 under 100 ms) and requests per second.
- baseline: the same tile queries run straight on DuckDB in this process, one after the other;
  the cold time is quoted as a ratio of it.

The clients run on the same two cores as the server, each in its own process: the warm
latencies include their share of the CPU, but not a wait for a lock shared between clients.
"""

import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date
from http.client import HTTPConnection
from urllib.parse import urlencode

from bench import common

DASHBOARD = "marketplace-health"
TILES = 8
CLIENTS = 20
PAGE_LOADS_PER_CLIENT = 5
COLD_REPEAT = 3
# dashboard.js's waits between polls of a queued run (POLL_MS there).
POLL_S = (0.1, 0.15, 0.2, 0.25)
# As README's production command: sync workers, 2 x cores + 1 (gunicorn's advice). Threads
# within a worker would queue for its interpreter lock, and keep-alive connections pinned to a
# busy worker wait while another is idle.
GUNICORN_WORKERS = 2 * (os.cpu_count() or 1) + 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Http:
    """One keep-alive HTTP/1.1 connection with the bench user's session, on a bare socket.

    http.client parses every response header with the email package; twenty clients doing that
    on the two cores the server is measured on would take a good part of its CPU."""

    def __init__(self, port: int, session: str):
        self.port = port
        self.head = (
            f"Host: 127.0.0.1:{port}\r\nCookie: sessionid={session}\r\n"
            "Accept: application/json\r\n\r\n"
        ).encode()
        self.sock: socket.socket | None = None
        self.buffer = b""

    def get(self, path: str) -> tuple[int, bytes]:
        request = b"GET " + path.encode() + b" HTTP/1.1\r\n" + self.head
        if self.sock is None:
            self._connect()
        self.sock.sendall(request)
        if not self._fill_until(b"\r\n\r\n"):
            # The server closed an idle keep-alive connection: open a new one, ask again.
            self._connect()
            self.sock.sendall(request)
            if not self._fill_until(b"\r\n\r\n"):
                raise ConnectionError(f"{path}: the server closed the connection")
        end = self.buffer.find(b"\r\n\r\n")
        head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
        fields = dict(
            (name.strip().lower(), value.strip())
            for name, _, value in (line.partition(b":") for line in head.split(b"\r\n")[1:])
        )
        if b"content-length" not in fields:
            raise RuntimeError(f"{path}: a response without Content-Length")
        length = int(fields[b"content-length"])
        while len(self.buffer) < length:
            if not self._recv():
                raise ConnectionError(f"{path}: the server closed the connection mid-answer")
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        if fields.get(b"connection", b"").lower() == b"close":
            self.close()
        return int(head[9:12]), body

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _connect(self) -> None:
        self.close()
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def _fill_until(self, marker: bytes) -> bool:
        while marker not in self.buffer:
            if not self._recv():
                return False
        return True

    def _recv(self) -> bool:
        data = self.sock.recv(65536)
        self.buffer += data
        return bool(data)


def _tile(http: Http, url: str, force: bool) -> dict:
    """One tile's data as dashboard.js gets it: 200 now, or 202 then poll the run."""
    status, body = http.get(f"{url}&force_refresh=true" if force else url)
    if status == 202:
        poll = json.loads(body)["poll_url"]
        polls = 0
        while True:
            status, body = http.get(poll)
            run = json.loads(body)
            if run["status"] in ("succeeded", "failed"):
                break
            time.sleep(POLL_S[min(polls, len(POLL_S) - 1)])
            polls += 1
        if run["status"] == "failed":
            raise RuntimeError(f"{url}: {run['error']}")
        status, body = http.get(url)
    if status != 200:
        raise RuntimeError(f"{url}: HTTP {status} {body[:200]!r}")
    return json.loads(body)


def _cold(port: int, session: str, urls: list[str]) -> float:
    def one(url: str) -> None:
        http = Http(port, session)
        try:
            _tile(http, url, force=True)
        finally:
            http.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(len(urls)) as pool:
        list(pool.map(one, urls))
    return time.perf_counter() - started


def _client(port: int, session: str, page: str, urls: list[str]) -> list[tuple[bool, float]]:
    """One client's page loads: (was it the page, milliseconds) per request."""
    http = Http(port, session)
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
                elapsed = (time.perf_counter() - started) * 1000
                if status != 200:
                    raise RuntimeError(f"{path}: HTTP {status}")
                timings.append((path == page, elapsed))
    finally:
        http.close()
    return timings


def _warm(port: int, session: str, page: str, urls: list[str]) -> dict:
    # One process per client: twenty client threads in one interpreter would queue for its
    # lock, and that wait would be counted as server latency.
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(CLIENTS) as pool:
        per_client = pool.starmap(_client, [(port, session, page, urls)] * CLIENTS)
    wall = time.perf_counter() - started
    page_ms = [ms for timings in per_client for is_page, ms in timings if is_page]
    data_ms = [ms for timings in per_client for is_page, ms in timings if not is_page]
    every = page_ms + data_ms
    return {
        "requests": len(every),
        "requests_per_s": round(len(every) / wall, 1),
        "request_p50_ms": round(statistics.median(every), 1),
        "request_p95_ms": round(_p95(every), 1),
        "page_p95_ms": round(_p95(page_ms), 1),
        "tile_data_p95_ms": round(_p95(data_ms), 1),
    }


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def _direct(queries) -> float:
    """The tile queries, translated as the engine does, on bare DuckDB connections."""
    import duckdb
    from django.conf import settings

    from warehouse.engines.duckdb import parquet_scan_sql
    from warehouse.lake import contract, storage
    from warehouse.sql import parse, translate

    def once() -> None:
        for sql, params in queries:
            canonical = parse(sql)
            con = duckdb.connect(
                config={"threads": settings.DUCKDB_THREADS, "integer_division": True}
            )
            for name in sorted(canonical.tables):
                table = contract.table(name)
                scan = parquet_scan_sql(storage.data_files(common.BENCH_LAKE, table), table)
                con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM {scan}')  # noqa: S608
            con.execute(translate(canonical, "duckdb"), params).fetchall()
            con.close()

    once()  # the OS page cache, warm as the portal's runs find it
    return common.median_time(once, COLD_REPEAT)[0]


def _cpu_s(server: subprocess.Popen) -> float:
    """CPU seconds used so far by the gunicorn workers: what a request costs, queueing apart."""
    import psutil

    workers = psutil.Process(server.pid).children()
    return sum(sum(w.cpu_times()[:2]) for w in workers)


def _gunicorn(port: int) -> subprocess.Popen:
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "portal.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(GUNICORN_WORKERS),
        "--worker-class",
        "sync",
        "--log-level",
        "warning",
    ]
    # As in production: no DEBUG (which records every SQL query and re-reads templates).
    server = subprocess.Popen(argv, cwd=common.ROOT, env={**os.environ, "DEBUG": "false"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("gunicorn did not start")


def run() -> dict:
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.test import Client

    from metrics.catalogue import load_catalogue
    from metrics.dashboards import get_dashboard
    from metrics.params import matured_params, metric_params
    from metrics.windows import default_window, previous_window
    from tests.support.services import WorkerProcess
    from warehouse import watermark

    call_command("migrate", verbosity=0)
    user, _ = User.objects.get_or_create(username="bench-analyst")
    user.groups.add(Group.objects.get_or_create(name="analyst")[0])
    login = Client()
    login.force_login(user)
    session = login.cookies["sessionid"].value

    dashboard = get_dashboard(DASHBOARD)
    catalogue = load_catalogue()
    metrics = [catalogue.get(tile.metric) for tile in dashboard.tiles[:TILES]]
    mark = watermark.current(settings.WAREHOUSE)
    start, end = default_window(
        data_as_of=mark.max_partition, days=dashboard.default_days, today=date.today()
    )
    urls, queries = [], []
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
        for window_start, window_end in [
            (shown.start, shown.end),
            previous_window(shown.start, shown.end),
        ]:
            params = replace(shown, start=window_start, end=window_end)
            query = {"start": window_start, "end": window_end, "grain": params.grain}
            urls.append(f"/api/metrics/{metric.slug}/data?{urlencode(query)}")
            queries.append((metric.sql, params.bind(metric)))
    page = f"/dashboards/{DASHBOARD}/?{urlencode({'start': start, 'end': end})}"

    port = _free_port()
    worker = WorkerProcess(common.BENCH_LAKE)
    server = _gunicorn(port)
    try:
        _cold(port, session, urls)  # imports and connections of every process, warmed once
        cold = [_cold(port, session, urls) for _ in range(COLD_REPEAT)]
        direct_s = _direct(queries)
        cpu_before = _cpu_s(server)
        warm = _warm(port, session, page, urls)
        warm["server_cpu_ms_per_request"] = round(
            (_cpu_s(server) - cpu_before) * 1000 / warm["requests"], 2
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
        worker.stop()
    cold_s = statistics.median(cold)
    return {
        "dashboard": DASHBOARD,
        "tiles": [m.slug for m in metrics],
        "window": f"{start}..{end} by {dashboard.default_grain}, compared with the one before",
        "queries_per_load": len(urls),
        "server": f"gunicorn {GUNICORN_WORKERS} sync workers",
        "broker": "redis" if settings.REDIS_URL else "filesystem",
        "cold_all_tiles_s": round(cold_s, 3),
        "cold_all_tiles_max_s": round(max(cold), 3),
        "direct_duckdb_s": round(direct_s, 3),
        "cold_ratio": round(cold_s / direct_s, 2),
        "warm": {"clients": CLIENTS, **warm},
        "targets": {"cold_all_tiles_s_max": 3.0, "warm_request_p95_ms_max": 100},
    }
