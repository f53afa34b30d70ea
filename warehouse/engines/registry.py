"""Engines by name, built from settings on each call (an engine holds no open connection)."""

from typing import cast

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from core.engines import ENGINE_NAMES, REMOTE_ENGINES
from warehouse.engines.base import Engine, RemoteEngine


def get_engine(name: str | None = None) -> Engine:
    """The engine called ``name``, or the configured default (settings.WAREHOUSE)."""
    name = name or settings.WAREHOUSE
    # Engine modules are imported on demand: each pulls in its own client library.
    if name == "duckdb":
        from warehouse.engines.duckdb import DuckDBEngine

        return DuckDBEngine(
            root=settings.LAKE_ROOT,
            threads=settings.DUCKDB_THREADS,
            memory_limit=settings.DUCKDB_MEMORY_LIMIT,
            timeout_s=settings.QUERY_TIME_LIMIT_SECONDS,
            max_bytes_scanned=settings.QUERY_MAX_BYTES_SCANNED,
        )
    if name == "postgres":
        from warehouse.engines.postgres import PostgresEngine

        if not settings.WAREHOUSE_POSTGRES_URL:
            raise ImproperlyConfigured(
                "WAREHOUSE_POSTGRES_URL is required for the postgres engine."
            )
        return PostgresEngine(settings.WAREHOUSE_POSTGRES_URL, settings.QUERY_TIME_LIMIT_SECONDS)
    if name == "athena":
        from warehouse.engines.athena import AthenaEngine

        return AthenaEngine.from_settings()
    if name == "redshift":
        from warehouse.engines.redshift import RedshiftEngine

        return RedshiftEngine.from_settings()
    raise ValueError(
        f"unknown warehouse engine {name!r}; expected one of {', '.join(ENGINE_NAMES)}"
    )


def get_remote_engine(name: str | None = None) -> RemoteEngine:
    """The engine called ``name`` (default settings.WAREHOUSE) for the statements that change
    data in it; the embedded lake has none (it is changed file by file)."""
    name = name or settings.WAREHOUSE
    if name not in REMOTE_ENGINES:
        raise ValueError(
            f"no write session for engine {name!r}; expected one of {', '.join(REMOTE_ENGINES)}"
        )
    return cast(RemoteEngine, get_engine(name))
