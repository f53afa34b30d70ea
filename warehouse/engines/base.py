"""The one interface every warehouse engine implements: canonical SQL and bound params in,
a result frame and run statistics out; and the write session of the remote ones."""

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import pandas as pd
from sqlglot import exp

from warehouse.lake.contract import partitioned_tables
from warehouse.sql import (
    CanonicalSql,
    Statement,
    check_params,
    check_partition_filters,
    parse,
    render,
    translate,
)


class WarehouseError(Exception):
    """The engine rejected or failed the query; the message is the engine's own."""


class TransientWarehouseError(WarehouseError):
    """A failure worth retrying (connection dropped, throttled, engine busy)."""


class ScanTooLarge(WarehouseError):
    """The query would scan (or did scan) more than one query may: QUERY_MAX_BYTES_SCANNED."""


@dataclass(frozen=True)
class RunStats:
    engine: str
    translated_sql: str
    elapsed_s: float
    rows: int
    bytes_scanned: int | None = None
    cost_usd: float | None = None
    engine_query_id: str | None = None


@dataclass(frozen=True)
class QueryResult:
    frame: pd.DataFrame
    stats: RunStats


class Engine(Protocol):
    name: str
    dialect: str

    def run(self, sql: str, params: Mapping[str, Any]) -> QueryResult:
        """Parse, check, translate and run one canonical query with ``params`` bound."""
        ...

    def ping(self) -> None:
        """Raise WarehouseError when the engine cannot be reached."""
        ...


class WriteSession:
    """An open autocommit connection to a remote warehouse, for the statements that change data
    there (DSAR UPDATEs, retention DELETEs, the experiment results the portal writes) and the
    reads that go with them. Opened by RemoteEngine.write_session, which turns the driver's
    errors into WarehouseError."""

    def __init__(self, cursor: Any, dialect: str, schema: str | None) -> None:
        self.cursor = cursor
        self.dialect = dialect
        self.schema = schema

    def execute(self, statement: Statement) -> None:
        self.cursor.execute(statement.sql, statement.params)

    def count(self, statement: Statement) -> int:
        self.cursor.execute(statement.sql, statement.params)
        return int(self.cursor.fetchone()[0])

    def values(self, statement: Statement) -> list:
        """The first column of every row."""
        self.cursor.execute(statement.sql, statement.params)
        return [row[0] for row in self.cursor.fetchall()]

    def rows(self, statement: Statement, batch: int) -> tuple[list[str], Iterator[list[tuple]]]:
        """The column names, and the rows ``batch`` at a time (fetched as they are read)."""
        self.cursor.execute(statement.sql, statement.params)

        def batches() -> Iterator[list[tuple]]:
            while chunk := self.cursor.fetchmany(batch):
                yield [tuple(row) for row in chunk]

        return [d[0] for d in self.cursor.description], batches()

    def table_names(self) -> set[str]:
        """The base tables the warehouse holds where the portal's statements go."""
        return set(self.values(tables_statement(self.dialect, self.schema)))


class RemoteEngine(Engine, Protocol):
    """An engine the portal also writes to (core.engines.REMOTE_ENGINES)."""

    # Where the lake's tables are: the loader's schema, Athena's database; None for the session's
    # current schema (Redshift).
    schema: str | None

    def write_session(self) -> AbstractContextManager[WriteSession]: ...


def tables_statement(dialect: str, schema: str | None) -> Statement:
    """The names of the base tables in ``schema`` (None: the session's current schema): what
    retention and the results writer look for before touching a contract table."""
    where = (
        exp.Placeholder(this="schema")
        if schema is not None
        else exp.Anonymous(this="current_schema")
    )
    tree = (
        exp.select(exp.column("table_name"))
        .from_(exp.table_("tables", db="information_schema"))
        .where(
            exp.and_(
                exp.EQ(this=exp.column("table_schema"), expression=where),
                exp.EQ(this=exp.column("table_type"), expression=exp.Literal.string("BASE TABLE")),
            )
        )
    )
    return render(tree, dialect, {"schema": schema} if schema is not None else {})


def checked_sql(sql: str) -> CanonicalSql:
    """Parsed, with the partition rule checked; cached, since the same SQL comes back often.
    (A refusal raises and is not cached.)"""
    return _checked_sql(sql, frozenset(partitioned_tables().items()))


@lru_cache(maxsize=512)
def _checked_sql(sql: str, partitioned: frozenset[tuple[str, str]]) -> CanonicalSql:
    canonical = parse(sql)
    check_partition_filters(canonical.tree, dict(partitioned))
    return canonical


def prepare(sql: str, params: Mapping[str, Any], dialect: str) -> tuple[CanonicalSql, str]:
    """Every engine's first step: parse, check parameters and the partition rule, translate."""
    canonical = checked_sql(sql)
    check_params(canonical, params)
    return canonical, translate(canonical, dialect)
