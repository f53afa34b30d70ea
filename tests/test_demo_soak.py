"""`manage.py demo` under real use: its own web server, worker and beat on the embedded defaults
(SQLite, the filesystem broker of portal.broker), a few hundred distinct uncached metric requests
at once over HTTP, and the worker killed with SIGKILL while it runs them. Every request gets its
data, every run succeeds, the demo restarts the worker and the web server never stops."""

import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import psutil
import pytest
import requests
from django.conf import settings

from conftest import SMALL_LAKE

pytestmark = pytest.mark.worker

REQUESTS = 200
CLIENTS = 8  # polling runs costs the web server CPU the worker needs
KILL_AFTER = REQUESTS // 4  # runs done before the worker is killed
DEADLINE_S = 240.0  # a guard: the soak takes 40-110 s on a 2-core machine, busy or not


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Demo:
    """``manage.py demo`` on a var dir of its own, with everything it prints kept."""

    def __init__(self, var_dir: Path, lake: Path):
        self.var_dir = var_dir
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CI")}
        self.env = {
            **env,
            "VAR_DIR": str(var_dir),
            "LAKE_ROOT": str(lake),
            "CACHE_KEY_PREFIX": "soak",
            # One user asks for everything here: no per-user cap or throttle in the way.
            "QUERY_USER_MAX_IN_FLIGHT": "0",
            "QUERY_THROTTLE_BURST": "off",
            "QUERY_THROTTLE_SUSTAINED": "off",
            # A killed run is taken over once its lease expired: short, to keep the test short.
            "QUERY_RUN_LEASE_SECONDS": "6",
            "QUERY_RUN_SWEEP_SECONDS": "3",
            "PYTHONUNBUFFERED": "1",
        }
        for command in (["migrate", "--noinput"], ["demo_users"]):
            self._manage(*command)
        self.log: deque[str] = deque(maxlen=5000)
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "demo", "--addr", f"127.0.0.1:{self.port}"],
            cwd=settings.BASE_DIR,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def _manage(self, *args: str) -> None:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.log.append(line.rstrip())

    def text(self) -> str:
        return "\n".join(self.log)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"demo stopped:\n{self.text()}"
            try:
                web_up = requests.get(f"{self.base}/healthz/live", timeout=2).status_code == 200
            except requests.ConnectionError:
                web_up = False
            if web_up and re.search(r"celery@\S+ ready\.", self.text()):
                return
            time.sleep(0.2)
        raise AssertionError(f"demo not ready in {timeout} s:\n{self.text()}")

    def child(self, role: str) -> psutil.Process | None:
        for proc in psutil.Process(self.proc.pid).children():
            try:
                argv = proc.cmdline()
            except psutil.NoSuchProcess:
                continue
            if (role == "web" and "runserver" in argv) or (role in argv and "celery" in argv):
                return proc
        return None

    def runs(self) -> dict[str, int]:
        with sqlite3.connect(self.var_dir / "portal.sqlite3", timeout=20) as db:
            return dict(
                db.execute("SELECT status, COUNT(*) FROM warehouse_queryrun GROUP BY status")
            )

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            for proc in psutil.Process(self.proc.pid).children(recursive=True):
                proc.kill()
            self.proc.kill()
            self.proc.wait()


