"""What every benchmark shares: an isolated Django environment, timing, and the results file."""

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_VAR = ROOT / "var" / "bench"
BENCH_LAKE = ROOT / "var" / "bench-lake"
RESULTS = BENCH_VAR / "results.json"
# 25 times the demo scale is the plan's 50-million-event lake.
BIG_SCALE = float(os.environ.get("BENCH_SCALE", "25"))


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


def median_time(fn: Callable[[], object], repeat: int) -> tuple[float, list[float]]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), samples


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


def write_results(results: dict) -> None:
    BENCH_VAR.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2, default=str))
    tmp.replace(RESULTS)
