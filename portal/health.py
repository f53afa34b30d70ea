"""Health of the portal's dependencies: each check returns None when up, or what is wrong."""

import secrets
from collections.abc import Callable

from django.core.cache import cache
from django.db import connection

from portal.celery import app as celery_app
from warehouse.engines.registry import get_engine


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_broker() -> None:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def check_cache() -> None:
    nonce = secrets.token_hex(8)
    cache.set("healthz:nonce", nonce, timeout=10)
    if cache.get("healthz:nonce") != nonce:
        raise RuntimeError("cache did not return what was written")


def check_warehouse() -> None:
    get_engine().ping()


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "broker": check_broker,
    "cache": check_cache,
    "warehouse": check_warehouse,
}


def run_checks() -> dict[str, dict[str, str]]:
    report = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as err:
            report[name] = {"status": "down", "error": f"{type(err).__name__}: {err}"[:300]}
        else:
            report[name] = {"status": "up"}
    return report
