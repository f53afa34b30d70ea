"""Each pytest-xdist worker gets services of its own: a var dir, a cache key prefix and a Redis
database (broker and cache; a test empties the cache with FLUSHDB). pytest-django already gives
each worker a test database of its own.

Loaded with ``-p`` (pyproject's addopts), so it runs when pytest reads its options: before
pytest-django imports the settings, which read these variables once.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


def _worker_redis_url(url: str, index: int) -> str:
    """The URL's database counted down by ``index`` (the Makefile's 15 for gw0, 14 for gw1...)."""
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    if index and index >= base:
        # Counting down to 0 would reach a developer's or the demo's database (the tests flush
        # it), and past 0 wrap round to another worker's.
        raise SystemExit(
            f"REDIS_URL's database {base} leaves no Redis database for worker gw{index}"
        )
    return urlunsplit(parts._replace(path=f"/{base - index}"))


def _isolate(worker: str) -> None:
    index = int(worker.removeprefix("gw"))
    var_dir = os.environ.get("VAR_DIR") or str(Path(__file__).resolve().parents[2] / "var" / "test")
    os.environ["VAR_DIR"] = os.path.join(var_dir, worker)
    os.environ["CACHE_KEY_PREFIX"] = f"{os.environ.get('CACHE_KEY_PREFIX', 'test')}-{worker}"
    if redis_url := os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = _worker_redis_url(redis_url, index)


if worker := os.environ.get("PYTEST_XDIST_WORKER"):
    _isolate(worker)
