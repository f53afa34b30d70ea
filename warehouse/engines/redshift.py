"""Amazon Redshift through redshift-connector, one connection per query.

redshift-connector reads its bind style from the module attribute ``paramstyle`` when a cursor
is created; setting ``cursor.paramstyle`` on our own cursor gives pyformat here without changing
the default for any other user of the module.
"""

import contextlib
import time
from collections.abc import Iterator, Mapping
from typing import Any, Self

import pandas as pd
import redshift_connector
from redshift_connector.utils.oids import RedshiftOID

from warehouse.engines.base import (
    QueryResult,
    RunStats,
    TransientWarehouseError,
    WarehouseError,
    WriteSession,
    prepare,
)

# SQLSTATE classes and codes worth retrying: connection lost, resources short, server
# restarting, serialization conflicts.
TRANSIENT_SQLSTATE_CLASSES = ("08", "53")
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "57P01", "57P02", "57P03"})
DATETIME_OIDS = frozenset({RedshiftOID.DATE, RedshiftOID.TIMESTAMP, RedshiftOID.TIMESTAMPTZ})
DRIVER_ERRORS = (redshift_connector.Error, OSError)
CONNECTION_LOST_MESSAGES = ("BrokenPipe", "connection is closed", "communication error")
# The socket gives up this long after the statement timeout should have fired server-side.
SOCKET_GRACE_S = 30


class RedshiftEngine:
    name = "redshift"
    dialect = "redshift"
    schema = None  # the lake's tables are on the session's search path

    def __init__(
        self,
        host: str,
        port: int,
        database: str,
        user: str,
        password: str | None,
        ssl: bool,
        timeout_s: float,
    ) -> None:
        self.host = host
        self.port = port
        self.database = database
        self.user = user
        self.password = password
        self.ssl = ssl
        self.timeout_s = timeout_s

    @classmethod
    def from_settings(cls) -> Self:
        from django.conf import settings

        conf = settings.REDSHIFT
        return cls(
            host=conf["host"],
            port=conf["port"],
            database=conf["database"],
            user=conf["user"],
            password=conf["password"],
            ssl=conf["ssl"],
            timeout_s=settings.QUERY_TIME_LIMIT_SECONDS,
        )

    def run(self, sql: str, params: Mapping[str, Any]) -> QueryResult:
        _, translated = prepare(sql, params, self.dialect)
        started = time.monotonic()
        try:
            with self._session() as cursor:
                cursor.execute(translated, dict(params))
                frame = _frame(cursor)
        except DRIVER_ERRORS as err:
            raise map_error(err) from err
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
        try:
            with self._session() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchall()
        except DRIVER_ERRORS as err:
            raise map_error(err) from err

    @contextlib.contextmanager
    def write_session(self) -> Iterator[WriteSession]:
        """Statements that change data, each committed on its own and without the read time
        limit (an erasure's UPDATE may take longer than a dashboard query)."""
        try:
            with self._cursor(application_name="portal-writes", timeout_s=None) as cursor:
                yield WriteSession(cursor, self.dialect, self.schema)
        except DRIVER_ERRORS as err:
            raise map_error(err) from err

    @contextlib.contextmanager
    def _session(self) -> Iterator[redshift_connector.Cursor]:
        with self._cursor(application_name="portal", timeout_s=self.timeout_s) as cursor:
            # An int computed here, never user input, so it may be written into the statement.
            cursor.execute(f"SET statement_timeout TO {max(1, round(self.timeout_s * 1000))}")
            yield cursor

    @contextlib.contextmanager
    def _cursor(
        self, *, application_name: str, timeout_s: float | None
    ) -> Iterator[redshift_connector.Cursor]:
        connection = redshift_connector.connect(
            host=self.host,
            port=self.port,
            database=self.database,
            user=self.user,
            password=self.password,
            ssl=self.ssl,
            # The socket gives up a while after the statement timeout should have fired.
            timeout=None if timeout_s is None else int(timeout_s) + SOCKET_GRACE_S,
            # Averages and ratios come back as NUMERIC; the portal wants floats.
            numeric_to_float=True,
            application_name=application_name,
        )
        try:
            # No transaction left open between statements.
            connection.autocommit = True
            cursor = connection.cursor()
            cursor.paramstyle = "pyformat"
            yield cursor
        finally:
            with contextlib.suppress(*DRIVER_ERRORS):
                connection.close()


def _frame(cursor: redshift_connector.Cursor) -> pd.DataFrame:
    description = cursor.description or []
    # Positional labels while converting: a query may return two columns of the same name.
    frame = pd.DataFrame.from_records(cursor.fetchall(), columns=range(len(description)))
    for i, column in enumerate(description):
        # Dates as datetime64, as the DuckDB, PostgreSQL and Athena engines return them.
        if column[1] in DATETIME_OIDS:
            frame[i] = pd.to_datetime(frame[i])
    frame.columns = [column[0] for column in description]
    return frame


def map_error(err: BaseException) -> WarehouseError:
    detail = err.args[0] if err.args else None
    if isinstance(detail, dict):  # an ErrorResponse from the server: SQLSTATE and message
        code, message = detail.get("C", ""), detail.get("M", str(err))
        transient = code[:2] in TRANSIENT_SQLSTATE_CLASSES or code in TRANSIENT_SQLSTATES
        cls = TransientWarehouseError if transient else WarehouseError
        return cls(f"Redshift error {code}: {message}")
    # The driver wraps socket failures as (message, OSError) and reports a dropped connection
    # in words; anything else it raises itself (auth method, SSL refused) is configuration.
    lost = isinstance(err, OSError) or any(isinstance(arg, OSError) for arg in err.args)
    lost = lost or str(detail).startswith(CONNECTION_LOST_MESSAGES)
    cls = TransientWarehouseError if lost else WarehouseError
    return cls(f"Redshift {'unreachable' if lost else 'error'}: {err}")
