"""load_lake against a real PostgreSQL: contract types, exact values, atomic replacement."""

from datetime import date

import pandas as pd
import psycopg
import pytest
from django.core.management import CommandError, call_command
from psycopg import sql

from warehouse.engines import pg_loader
from warehouse.engines.pg_loader import load_lake, postgres_type
from warehouse.lake import contract
from warehouse.lake.contract import UnknownTable
from warehouse.tests.conftest import INJECTION, tiny_frames, write_tiny_lake

pytestmark = pytest.mark.usefixtures("tiny_contract")
REAL_TABLES = dict(contract.TABLES)  # before tiny_contract replaces them


@pytest.fixture
def schema(warehouse_pg_dsn, warehouse_pg_schema):
    """A schema of each test's own, so reloads here never touch the tables other tests read."""
    name = f"{warehouse_pg_schema}_loader"
    yield name
    with psycopg.connect(warehouse_pg_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@pytest.mark.parametrize(
    ("trino", "postgres"),
    [
        ("varchar", 'text COLLATE "C"'),
        ("VARCHAR(20)", 'text COLLATE "C"'),
        ("bigint", "bigint"),
        ("double", "double precision"),
        ("decimal(12, 2)", "numeric(12,2)"),
        ("timestamp(3)", "timestamp(3)"),
        ("timestamp with time zone", "timestamptz"),
        ("date", "date"),
        ("boolean", "boolean"),
    ],
)
def test_postgres_type(trino, postgres):
    assert postgres_type(trino) == postgres


def test_unsupported_type_is_named():
    with pytest.raises(ValueError, match=r"map\(varchar, bigint\)"):
        postgres_type("map(varchar, bigint)")


def _fetch(dsn: str, schema: str, query: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        return conn.execute(query).fetchall()


def test_load_keeps_types_and_values(tmp_path, warehouse_pg_dsn, schema):
    frames = tiny_frames()
    write_tiny_lake(tmp_path, frames)

    loaded = load_lake(warehouse_pg_dsn, tmp_path, schema=schema)

    assert loaded == {"events": len(frames["events"]), "users": len(frames["users"])}
    types = _fetch(
        warehouse_pg_dsn,
        schema,
        "SELECT column_name, data_type, collation_name FROM information_schema.columns "
        f"WHERE table_schema = '{schema}' AND table_name = 'events' "
        "ORDER BY ordinal_position",
    )
    # Strings in binary order, as Trino and DuckDB sort them, whatever the server's locale.
    assert types == [
        ("event_dt", "date", None),
        ("identity_id", "text", "C"),
        ("event_name", "text", "C"),
        ("amount", "double precision", None),
        ("qty", "bigint", None),
        ("props", "text", "C"),
        ("ts", "timestamp without time zone", None),
    ]
    rows = _fetch(
        warehouse_pg_dsn,
        schema,
        "SELECT event_dt, identity_id, event_name, amount, qty, props, ts FROM events",
    )
    got = pd.DataFrame(rows, columns=list(frames["events"].columns))
    key = ["ts", "identity_id", "event_name", "qty"]
    got = got.sort_values(key).reset_index(drop=True)
    want = frames["events"].sort_values(key).reset_index(drop=True)
    got["ts"] = pd.to_datetime(got.ts)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)

    users = _fetch(warehouse_pg_dsn, schema, "SELECT * FROM users ORDER BY 1")
    # NULL stays NULL and an empty string stays empty; quotes survive.
    assert (INJECTION, "", date(2023, 12, 6)) in users
    assert ("u4", None, date(2023, 12, 4)) in users


def test_reload_replaces_and_failed_load_keeps_the_old_table(
    tmp_path, warehouse_pg_dsn, schema, monkeypatch
):
    frames = tiny_frames()
    write_tiny_lake(tmp_path, frames)
    load_lake(warehouse_pg_dsn, tmp_path, schema=schema)
    (tmp_path / "gold/users/part-1.parquet").write_bytes(
        (tmp_path / "gold/users/part-0.parquet").read_bytes()
    )

    assert load_lake(warehouse_pg_dsn, tmp_path, schema=schema) == {
        "events": len(frames["events"]),
        "users": 2 * len(frames["users"]),
    }

    def broken_chunks(root, table):
        yield b"u9,se,2024-01-01\n"
        raise OSError("disk went away")

    monkeypatch.setattr(pg_loader, "_csv_chunks", broken_chunks)
    with pytest.raises(OSError, match="disk went away"):
        load_lake(warehouse_pg_dsn, tmp_path, ["users"], schema=schema)

    count = "SELECT count(*) FROM users"
    assert _fetch(warehouse_pg_dsn, schema, count) == [(2 * len(frames["users"]),)]
    leftovers = _fetch(
        warehouse_pg_dsn,
        schema,
        f"SELECT count(*) FROM pg_tables WHERE schemaname = '{schema}' "
        "AND tablename LIKE '%\\_\\_new'",
    )
    assert leftovers == [(0,)]


def test_unknown_table_is_refused(tmp_path, warehouse_pg_dsn):
    with pytest.raises(UnknownTable):
        load_lake(warehouse_pg_dsn, tmp_path, ["nope"])


def test_command_loads_tables(tmp_path, warehouse_pg_dsn, schema, settings, capsys):
    write_tiny_lake(tmp_path, tiny_frames())
    settings.LAKE_ROOT = tmp_path

    call_command(
        "lake_to_postgres",
        *("--dsn", warehouse_pg_dsn, "--tables", "users", "--schema", schema),
    )

    assert "users: 6 rows" in capsys.readouterr().out


def test_command_failure_is_one_readable_line(tmp_path, settings):
    settings.LAKE_ROOT = tmp_path
    with pytest.raises(CommandError) as info:
        call_command("lake_to_postgres", "--dsn", "postgresql://nobody@127.0.0.1:1/none")
    assert str(info.value).startswith("Cannot load the lake into PostgreSQL: ")
    assert "\n" not in str(info.value)

    with pytest.raises(CommandError, match="Unknown table 'nope'"):
        call_command(
            "lake_to_postgres", "--dsn", "postgresql://x@127.0.0.1:1/x", "--tables", "nope"
        )


def test_a_reload_keeps_the_rows_the_portal_wrote(
    small_lake, warehouse_pg_dsn, schema, monkeypatch
):
    """fact_experiment_result is written by the portal in the warehouse: a plain reload creates it
    when missing and otherwise leaves it alone; naming it reloads it from the lake."""
    kept = {name: REAL_TABLES[name] for name in ("fact_bookings", "fact_experiment_result")}
    monkeypatch.setattr(contract, "TABLES", kept)
    first = load_lake(warehouse_pg_dsn, small_lake, schema=schema)
    assert set(first) == {"fact_bookings", "fact_experiment_result"}
    with psycopg.connect(warehouse_pg_dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (experiment_key, variant, metric) VALUES ('e', 'b', 'm')"
            ).format(sql.Identifier(schema, "fact_experiment_result"))
        )
    again = load_lake(warehouse_pg_dsn, small_lake, schema=schema)
    assert set(again) == {"fact_bookings"}
    portal_rows = "SELECT experiment_key FROM fact_experiment_result WHERE experiment_key = 'e'"
    assert _fetch(warehouse_pg_dsn, schema, portal_rows) == [("e",)]
    load_lake(warehouse_pg_dsn, small_lake, tables=["fact_experiment_result"], schema=schema)
    assert _fetch(warehouse_pg_dsn, schema, portal_rows) == []
