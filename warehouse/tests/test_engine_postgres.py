"""PostgresEngine on a real PostgreSQL holding the tiny lake, checked against DuckDB and pandas."""

from datetime import date

import pandas as pd
import psycopg
import pytest
import sqlglot
from django.core.exceptions import ImproperlyConfigured
from psycopg import sql as pg_sql

from warehouse.engines.base import TransientWarehouseError, WarehouseError
from warehouse.engines.duckdb import DuckDBEngine
from warehouse.engines.pg_loader import load_lake
from warehouse.engines.postgres import PostgresEngine
from warehouse.engines.registry import get_engine
from warehouse.lake import contract
from warehouse.sql import QueryRefused, Statement, render
from warehouse.tests.conftest import INJECTION, TINY_TABLES

pytestmark = pytest.mark.usefixtures("tiny_contract")

RANGE = {"start": date(2024, 1, 2), "end": date(2024, 1, 9)}
SAME_ON_BOTH = {
    "daily_funnel": (
        """
        SELECT event_dt, count(*) AS events,
               count_if(event_name = 'view') AS views,
               count_if(event_name = 'purchase') AS purchases,
               approx_distinct(event_name) AS kinds,
               sum(qty) AS qty, round(sum(amount), 2) AS amount
        FROM events
        WHERE event_dt BETWEEN :start AND :end
        GROUP BY event_dt ORDER BY event_dt
        """,
        RANGE,
    ),
    "weekly_identities": (
        """
        SELECT date_trunc('week', event_dt) AS week, approx_distinct(identity_id) AS identities,
               count_if(identity_id LIKE 'u%') AS from_u, count(*) / 7 AS per_day
        FROM events WHERE event_dt BETWEEN :start AND current_date GROUP BY 1 ORDER BY 1
        """,
        {"start": date(2024, 1, 1)},
    ),
    "join_by_country": (
        """
        WITH buyers AS (
            SELECT identity_id, sum(qty) AS qty, count_if(event_name = 'purchase') AS purchases
            FROM events WHERE event_dt BETWEEN :start AND :end GROUP BY identity_id
        )
        SELECT u.country, count(*) AS users, sum(b.qty) AS qty, sum(b.purchases) AS purchases
        FROM buyers b JOIN users u ON u.identity_id = b.identity_id
        GROUP BY u.country ORDER BY u.country NULLS FIRST
        """,
        RANGE,
    ),
    "json_and_shifted_dates": (
        """
        SELECT json_extract_scalar(props, '$.device.os') AS os,
               min(date_add('day', :shift, event_dt)) AS first_shifted, count(*) AS events
        FROM events WHERE event_dt BETWEEN :start AND :end
        GROUP BY 1 ORDER BY 1 NULLS LAST
        """,
        {**RANGE, "shift": 3},
    ),
    "empty_range": (
        "SELECT count_if(qty > 2) AS big, count(*) AS n FROM events WHERE event_dt = :day",
        {"day": date(2023, 1, 1)},
    ),
    "bound_as_data": (
        "SELECT count(*) AS n FROM events "
        "WHERE event_dt BETWEEN :start AND current_date AND identity_id = :who",
        {"start": date(2024, 1, 1), "who": INJECTION},
    ),
}


@pytest.fixture(scope="module")
def pg_lake(tiny_lake, warehouse_pg_dsn, warehouse_pg_schema):
    root, frames = tiny_lake
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(contract, "TABLES", dict(TINY_TABLES))
        load_lake(warehouse_pg_dsn, root, schema=warehouse_pg_schema)
    return root, frames


def postgres(dsn: str, schema: str, timeout_s: float = 30) -> PostgresEngine:
    return PostgresEngine(dsn, timeout_s=timeout_s, schema=schema)


@pytest.mark.parametrize("name", SAME_ON_BOTH)
def test_postgres_and_duckdb_return_the_same_numbers(
    name, pg_lake, warehouse_pg_dsn, warehouse_pg_schema
):
    root, _ = pg_lake
    sql, params = SAME_ON_BOTH[name]

    on_pg = postgres(warehouse_pg_dsn, warehouse_pg_schema).run(sql, params).frame
    on_duckdb = DuckDBEngine(root, 2, "512MB", 30).run(sql, params).frame

    assert len(on_pg) > 0
    pd.testing.assert_frame_equal(on_pg, on_duckdb, check_dtype=False)


def test_numbers_match_pandas(pg_lake, warehouse_pg_dsn, warehouse_pg_schema):
    _, frames = pg_lake
    sql, params = SAME_ON_BOTH["daily_funnel"]

    result = postgres(warehouse_pg_dsn, warehouse_pg_schema).run(sql, params)

    ev = frames["events"]
    ev = ev[(ev.event_dt >= params["start"]) & (ev.event_dt <= params["end"])]
    daily = ev.groupby("event_dt")
    frame = result.frame
    assert frame.event_dt.tolist() == [pd.Timestamp(d) for d in daily.groups]
    assert frame.events.tolist() == daily.size().tolist()
    assert (
        frame.purchases.tolist() == daily.event_name.agg(lambda s: (s == "purchase").sum()).tolist()
    )
    assert frame.kinds.tolist() == daily.event_name.nunique().tolist()
    assert frame.amount.tolist() == pytest.approx(daily.amount.sum().round(2).tolist())
    assert result.stats.engine == "postgres"
    assert result.stats.rows == len(frame)
    assert "%(start)s" in result.stats.translated_sql


