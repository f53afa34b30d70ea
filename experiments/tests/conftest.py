"""Fixtures of the experiments tests: lakes of their own (the results job writes to its lake),
and a PostgreSQL for running the canonical SQL on a second engine."""

import os
import shutil
import uuid

import psycopg
import pytest
from psycopg import sql

from warehouse.lake import contract, storage

EXPOSURES = contract.table("fact_experiment_exposures")
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def exposure_lake(small_lake, tmp_path, settings):
    """A copy of the small lake's experiment exposures, and the tables of the catalogue metrics
    the demo experiments name (and its marker), used as the lake."""
    root = tmp_path / "lake"
    for table in (EXPOSURES, *map(contract.table, ("fact_funnel_events", "fact_bookings"))):
        shutil.copytree(storage.table_dir(small_lake, table), storage.table_dir(root, table))
    for name in ("_demo_lake.json", storage.WATERMARK_FILE):
        shutil.copy(small_lake / name, root / name)
    settings.WAREHOUSE = "duckdb"
    settings.LAKE_ROOT = root
    return root


@pytest.fixture
def empty_lake(tmp_path, settings):
    root = tmp_path / "lake"
    root.mkdir()
    settings.WAREHOUSE = "duckdb"
    settings.LAKE_ROOT = root
    return root


@pytest.fixture(scope="session")
def warehouse_pg_dsn() -> str:
    """A reachable PostgreSQL for the warehouse engine; skipped without one, except on CI."""
    dsn = os.environ.get("TEST_WAREHOUSE_PG_URL", DEFAULT_PG_URL)
    try:
        psycopg.connect(dsn, connect_timeout=3).close()
    except psycopg.OperationalError as err:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is unreachable: {err}")
        pytest.skip("PostgreSQL is unreachable; set TEST_WAREHOUSE_PG_URL to run this test")
    return dsn


@pytest.fixture
def pg_schema(warehouse_pg_dsn):
    schema = f"test_experiments_{uuid.uuid4().hex[:10]}"
    yield schema
    with psycopg.connect(warehouse_pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
