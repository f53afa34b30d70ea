"""RedshiftEngine against a real PostgreSQL, through the proxy that makes redshift-connector
accept it (see pg_redshift_proxy.py). Numbers are checked against pandas over the same rows."""

import os
import random
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from urllib.parse import urlsplit

import pandas as pd
import psycopg
import pytest
import redshift_connector
import sqlglot

from warehouse.engines.base import TransientWarehouseError, WarehouseError
from warehouse.engines.redshift import RedshiftEngine
from warehouse.sql import Statement, render
from warehouse.tests.pg_redshift_proxy import PgRedshiftProxy

PG_URL = os.environ.get("TEST_WAREHOUSE_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
QUOTED_NAME = "it's on"
START, END = date(2024, 1, 3), date(2024, 1, 7)


@pytest.fixture(scope="module")
def pg() -> Iterator[psycopg.Connection]:
    try:
        connection = psycopg.connect(PG_URL, connect_timeout=3, autocommit=True)
    except psycopg.OperationalError as err:
        message = f"PostgreSQL at {PG_URL} is unreachable (set TEST_WAREHOUSE_PG_URL): {err}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with connection:
        yield connection


@pytest.fixture(scope="module")
def events(pg: psycopg.Connection) -> Iterator[tuple[str, pd.DataFrame]]:
    """A small events table in a schema of its own; yields (qualified name, the same rows)."""
    rng = random.Random(7)
    frame = pd.DataFrame(
        {
            "event_dt": [date(2024, 1, 1) + timedelta(days=rng.randrange(10)) for _ in range(300)],
            "identity_id": [f"u{rng.randrange(40)}" for _ in range(300)],
            "event_name": [rng.choice(["view", "purchase", QUOTED_NAME]) for _ in range(300)],
            "amount": [round(rng.uniform(0, 100), 2) for _ in range(300)],
        }
    )
    schema = f"engine_probe_{uuid.uuid4().hex[:8]}"
    pg.execute(f"CREATE SCHEMA {schema}")
    try:
        pg.execute(
            f"CREATE TABLE {schema}.events (event_dt date, identity_id varchar, "
            "event_name varchar, amount double precision)"
        )
        with pg.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {schema}.events VALUES (%s, %s, %s, %s)",
                list(frame.itertuples(index=False, name=None)),
            )
        yield f"{schema}.events", frame
    finally:
        pg.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(scope="module")
def proxy(pg: psycopg.Connection) -> Iterator[PgRedshiftProxy]:
    url = urlsplit(PG_URL)
    with PgRedshiftProxy(url.hostname or "127.0.0.1", url.port or 5432) as running:
        yield running


def make_engine(proxy: PgRedshiftProxy, timeout_s: float = 10) -> RedshiftEngine:
    url = urlsplit(PG_URL)
    return RedshiftEngine(
        host=proxy.host,
        port=proxy.port,
        database=url.path.lstrip("/"),
        user=url.username or "postgres",
        password=url.password or "",
        ssl=False,
        timeout_s=timeout_s,
    )


def test_daily_metrics_match_pandas(proxy, events) -> None:
    table, frame = events
    sql = f"""
        SELECT event_dt,
               count_if(event_name = 'purchase') AS purchases,
               approx_distinct(identity_id) AS users,
               sum(amount) AS amount
        FROM {table}
        WHERE event_dt BETWEEN :start AND :end
        GROUP BY event_dt
        ORDER BY event_dt
    """

    result = make_engine(proxy).run(sql, {"start": START, "end": END})

    window = frame[(frame.event_dt >= START) & (frame.event_dt <= END)]
    expected = (
        window.assign(purchase=window.event_name == "purchase")
        .groupby("event_dt")
        .agg(
            purchases=("purchase", "sum"),
            users=("identity_id", "nunique"),
            amount=("amount", "sum"),
        )
        .reset_index()
    )
    got = result.frame
    assert list(got.columns) == ["event_dt", "purchases", "users", "amount"]
    assert str(got.event_dt.dtype) == "datetime64[ns]"
    assert got.event_dt.dt.date.tolist() == expected.event_dt.tolist()
    assert got.purchases.tolist() == expected.purchases.tolist()
    # approx_distinct becomes an exact count(DISTINCT …) on Redshift.
    assert "COUNT(DISTINCT identity_id)" in result.stats.translated_sql
    assert got.users.tolist() == expected.users.tolist()
    assert got.amount.tolist() == pytest.approx(expected.amount.tolist())
    assert result.stats.rows == len(expected) == 5
    assert result.stats.engine == "redshift"


