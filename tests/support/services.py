"""Fixtures for the real services the suite runs on: CI's PostgreSQL and Redis, a Celery worker."""

import os
import shutil
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

import pytest
from django.conf import settings

IN_CI = os.environ.get("CI") == "true"


@pytest.fixture(scope="session", autouse=True)
def ci_uses_real_services(django_db_setup, django_db_blocker):
    """Under CI the suite must run on PostgreSQL and Redis; a missing one fails, never skips."""
    if not IN_CI:
        return
    from django.db import connection

    with django_db_blocker.unblock():
        assert connection.vendor == "postgresql", (
            "CI=true but the portal database is not PostgreSQL"
        )
    assert settings.REDIS_URL, "CI=true but REDIS_URL is not set"
    import redis

    redis.Redis.from_url(settings.REDIS_URL).ping()


def _database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class WorkerProcess:
    """A real `celery worker` process on the test database and the given lake."""

    def __init__(
        self, lake_root: Path, *, env: dict[str, str] | None = None, queues: str | None = None
    ):
        """``env``: more variables (settings) for the worker; ``queues``: the queues it consumes
        (comma-separated) instead of the default one."""
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "LAKE_ROOT": str(lake_root),
            "VAR_DIR": str(settings.VAR_DIR),
            **(env or {}),
        }
        if settings.REDIS_URL:
            env["REDIS_URL"] = settings.REDIS_URL
        self.log: deque[str] = deque(maxlen=400)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--loglevel",
                "INFO",
                "--pool",
                "prefork",
                "--concurrency",
                "2",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                *(["--queues", queues] if queues else []),
            ],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._ready = threading.Event()
        threading.Thread(target=self._pump, daemon=True).start()
        if not self._ready.wait(timeout=60):
            self.stop()
            raise RuntimeError("Celery worker did not start:\n" + "\n".join(self.log))

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.log.append(line.rstrip())
            if " ready." in line:
                self._ready.set()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def _purge_broker() -> None:
    """Drop messages a previous, interrupted session left in the queue."""
    from portal.celery import app

    if settings.REDIS_URL:
        app.control.purge()
        return
    folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
    for message in folder.glob("*"):
        message.unlink(missing_ok=True)
    # And those a killed worker had claimed, which the next one would deliver again.
    shutil.rmtree(folder.parent / "claimed", ignore_errors=True)


@pytest.fixture(scope="session")
def celery_worker(small_lake, django_db_setup, django_db_blocker):
    _purge_broker()
    worker = WorkerProcess(small_lake)
    yield worker
    worker.stop()


@pytest.fixture
def only_my_beats(db) -> None:
    """No heartbeat but the test's own. A worker another test started (the session's) may be
    beating into this database: the table is emptied, and locked against other writers until
    the test's transaction ends (SQLite's write lock does the same once the test writes)."""
    from django.db import connection

    from portal.models import WorkerHeartbeat

    if connection.vendor == "postgresql":
        table = WorkerHeartbeat._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f'LOCK TABLE "{table}" IN EXCLUSIVE MODE')
    WorkerHeartbeat.objects.all().delete()


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with empty caches (result cache, consent, page fragments, ...), as it
    does with a DB."""
    from django.core.cache import caches

    for cache in caches.all():
        cache.clear()


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # Real hashers cost about a second per user on these machines; tests need no strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