def _login(base: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{base}/login/", timeout=10)
    answer = session.post(
        f"{base}/login/",
        data={
            "username": "analyst",
            "password": "demo",
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        timeout=10,
    )
    assert answer.status_code == 200 and "sessionid" in session.cookies, answer.text[:500]
    return session


def _requests(session: requests.Session, base: str, count: int) -> list[str]:
    """``count`` distinct metric data URLs of the lake's window: all uncached."""
    slugs = sorted(m["slug"] for m in session.get(f"{base}/api/metrics/", timeout=10).json())
    end = date.fromisoformat(SMALL_LAKE["end_date"])
    days = [end - timedelta(days=n) for n in range(SMALL_LAKE["days"])]
    windows = [(a, b) for a in days for b in days if a <= b]
    urls = [
        f"{base}/api/metrics/{slug}/data?start={a}&end={b}" for slug in slugs for a, b in windows
    ]
    assert len(urls) >= count
    return random.Random(11).sample(urls, count)


class Client:
    """Asks for metrics as a dashboard does: each request answers 202 with a run to poll; once
    the run succeeded the same request answers 200 with the data."""

    def __init__(self, base: str, cookies, deadline: float):
        self.base = base
        self.cookies = cookies
        self.deadline = deadline
        self.local = threading.local()

    def get(self, url: str) -> requests.Response:
        # The web server must answer throughout: a refused connection fails the test.
        assert time.monotonic() < self.deadline, f"no answer in time for {url}"
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
            self.local.session.cookies.update(self.cookies)
        return self.local.session.get(url, timeout=30)

    def submit(self, url: str) -> str:
        answer = self.get(url)
        assert answer.status_code == 202, (url, answer.status_code, answer.text[:300])
        return f"{self.base}{answer.json()['poll_url']}"

    def finish(self, url: str, poll: str) -> dict:
        while (run := self.get(poll).json())["status"] not in ("succeeded", "failed"):
            time.sleep(0.5)
        # The error first: pytest shortens the rest of the run's fields.
        assert run["status"] == "succeeded", (url, run["error"], run)
        answer = self.get(url)
        assert answer.status_code == 200, (url, answer.status_code, answer.text[:300])
        return answer.json()

    def fetch(self, url: str) -> dict:
        return self.finish(url, self.submit(url))


@pytest.fixture
def demo(tmp_path, small_lake):
    demo = Demo(tmp_path / "var", small_lake)
    yield demo
    demo.stop()


def test_the_demo_survives_a_burst_of_requests_and_a_killed_worker(demo):
    started = time.monotonic()
    demo.wait_ready()
    web, worker = demo.child("web"), demo.child("worker")
    # Its pool is threads: no pool children that a kill could leave hung on a shared lock.
    assert worker.children() == []
    session = _login(demo.base)
    *urls, late = _requests(session, demo.base, REQUESTS + 1)
    client = Client(demo.base, session.cookies, deadline=started + DEADLINE_S)

    with ThreadPoolExecutor(CLIENTS) as pool:
        polls = list(pool.map(client.submit, urls))  # all of them queued at once
        results = [pool.submit(client.finish, *pair) for pair in zip(urls, polls, strict=True)]
        # Midway, while it runs queries, the worker dies as the OOM killer would kill it.
        while (runs := demo.runs()).get("succeeded", 0) < KILL_AFTER or not runs.get("running"):
            assert time.monotonic() < started + DEADLINE_S, demo.text()
            time.sleep(0.05)
        worker.send_signal(signal.SIGKILL)
        answers = [future.result() for future in results]

    assert runs["succeeded"] < REQUESTS / 2  # it died with most of the work still to do
    assert all(answer["status"] == "succeeded" for answer in answers)
    assert all(answer["result"]["columns"] for answer in answers)
    assert len({answer["run_id"] for answer in answers}) == REQUESTS  # each its own run
    # Some windows hold no event of a metric; most hold several days of them.
    assert sum(len(answer["result"]["rows"]) for answer in answers) > 2 * REQUESTS
    assert set(demo.runs()) == {"succeeded"}, demo.runs()
    assert demo.runs()["succeeded"] >= REQUESTS

    # The demo restarted the worker and kept the web server; the new worker takes new work.
    assert re.search(r"worker exited \(code -9\)", demo.text()), demo.text()
    assert demo.child("web").pid == web.pid and demo.proc.poll() is None
    restarted = demo.child("worker")
    assert restarted is not None and restarted.pid != worker.pid
    assert client.fetch(late)["status"] == "succeeded"

    assert "Unrecoverable error" not in demo.text()
    broker = demo.var_dir / "broker"
    assert not (broker / "corrupt").exists() and not (broker / "dead").exists()
    assert time.monotonic() - started < DEADLINE_S
