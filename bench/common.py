"""What every benchmark shares: an isolated Django environment, timing (one percentile, one
alternation of baseline and measured runs), the portal served over HTTP, and the results file."""

import json
import math
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from http.client import HTTPConnection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Both movable, so that a small lake built while developing leaves the 50M one alone.
BENCH_VAR = Path(os.environ.get("BENCH_VAR_DIR", ROOT / "var" / "bench")).resolve()
BENCH_LAKE = Path(os.environ.get("BENCH_LAKE_DIR", ROOT / "var" / "bench-lake")).resolve()
RESULTS = BENCH_VAR / "results.json"
# 25 times the demo scale is the plan's 50-million-event lake.
BIG_SCALE = float(os.environ.get("BENCH_SCALE", "25"))
# dashboard.js's waits between polls of a queued run (POLL_MS there), which every HTTP client
# here follows.
POLL_S = (0.1, 0.15, 0.2, 0.25)
# As README's production command: sync workers, 2 x cores + 1 (gunicorn's advice). Threads
# within a worker would queue for its interpreter lock, and keep-alive connections pinned to a
# busy worker wait while another is idle.
GUNICORN_WORKERS = 2 * (os.cpu_count() or 1) + 1
# The bench users' password, new every run: they log in over HTTP as people do.
BENCH_PASSWORD = secrets.token_urlsafe(16)


def setup_django() -> None:
    """Settings for the benchmark: its own var/ folder and the 50M lake; nothing of the demo's."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ["VAR_DIR"] = str(BENCH_VAR)
    os.environ["LAKE_ROOT"] = str(BENCH_LAKE)
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
    # The benchmarks measure the query path, not its abuse limits: one client forces every
    # tile's refresh at once, again and again.
    os.environ.setdefault("QUERY_USER_MAX_IN_FLIGHT", "0")
    os.environ.setdefault("QUERY_FORCE_REFRESH_MIN_AGE_SECONDS", "0")
    os.environ.setdefault("QUERY_FORCE_REFRESH_PER_HOUR", "1000000")
    os.environ.setdefault("QUERY_THROTTLE_BURST", "off")
    os.environ.setdefault("QUERY_THROTTLE_SUSTAINED", "off")
    import django

    django.setup()


def percentile(samples: list[float], q: float) -> float:
    """Nearest rank: the ceil(q * n)-th smallest sample (p95 of 20 samples is the 19th, of 21
    the 20th). Always a sample that was measured, never an interpolation between two."""
    if not samples:
        raise ValueError("no samples")
    if not 0 < q <= 1:
        raise ValueError(f"q must be in (0, 1], not {q}")
    # Rounded first: 0.95 * 20 is 19.000000000000004 in binary floating point.
    rank = math.ceil(round(q * len(samples), 9))
    return sorted(samples)[rank - 1]


def alternate(
    runs: Mapping[str, Callable[[int], object]], repeat: int, warmup: int = 1
) -> dict[str, list[float]]:
    """Each callable of ``runs`` in turn, round after round (baseline first: B, A, B, A, ...),
    so that a change of load on the machine hits all of them alike; seconds per call, by name.

    ``warmup`` rounds come first and are not timed (imports, connections, the OS page cache).
    Each call gets its round number, the warm-up rounds negative, so that the callables of one
    round can ask the same question (a window no run has cached yet, for instance)."""
    for round_ in range(-warmup, 0):
        for fn in runs.values():
            fn(round_)
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for round_ in range(repeat):
        for name, fn in runs.items():
            started = time.perf_counter()
            fn(round_)
            samples[name].append(time.perf_counter() - started)
    return samples


def timings(fn: Callable[[], object], repeat: int) -> list[float]:
    """Seconds per call of ``fn``, ``repeat`` times: for what is not quoted against a baseline."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def spread_ms(samples: list[float]) -> dict:
    """Median and p95 (nearest rank) of ``samples`` (seconds), in milliseconds."""
    return {
        "n": len(samples),
        "median_ms": ms(statistics.median(samples)),
        "p95_ms": ms(percentile(samples, 0.95)),
    }


def paired(baseline: list[float], measured: list[float]) -> dict:
    """A measured series against its baseline, both from one alternated run: medians, the
    ratio of the medians and the difference of the medians."""
    base, meas = statistics.median(baseline), statistics.median(measured)
    return {
        "baseline": spread_ms(baseline),
        "measured": spread_ms(measured),
        "ratio": round(meas / base, 3),
        "extra_ms": ms(meas - base),
    }