@pytest.mark.parametrize(
    ("name", "matches"),
    [(QUOTED_NAME, True), ("x' OR '1'='1", False)],
)
def test_value_with_quote_is_bound_as_data(proxy, events, name: str, matches: bool) -> None:
    table, frame = events
    sql = (
        f"SELECT count(*) AS n FROM {table} "
        "WHERE event_dt BETWEEN :start AND current_date AND event_name = :name"
    )

    result = make_engine(proxy).run(sql, {"start": START, "name": name})

    expected = ((frame.event_dt >= START) & (frame.event_name == name)).sum()
    assert result.frame.n.tolist() == [expected]
    assert (expected > 0) == matches
    assert redshift_connector.paramstyle == "format"  # the module default is left alone


def test_percent_inside_a_literal_is_kept(proxy, events) -> None:
    table, frame = events
    sql = (
        f"SELECT count(*) AS n FROM {table} "
        "WHERE event_dt BETWEEN :start AND current_date AND event_name LIKE 'it%'"
    )

    result = make_engine(proxy).run(sql, {"start": START})

    expected = ((frame.event_dt >= START) & frame.event_name.str.startswith("it")).sum()
    assert result.frame.n.tolist() == [expected] != [0]


def test_modulo_operator_reaches_the_driver_as_mod(proxy, events) -> None:
    table, frame = events
    sql = (
        f"SELECT count(*) AS n FROM {table} "
        "WHERE event_dt BETWEEN :start AND current_date AND CAST(floor(amount) AS integer) % 2 = 0"
    )

    result = make_engine(proxy).run(sql, {"start": START})

    expected = ((frame.event_dt >= START) & (frame.amount // 1 % 2 == 0)).sum()
    assert result.frame.n.tolist() == [expected] != [0]


def test_sql_error_carries_the_engine_message(proxy, events) -> None:
    table, _ = events
    sql = f"SELECT no_such_column FROM {table} WHERE event_dt = :day"

    with pytest.raises(WarehouseError, match='column "no_such_column" does not exist') as caught:
        make_engine(proxy).run(sql, {"day": START})

    assert not isinstance(caught.value, TransientWarehouseError)


def test_statement_timeout_stops_the_query(proxy) -> None:
    started = time.monotonic()

    with pytest.raises(WarehouseError, match="statement timeout"):
        make_engine(proxy, timeout_s=0.5).run("SELECT pg_sleep(5) AS slept", {})

    assert time.monotonic() - started < 3


def test_ping(proxy) -> None:
    make_engine(proxy).ping()


def test_unreachable_server_is_transient() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = RedshiftEngine("127.0.0.1", port, "test", "postgres", "", ssl=False, timeout_s=2)

    with pytest.raises(TransientWarehouseError, match="unreachable"):
        engine.ping()


def test_from_settings(settings) -> None:
    settings.REDSHIFT = {
        "host": "cluster.example",
        "port": 5439,
        "database": "analytics",
        "user": "portal",
        "password": "secret",
        "ssl": True,
    }
    settings.QUERY_TIME_LIMIT_SECONDS = 90

    engine = RedshiftEngine.from_settings()

    assert (engine.host, engine.port, engine.database) == ("cluster.example", 5439, "analytics")
    assert (engine.user, engine.password, engine.ssl, engine.timeout_s) == (
        "portal",
        "secret",
        True,
        90,
    )
    assert (engine.name, engine.dialect) == ("redshift", "redshift")


def test_write_session_commits_without_the_read_time_limit(proxy, pg, events) -> None:
    """An erasure's UPDATE may run longer than a dashboard query may."""
    table, frame = events
    update = render(
        sqlglot.parse_one(f"UPDATE {table} SET event_name = :to WHERE event_name = :name"),
        "redshift",
        {"to": "erased", "name": QUOTED_NAME},
    )
    count = render(
        sqlglot.parse_one(f"SELECT count(*) FROM {table} WHERE event_name = :to"),
        "redshift",
        {"to": "erased"},
    )
    with make_engine(proxy, timeout_s=0.5).write_session() as session:
        assert (session.dialect, session.schema) == ("redshift", None)
        session.execute(Statement(sql="SELECT pg_sleep(1)", params={}))
        session.execute(update)
        # Committed at once: PostgreSQL itself sees it while the session is still open.
        seen = pg.execute(f"SELECT count(*) FROM {table} WHERE event_name = 'erased'").fetchone()
        assert seen == (int((frame.event_name == QUOTED_NAME).sum()),) != (0,)
        assert session.count(count) == seen[0]
    pg.execute(f"UPDATE {table} SET event_name = %s WHERE event_name = 'erased'", [QUOTED_NAME])


def test_write_session_errors_are_warehouse_errors(proxy) -> None:
    engine = make_engine(proxy)
    with (
        pytest.raises(WarehouseError, match="no_such_table") as caught,
        engine.write_session() as s,
    ):
        s.execute(Statement(sql="DELETE FROM no_such_table", params={}))
    assert not isinstance(caught.value, TransientWarehouseError)
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = RedshiftEngine("127.0.0.1", port, "test", "postgres", "", ssl=False, timeout_s=2)
    with pytest.raises(TransientWarehouseError, match="unreachable"), engine.write_session():
        pass