def test_read_without_partition_filter_is_refused(warehouse_pg_dsn, warehouse_pg_schema):
    with pytest.raises(QueryRefused):
        postgres(warehouse_pg_dsn, warehouse_pg_schema).run("SELECT count(*) FROM events", {})


def test_query_past_the_time_limit_fails(warehouse_pg_dsn, warehouse_pg_schema):
    engine = postgres(warehouse_pg_dsn, warehouse_pg_schema, timeout_s=0.2)
    with pytest.raises(WarehouseError, match=r"query exceeded 0.2 s") as info:
        engine.run("SELECT pg_sleep(5)", {})
    assert not isinstance(info.value, TransientWarehouseError)


def test_engine_error_is_reported_with_its_message(pg_lake, warehouse_pg_dsn, warehouse_pg_schema):
    engine = postgres(warehouse_pg_dsn, warehouse_pg_schema)
    with pytest.raises(WarehouseError, match="no_such_column") as info:
        engine.run("SELECT no_such_column FROM users", {})
    assert not isinstance(info.value, TransientWarehouseError)


def test_unreachable_server_is_transient():
    engine = PostgresEngine("postgresql://nobody@127.0.0.1:1/none", timeout_s=5)
    with pytest.raises(TransientWarehouseError):
        engine.run("SELECT 1", {})
    with pytest.raises(TransientWarehouseError):
        engine.ping()


def test_ping(warehouse_pg_dsn):
    PostgresEngine(warehouse_pg_dsn, timeout_s=5).ping()


def test_registry_needs_a_postgres_url(settings):
    settings.WAREHOUSE_POSTGRES_URL = None
    with pytest.raises(ImproperlyConfigured, match="WAREHOUSE_POSTGRES_URL"):
        get_engine("postgres")
    settings.WAREHOUSE_POSTGRES_URL = "postgresql://u@h/db"
    assert get_engine("postgres").dsn == "postgresql://u@h/db"


@pytest.fixture
def notes(warehouse_pg_dsn, warehouse_pg_schema):
    """A schema of its own with one table and one view, for the write session."""
    schema = f"{warehouse_pg_schema}_writes"
    with psycopg.connect(warehouse_pg_dsn, autocommit=True) as conn:
        conn.execute(pg_sql.SQL("CREATE SCHEMA {}").format(pg_sql.Identifier(schema)))
        conn.execute(f"CREATE TABLE {schema}.notes (n int, note text)")
        conn.execute(f"INSERT INTO {schema}.notes VALUES (1, '50% off'), (2, 'kept')")
        conn.execute(f"CREATE VIEW {schema}.recent AS SELECT * FROM {schema}.notes")
    yield schema
    with psycopg.connect(warehouse_pg_dsn, autocommit=True) as conn:
        conn.execute(pg_sql.SQL("DROP SCHEMA {} CASCADE").format(pg_sql.Identifier(schema)))


def statement(text: str, params: dict) -> Statement:
    return render(sqlglot.parse_one(text, read="trino"), "postgres", params)


def test_write_session_commits_each_statement_in_its_schema(warehouse_pg_dsn, notes):
    update = statement(
        f"UPDATE {notes}.notes SET note = :note WHERE note LIKE '50%'", {"note": "x"}
    )
    with postgres(warehouse_pg_dsn, notes).write_session() as session:
        assert (session.dialect, session.schema) == ("postgres", notes)
        assert session.table_names() == {"notes"}  # base tables only
        session.execute(update)
        # Committed at once: another connection sees it while the session is still open.
        with psycopg.connect(warehouse_pg_dsn) as other:
            rows = other.execute(f"SELECT n, note FROM {notes}.notes ORDER BY n").fetchall()
        assert rows == [(1, "x"), (2, "kept")]
        assert session.count(statement(f"SELECT count(*) FROM {notes}.notes", {})) == 2
        texts = session.values(statement(f"SELECT note FROM {notes}.notes ORDER BY n", {}))
        assert texts == ["x", "kept"]


def test_write_session_errors_are_warehouse_errors(warehouse_pg_dsn, notes):
    engine = postgres(warehouse_pg_dsn, notes)
    with pytest.raises(WarehouseError, match="no_such_table") as info, engine.write_session() as s:
        s.execute(Statement(sql=f"DELETE FROM {notes}.no_such_table", params={}))
    assert not isinstance(info.value, TransientWarehouseError)
    unreachable = PostgresEngine("postgresql://nobody@127.0.0.1:1/none", timeout_s=5)
    with pytest.raises(TransientWarehouseError, match="cannot connect"):
        unreachable.write_session().__enter__()


def test_the_lake_schema_is_the_loaders_by_default(warehouse_pg_dsn):
    assert PostgresEngine(warehouse_pg_dsn, timeout_s=5).schema == "lake"