def run_measured(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Run a child process; return (wall seconds, its peak RSS in bytes)."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **(env or {})})
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}")
    return time.perf_counter() - started, usage.ru_maxrss * 1024


def manage(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "manage.py"), *args]


def lake_marker() -> dict:
    """What the lake suite built: its scale, end date and days."""
    marker = BENCH_LAKE / "_demo_lake.json"
    if not marker.exists():
        raise SystemExit(f"no lake at {BENCH_LAKE}: run the lake suite first")
    return json.loads(marker.read_text())


def write_results(results: dict) -> None:
    BENCH_VAR.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2, default=str))
    tmp.replace(RESULTS)


def bench_user(username: str, *, role: str | None = None, superuser: bool = False):
    """A user of the bench database with the bench password, so that it can log in over HTTP."""
    from django.contrib.auth.models import Group, User

    user, _ = User.objects.get_or_create(username=username)
    user.is_superuser = superuser
    user.set_password(BENCH_PASSWORD)
    user.save()
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def duckdb_connection():
    """A bare DuckDB connection with the engine's threads and memory limit, for hand-written
    baselines. Opened once, before the timings: opening one costs tens of milliseconds, which
    the portal pays per query (its engine opens a fresh one) and a DuckDB user does not."""
    import duckdb
    from django.conf import settings

    return duckdb.connect(
        config={"threads": settings.DUCKDB_THREADS, "memory_limit": settings.DUCKDB_MEMORY_LIMIT}
    )


def same_rows(portal: list[list], native: list[tuple]) -> bool:
    """Whether a hand-written baseline answered what the portal answered (its JSON rows):
    floats as the portal's JSON rounds them (10 decimals), dates against its ISO text (a date,
    or midnight)."""

    def same(answer, hand) -> bool:
        if isinstance(hand, float) or isinstance(answer, float):
            return None not in (answer, hand) and math.isclose(
                answer, hand, rel_tol=1e-9, abs_tol=1e-10
            )
        if isinstance(hand, date):
            return str(answer) in (hand.isoformat(), f"{hand.isoformat()}T00:00:00.000")
        return answer == hand

    return len(portal) == len(native) and all(
        len(p) == len(n) and all(same(a, h) for a, h in zip(p, n, strict=True))
        for p, n in zip(portal, native, strict=True)
    )


def drop_cached(labels: list[str]) -> None:
    """Delete the cached results of every run with one of ``labels`` (this bench's own), so
    that the next request for them is uncached whatever an earlier bench run left."""
    from django.core.cache import cache

    from warehouse.models import QueryRun

    keys = QueryRun.objects.filter(label__in=labels).values_list("cache_key", flat=True)
    cache.delete_many(sorted(set(keys)))


# ---- runs executed and runs joined ----


@dataclass(frozen=True)
class Fetched:
    """One tile request's outcome: when it was sent (epoch seconds), how long until its numbers
    arrived, and the run it waited for (None: answered from the cache at once)."""

    sent_at: float
    seconds: float
    run_id: int | None


def executed_and_joined(fetched: list[Fetched], last_pk_before: int) -> dict[str, list[float]]:
    """Seconds per request, split by what the request did: ``executed`` a run (the first
    request, by sending time, of each run started during the batch), ``joined`` a run already
    in flight (the later requests of that run, and any run older than the batch) or was
    ``cached``: answered at once, the run it would have joined having finished already."""
    split: dict[str, list[float]] = {"executed": [], "joined": [], "cached": []}
    seen: set[int] = set()
    for request in sorted(fetched, key=lambda f: f.sent_at):
        if request.run_id is None:
            split["cached"].append(request.seconds)
        elif request.run_id <= last_pk_before or request.run_id in seen:
            split["joined"].append(request.seconds)
        else:
            seen.add(request.run_id)
            split["executed"].append(request.seconds)
    return split


