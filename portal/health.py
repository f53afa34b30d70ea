"""Health of the portal's dependencies: each check returns None or a few numbers when up, and
raises when down. Anyone may see up/down per check; the error text (which can name hosts and
ports) only staff. Apps add checks of what they own (``health_check_register`` in their
AppConfig.ready: the warehouse its engine), so that the portal imports no app."""

import secrets
from collections.abc import Callable

from django.core.cache import cache
from django.db import connection

from portal.celery import app as celery_app
from portal.heartbeat import workers_health


class CheckFailed(Exception):
    """Down, with the numbers that say why."""

    def __init__(self, message: str, details: dict):
        super().__init__(message)
        self.details = details


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_broker() -> None:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def check_cache() -> None:
    if ping := getattr(cache, "ping", None):  # portal.cache: says why Redis is away
        ping()
    nonce = secrets.token_hex(8)
    cache.set("healthz:nonce", nonce, timeout=10)
    if cache.get("healthz:nonce") != nonce:
        raise RuntimeError("cache did not return what was written")


def check_workers() -> dict:
    health = workers_health()
    details = {"live": health.live, "newest_beat_age_s": health.newest_beat_age_s}
    if not health.live:
        raise CheckFailed("no worker has beaten its heartbeat lately", details)
    return details


CHECKS: dict[str, Callable[[], dict | None]] = {
    "database": check_database,
    "broker": check_broker,
    "cache": check_cache,
    "workers": check_workers,
}


def health_check_register(*, name: str, check: Callable[[], dict | None]) -> None:
    CHECKS[name] = check


def run_checks(*, with_errors: bool = False) -> dict[str, dict]:
    report = {}
    for name, check in CHECKS.items():
        try:
            details = check() or {}
        except Exception as err:
            report[name] = {"status": "down", **getattr(err, "details", {})}
            if with_errors:
                report[name]["error"] = f"{type(err).__name__}: {err}"[:300]
        else:
            report[name] = {"status": "up", **details}
    return report
