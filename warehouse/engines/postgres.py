"""PostgreSQL holding a copy of the lake (see pg_loader): one short-lived connection per query."""

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pandas as pd
import psycopg
from psycopg import errors, sql
from psycopg.types.numeric import FloatLoader

from warehouse.engines.base import (
    QueryResult,
    RunStats,
    TransientWarehouseError,
    WarehouseError,
    WriteSession,
    prepare,
)

CONNECT_TIMEOUT_S = 10
# The schema `manage.py lake_to_postgres` loads the lake into, and the engine reads and writes.
LAKE_SCHEMA = "lake"
# Type OIDs of date, timestamp and timestamptz: loaded as datetime64[us] columns, as from DuckDB.
_DATETIME_OIDS = {1082, 1114, 1184}


class PostgresEngine:
    name = "postgres"
    dialect = "postgres"

    def __init__(self, dsn: str, timeout_s: float, schema: str | None = None) -> None:
        self.dsn = dsn
        self.timeout_s = timeout_s
        self.schema = schema or LAKE_SCHEMA

    def _connect(self) -> psycopg.Connection:
        try:
            conn = psycopg.connect(self.dsn, connect_timeout=CONNECT_TIMEOUT_S)
        except psycopg.OperationalError as err:
            raise TransientWarehouseError(f"cannot connect to PostgreSQL: {err}") from err
        # numeric (sum of bigint, avg) as float rather than Decimal, like the other engines.
        conn.adapters.register_loader("numeric", FloatLoader)
        return conn

    def run(self, sql_text: str, params: Mapping[str, Any]) -> QueryResult:
        _, translated = prepare(sql_text, params, self.dialect)
        started = time.monotonic()
        with self._connect() as conn:
            conn.read_only = True
            try:
                with conn.cursor() as cur:
                    cur.execute(
                        sql.SQL("SET LOCAL statement_timeout = {}").format(
                            int(self.timeout_s * 1000)
                        )
                    )
                    cur.execute(
                        sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(self.schema))
                    )
                    cur.execute("SET LOCAL TimeZone TO 'UTC'")
                    # Always a dict, even empty: the SQL is a pyformat template (%% means %).
                    cur.execute(translated, dict(params))
                    frame = _frame(cur)
            except errors.QueryCanceled:
                raise WarehouseError(f"query exceeded {self.timeout_s:g} s") from None
            except psycopg.OperationalError as err:
                raise TransientWarehouseError(str(err)) from err
            except psycopg.Error as err:
                raise WarehouseError(str(err)) from err
        return QueryResult(
            frame=frame,
            stats=RunStats(
                engine=self.name,
                translated_sql=translated,
                elapsed_s=time.monotonic() - started,
                rows=len(frame),
            ),
        )

    def ping(self) -> None:
        with self._connect() as conn:
            try:
                conn.execute("SELECT 1")
            except psycopg.Error as err:
                raise TransientWarehouseError(str(err)) from err

    @contextmanager
    def write_session(self) -> Iterator[WriteSession]:
        """Statements that change the copy, each committed on its own."""
        with self._connect() as conn:
            conn.autocommit = True
            try:
                with conn.cursor() as cursor:
                    yield WriteSession(cursor, self.dialect, self.schema)
            except psycopg.OperationalError as err:
                raise TransientWarehouseError(str(err)) from err
            except psycopg.Error as err:
                raise WarehouseError(str(err)) from err


def _frame(cur: psycopg.Cursor) -> pd.DataFrame:
    description = cur.description or []
    # Positional labels while converting: a query may return two columns of the same name.
    frame = pd.DataFrame.from_records(cur.fetchall(), columns=range(len(description)))
    for i, column in enumerate(description):
        if column.type_code in _DATETIME_OIDS:
            frame[i] = pd.to_datetime(frame[i]).dt.as_unit("us")
    frame.columns = [c.name for c in description]
    return frame
