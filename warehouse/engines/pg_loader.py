"""Copy lake tables into PostgreSQL with the contract's column types.

Each table is rebuilt as ``<table>__new`` and swapped in within one transaction, so readers see
the old table or the new one, never a half-loaded one. Rows travel as CSV produced by Arrow
(C speed) through COPY; DuckDB reads the Parquet files exactly as the DuckDB engine does.
"""

import io
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import duckdb
import psycopg
from psycopg import sql
from pyarrow import csv

from warehouse.engines.duckdb import parquet_scan_sql
from warehouse.engines.postgres import LAKE_SCHEMA
from warehouse.lake import contract, storage
from warehouse.lake import views as lake_views

BATCH_ROWS = 100_000
# Trino base type -> PostgreSQL type; parameters such as decimal(p, s) are kept.
_TYPES = {
    # Binary collation: strings sort and compare as in Trino and DuckDB, whatever the server's.
    "varchar": 'text COLLATE "C"',
    "char": 'text COLLATE "C"',
    "json": "json",
    "boolean": "boolean",
    "tinyint": "smallint",
    "smallint": "smallint",
    "integer": "integer",
    "int": "integer",
    "bigint": "bigint",
    "real": "real",
    "double": "double precision",
    "decimal": "numeric",
    "date": "date",
    "timestamp": "timestamp",
}
_TYPE_RE = re.compile(r"^\s*(\w+)\s*(\(\s*\d+\s*(?:,\s*\d+\s*)?\))?\s*(with time zone)?\s*$")


def postgres_type(trino_type: str) -> str:
    match = _TYPE_RE.match(trino_type.lower())
    if not match or match[1] not in _TYPES:
        raise ValueError(f"no PostgreSQL type for the contract type {trino_type!r}")
    base, args, with_tz = match.groups()
    if base == "timestamp" and with_tz:
        return "timestamptz"
    # Lengths of varchar/char are not kept: text is what PostgreSQL stores either way.
    keep_args = args if base in ("decimal", "timestamp") else ""
    return _TYPES[base] + (keep_args or "").replace(" ", "")


def load_lake(
    dsn: str, root: Path, tables: Iterable[str] | None = None, schema: str = LAKE_SCHEMA
) -> dict[str, int]:
    """Load ``tables`` (default: every contract table) from the lake at ``root`` into
    ``schema``; returns the number of rows loaded per table.

    By default a table the portal itself writes there (fact_experiment_result) is loaded only
    while the schema lacks it: a reload must not replace the portal's rows with the lake's."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise ValueError(f"there is no lake at {root}")
    chosen = [contract.table(name) for name in tables] if tables else list(contract.TABLES.values())
    loaded: dict[str, int] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        for table in chosen:
            if not tables and table.writer == "portal" and _exists(conn, schema, table.name):
                continue
            loaded[table.name] = _load_table(conn, root, table, schema)
    return loaded


def _exists(conn: psycopg.Connection, schema: str, name: str) -> bool:
    found = conn.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
        (schema, name),
    )
    return found.fetchone() is not None


def _load_table(conn: psycopg.Connection, root: Path, table: contract.Table, schema: str) -> int:
    final = sql.Identifier(schema, table.name)
    new = sql.Identifier(schema, f"{table.name}__new")
    columns = sql.SQL(", ").join(sql.Identifier(c.name) for c in table.columns)
    definition = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(postgres_type(c.type)))
        for c in table.columns
    )
    with conn.transaction():
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(new))
        conn.execute(sql.SQL("CREATE TABLE {} ({})").format(new, definition))
        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(new, columns)
        with conn.cursor() as cur:
            with cur.copy(copy_sql) as copy:
                for chunk in _csv_chunks(root, table):
                    copy.write(chunk)
            rows = cur.rowcount
        if table.partition_column:
            # Rows arrive in partition order, so a tiny BRIN index prunes date ranges well.
            conn.execute(
                sql.SQL("CREATE INDEX ON {} USING brin ({})").format(
                    new, sql.Identifier(table.partition_column)
                )
            )
        # CASCADE drops the contract views over the old table; they are recreated below, in the
        # same transaction, so readers never find them missing.
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(final))
        conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(new, sql.Identifier(table.name)))
        _create_views(conn, schema, lake_views.views_over(table.name))
    conn.execute(sql.SQL("ANALYZE {}").format(final))
    return rows


def _create_views(conn: psycopg.Connection, schema: str, views: Iterable[contract.Table]) -> None:
    """Create each view whose tables are all loaded (the others follow with their last table)."""
    for view in views:
        loaded = all(
            conn.execute("SELECT to_regclass(%s)", [f'"{schema}"."{name}"']).fetchone()[0]
            for name in lake_views.bases(view)
        )
        if loaded:
            # The SQL comes from the contract's view definition; it holds no values.
            conn.execute(lake_views.create_view_sql(view, "postgres", schema).encode())


def _csv_chunks(root: Path, table: contract.Table) -> Iterator[bytes]:
    files = storage.data_files(root, table)
    if not files:
        return
    names = ", ".join(f'"{c.name}"' for c in table.columns)
    con = duckdb.connect(":memory:")
    try:
        # Safe to format: column names come from the contract, the paths are quoted literals.
        query = f"SELECT {names} FROM {parquet_scan_sql(files, table)}"  # noqa: S608
        reader = con.execute(query).to_arrow_reader(BATCH_ROWS)
        # Strings are always quoted, so "" is an empty string and an empty field is NULL.
        options = csv.WriteOptions(include_header=False)
        for batch in reader:
            buffer = io.BytesIO()
            csv.write_csv(batch, buffer, options)
            yield buffer.getvalue()
    finally:
        con.close()
