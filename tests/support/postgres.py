"""PostgreSQL fixtures every app's tests share (registered in the root conftest.py): a
reachable server, a schema of the test session's own or of one test's own, a database of one
test's own."""

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def warehouse_pg_dsn() -> str:
    """A reachable PostgreSQL; skipped when there is none, except on CI where that is a fault."""
    dsn = os.environ.get("TEST_WAREHOUSE_PG_URL", DEFAULT_PG_URL)
    try:
        psycopg.connect(dsn, connect_timeout=3).close()
    except psycopg.OperationalError as err:
        where = conninfo_to_dict(dsn)  # host and database only: the URL may hold a password
        message = (
            f"PostgreSQL at {where.get('host')}:{where.get('port', 5432)}/{where.get('dbname')} "
            f"is unreachable ({' '.join(str(err).split())})"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(f"{message}; set TEST_WAREHOUSE_PG_URL to run these tests")
    return dsn


@pytest.fixture(scope="session")
def warehouse_pg_schema(warehouse_pg_dsn: str):
    """A schema of this test session's own, dropped at the end."""
    schema = f"test_lake_{uuid.uuid4().hex[:12]}"
    yield schema
    with psycopg.connect(warehouse_pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def pg_schema(warehouse_pg_dsn: str) -> Iterator[str]:
    """A schema of this test's own, dropped afterwards."""
    schema = f"test_schema_{uuid.uuid4().hex[:10]}"
    yield schema
    with psycopg.connect(warehouse_pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def pg_database(warehouse_pg_dsn: str) -> Iterator[str]:
    """A PostgreSQL database of this test's own (its DSN), dropped afterwards: a warehouse copy
    in the schemas the engines and remote sessions use by default (`lake`, or Redshift's
    `public`), without touching anyone else's."""
    name = f"test_privacy_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(warehouse_pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(warehouse_pg_dsn, dbname=name)
    finally:
        with psycopg.connect(warehouse_pg_dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