# ---- the portal over HTTP ----


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(env: Mapping[str, str] | None = None) -> Iterator[subprocess.Popen]:
    """The portal as README's production command serves it (gunicorn, sync workers), on a free
    port of 127.0.0.1 (``server.port``), stopped on exit."""
    port = free_port()
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
    server = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, "DEBUG": "false", **(env or {})})
    server.port = port  # type: ignore[attr-defined]
    try:
        _wait_until_serving(server, port)
        yield server
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_until_serving(server: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 180  # a busy machine boots five workers slowly
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited {server.returncode}")
        try:
            conn = HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start within 180 s")


def http_login(port: int, username: str) -> dict[str, str]:
    """Log in through the login form as a browser does (its page, then the form posted with the
    CSRF token): the session's cookies."""
    import requests

    base = f"http://127.0.0.1:{port}"
    with requests.Session() as session:
        page = session.get(f"{base}/login/", timeout=30)
        page.raise_for_status()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        if token is None:
            raise SystemExit("the login page has no CSRF token")
        answer = session.post(
            f"{base}/login/",
            data={
                "username": username,
                "password": BENCH_PASSWORD,
                "csrfmiddlewaretoken": token.group(1),
                "next": "/",
            },
            allow_redirects=False,
            timeout=30,
        )
        if answer.status_code != 302 or "sessionid" not in session.cookies:
            raise SystemExit(f"logging in {username} over HTTP failed: HTTP {answer.status_code}")
        return session.cookies.get_dict()


class Http:
    """One keep-alive HTTP/1.1 connection with a logged-in session's cookies, on a bare socket.

    Not requests or http.client: they parse every response header with the email package, and
    many clients doing that on the cores the server is measured on would take a good part of
    its CPU and count it as the server's latency."""

    def __init__(self, port: int, cookies: Mapping[str, str]):
        self.port = port
        cookie = "; ".join(f"{name}={value}" for name, value in sorted(cookies.items()))
        self.head = f"Host: 127.0.0.1:{port}\r\nCookie: {cookie}\r\nAccept: application/json\r\n"
        # Django's CSRF check of a POST in a session: the cookie's token in a header.
        self.csrf = cookies.get("csrftoken", "")
        self.sock: socket.socket | None = None
        self.buffer = b""

    def get(self, path: str) -> tuple[int, bytes]:
        return self._ask(f"GET {path} HTTP/1.1\r\n{self.head}\r\n".encode())

    def post_json(self, path: str, body: object) -> tuple[int, bytes]:
        data = json.dumps(body).encode()
        head = (
            f"POST {path} HTTP/1.1\r\n{self.head}X-CSRFToken: {self.csrf}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
        )
        return self._ask(head.encode() + data)

    def get_json(self, path: str) -> tuple[int, dict]:
        status, body = self.get(path)
        return status, json.loads(body)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _ask(self, request: bytes) -> tuple[int, bytes]:
        if self.sock is None:
            self._connect()
        self.sock.sendall(request)
        if not self._fill_until(b"\r\n\r\n"):
            # The server closed an idle keep-alive connection: open a new one, ask again.
            self._connect()
            self.sock.sendall(request)
            if not self._fill_until(b"\r\n\r\n"):
                raise ConnectionError("the server closed the connection")
        end = self.buffer.find(b"\r\n\r\n")
        head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
        fields = dict(
            (name.strip().lower(), value.strip())
            for name, _, value in (line.partition(b":") for line in head.split(b"\r\n")[1:])
        )
        if b"content-length" not in fields:
            raise RuntimeError("a response without Content-Length")
        length = int(fields[b"content-length"])
        while len(self.buffer) < length:
            if not self._recv():
                raise ConnectionError("the server closed the connection mid-answer")
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        if fields.get(b"connection", b"").lower() == b"close":
            self.close()
        return int(head[9:12]), body

    def _connect(self) -> None:
        self.close()
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=300)
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


def wait_for_run(http: Http, poll_url: str) -> dict:
    """Poll a queued run (/api/runs/<id>) as dashboard.js does: at once, then after 100, 150,
    200 and every 250 ms, until it finished; the run, which must have succeeded."""
    polls = 0
    while True:
        status, run = http.get_json(poll_url)
        if status != 200:
            raise RuntimeError(f"{poll_url}: HTTP {status}")
        if run["status"] in ("succeeded", "failed"):
            break
        time.sleep(POLL_S[min(polls, len(POLL_S) - 1)])
        polls += 1
    if run["status"] == "failed":
        raise RuntimeError(f"run {run['run_id']} failed: {run.get('error')}")
    return run


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]
