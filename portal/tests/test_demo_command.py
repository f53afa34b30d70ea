"""`manage.py demo` supervises its processes: a worker or beat that dies is restarted while the
web server keeps running; one that keeps dying at start stops the demo with a reason."""

import io
import os
import signal
import sys
import threading
import time

import psutil
import pytest
from django.core.management import call_command

from portal.management.commands import demo

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


def _recording(path, code: int) -> list[str]:
    """A process that notes its start in ``path``, then exits with ``code``."""
    script = f"import os; open({str(path)!r}, 'a').write(str(os.getpid()) + chr(10)); exit({code})"
    return [sys.executable, "-c", script]


@pytest.fixture
def processes(monkeypatch, tmp_path):
    web_pid = tmp_path / "web.pid"
    web = [sys.executable, "-c", f"import os, time; open({str(web_pid)!r}, 'w').write("
           "str(os.getpid())); time.sleep(60)"]  # fmt: skip
    monkeypatch.setattr(demo, "PROCESSES", {"web": web, "worker": None, "beat": SLEEP})
    monkeypatch.setattr(demo, "RESTART_BACKOFF_S", 0.05)
    # The command installs its own SIGINT and SIGTERM handlers: pytest's come back after.
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield demo.PROCESSES, web_pid
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def _starts(path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def test_a_dead_worker_is_restarted_and_the_web_server_keeps_running(
    processes, tmp_path, monkeypatch
):
    procs, web_pid = processes
    starts = tmp_path / "worker.starts"
    procs["worker"] = _recording(starts, 3)
    # Each exit counts as one after a healthy run: restarted at once, again and again.
    monkeypatch.setattr(demo, "HEALTHY_AFTER_S", 0.0)
    err = io.StringIO()
    web_alive = []

    def stop_after_restarts() -> None:
        deadline = time.monotonic() + 60
        while len(_starts(starts)) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        web = psutil.Process(int(web_pid.read_text()))
        web_alive.append(web.is_running() and web.status() != psutil.STATUS_ZOMBIE)
        os.kill(os.getpid(), signal.SIGINT)

    stopper = threading.Thread(target=stop_after_restarts)
    stopper.start()
    try:
        call_command("demo", addr="127.0.0.1:1", stdout=io.StringIO(), stderr=err)
    finally:
        stopper.join()
    assert web_alive == [True]  # after the worker's fourth start
    assert len(_starts(starts)) >= 4
    assert "worker exited (code 3)" in err.getvalue()
    assert "Restarting worker." in err.getvalue()
    assert "stopping the rest" not in err.getvalue()
    assert not psutil.pid_exists(int(web_pid.read_text()))


def test_a_worker_that_cannot_start_stops_the_demo(processes, tmp_path, monkeypatch):
    procs, web_pid = processes
    starts = tmp_path / "worker.starts"
    procs["worker"] = _recording(starts, 1)
    monkeypatch.setattr(demo, "MAX_QUICK_RESTARTS", 3)
    err = io.StringIO()
    with pytest.raises(SystemExit) as stopped:
        call_command("demo", addr="127.0.0.1:1", stdout=io.StringIO(), stderr=err)
    assert stopped.value.code == 1
    assert len(_starts(starts)) == 3  # started, restarted twice, then given up
    assert "worker exited 3 times in a row soon after start; stopping the rest." in err.getvalue()
    assert not psutil.pid_exists(int(web_pid.read_text()))
