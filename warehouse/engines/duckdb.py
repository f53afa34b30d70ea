"""DuckDB over the local Parquet lake: a fresh in-memory database per query, one view per table.

Nothing is shared between queries (no .duckdb file, no connection pool), so any number of
worker processes can read the lake while writers publish new files by rename.
"""

import os
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from itertools import count
from pathlib import Path
from typing import Any

import duckdb
import psutil

from warehouse.cost import bytes_text
from warehouse.engines.base import (
    QueryResult,
    RunStats,
    ScanTooLarge,
    TransientWarehouseError,
    WarehouseError,
    prepare,
)
from warehouse.engines.scan_estimate import scan_estimate
from warehouse.lake import contract, storage
from warehouse.lake import views as lake_views
from warehouse.sql import CanonicalSql

# Where the tables under a contract view are defined (see _define_views).
VIEW_BASE_SCHEMA = "view_base"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def parquet_scan_sql(files: Sequence[Path], table: contract.Table) -> str:
    """A read_parquet() call over exactly ``files``, typing the partition column as the contract
    says (hive partition values are otherwise guessed from the directory names)."""
    file_list = ", ".join(_literal(str(f)) for f in files)
    options = "hive_partitioning = false"
    if table.partition_column:
        column = next(c for c in table.columns if c.name == table.partition_column)
        options = (
            f"hive_partitioning = true, "
            f"hive_types = {{{_literal(column.name)}: {column.type.upper()}}}"
        )
    return f"read_parquet([{file_list}], {options})"


class _ReadMeter:
    """Bytes this process read from files while one query ran.

    DuckDB 1.5's profiler has no Parquet byte counter (its total_bytes_read counts only the
    footers it caches), so this reads the process's I/O counter (/proc/self/io rchar on Linux)
    around the query. The number is exact when no other query overlaps it in this process;
    overlapping runs and platforms without the counter get None rather than a wrong number.
    """

    _lock = threading.Lock()
    _running: set[int] = set()
    _overlapped: set[int] = set()
    _ids = count()

    def __init__(self) -> None:
        self.bytes: int | None = None

    def __enter__(self) -> "_ReadMeter":
        self._start = _read_chars()
        with self._lock:
            self._id = next(self._ids)
            if self._running:
                self._overlapped.update(self._running | {self._id})
            self._running.add(self._id)
        return self

    def __exit__(self, *exc: object) -> None:
        end = _read_chars()
        with self._lock:
            self._running.discard(self._id)
            overlapped = self._id in self._overlapped
            self._overlapped.discard(self._id)
        if not overlapped and self._start is not None and end is not None:
            self.bytes = end - self._start


def _interrupt(con: duckdb.DuckDBPyConnection) -> None:
    # The query may have finished and closed the connection while the timer fired.
    with suppress(duckdb.Error):
        con.interrupt()


def _read_chars() -> int | None:
    try:
        return psutil.Process().io_counters().read_chars
    except (AttributeError, OSError, psutil.Error):
        return None


class DuckDBEngine:
    name = "duckdb"
    dialect = "duckdb"

    def __init__(
        self,
        root: Path,
        threads: int,
        memory_limit: str,
        timeout_s: float,
        max_bytes_scanned: int = 0,
    ) -> None:
        # Resolved, so that the file paths in the views lie under allowed_directories.
        self.root = Path(root).resolve()
        self.threads = threads
        self.memory_limit = memory_limit
        self.timeout_s = timeout_s
        self.max_bytes_scanned = max_bytes_scanned  # 0: no limit

    def run(self, sql: str, params: Mapping[str, Any]) -> QueryResult:
        canonical, translated = prepare(sql, params, self.dialect)
        started = time.monotonic()
        timer: threading.Timer | None = None
        with _ReadMeter() as meter:
            con = duckdb.connect(":memory:", config=self._config())
            try:
                self._define_views(con, sorted(canonical.tables))
                self._check_scan(con, canonical, params)
                self._lock_down(con)
                timer = threading.Timer(self.timeout_s, _interrupt, args=(con,))
                timer.start()
                frame = con.execute(translated, dict(params)).df()
            except duckdb.Error as err:
                if timer is not None and timer.finished.is_set():
                    raise WarehouseError(f"query exceeded {self.timeout_s:g} s") from None
                # An I/O error is a file replaced or removed between listing and reading; the
                # next try lists the files again.
                transient = isinstance(err, duckdb.IOException)
                raise (TransientWarehouseError if transient else WarehouseError)(str(err)) from err
            finally:
                if timer is not None:
                    timer.cancel()
                con.close()
        return QueryResult(
            frame=frame,
            stats=RunStats(
                engine=self.name,
                translated_sql=translated,
                elapsed_s=time.monotonic() - started,
                rows=len(frame),
                bytes_scanned=meter.bytes,
            ),
        )

    def _check_scan(
        self, con: duckdb.DuckDBPyConnection, canonical: CanonicalSql, params: Mapping[str, Any]
    ) -> None:
        """Refuse, before reading any data, a query estimated to scan over the limit."""
        if not self.max_bytes_scanned:
            return
        estimate = scan_estimate(con, self.root, canonical, params)
        if estimate.bytes > self.max_bytes_scanned:
            raise ScanTooLarge(
                f"Query refused: it would scan about {bytes_text(estimate.bytes)} "
                f"({estimate.files} files of {', '.join(estimate.tables)}), over the limit of "
                f"{bytes_text(self.max_bytes_scanned)} per query (QUERY_MAX_BYTES_SCANNED). "
                "Choose a shorter date range."
            )

    def _config(self) -> dict[str, Any]:
        return {
            "threads": self.threads,
            "memory_limit": self.memory_limit,
            # Trino divides integers as integers (7 / 2 = 3); DuckDB's default gives 3.5.
            "integer_division": True,
        }

    def _define_views(self, con: duckdb.DuckDBPyConnection, names: Sequence[str]) -> None:
        try:
            relations = [contract.table(name) for name in names]
        except contract.UnknownTable as err:
            raise WarehouseError(f"table {err.args[0]} is not in the lake contract") from None
        views = [r for r in relations if r.is_view]
        if views:
            # The views' tables live in a schema of their own, so that the query, which reads
            # only what check_access let through, sees a view and not the tables under it.
            con.execute(f"CREATE SCHEMA {VIEW_BASE_SCHEMA}")
            for name in sorted(set().union(*(lake_views.bases(v) for v in views))):
                self._define_table(con, contract.table(name), schema=VIEW_BASE_SCHEMA)
        for relation in relations:
            if relation.is_view:
                query = lake_views.view_query(relation, self.dialect, VIEW_BASE_SCHEMA)
                con.execute(f'CREATE VIEW "{relation.name}" AS {query}')
            else:
                self._define_table(con, relation)

    def _define_table(
        self, con: duckdb.DuckDBPyConnection, table: contract.Table, schema: str = "main"
    ) -> None:
        # Listed here rather than globbed by DuckDB, whose * also matches the .tmp-* files
        # of writers that have not published yet.
        files = storage.data_files(self.root, table)
        if not files:
            raise WarehouseError(f"table {table.name} has no data in the lake at {self.root}")
        scan = parquet_scan_sql(files, table)
        # Safe to format: the names are the contract's, the paths are quoted literals.
        con.execute(f'CREATE VIEW {schema}."{table.name}" AS SELECT * FROM {scan}')  # noqa: S608

    def _lock_down(self, con: duckdb.DuckDBPyConnection) -> None:
        # The query may read the lake and nothing else, and may not change these settings.
        con.execute("SET allowed_directories = $dirs", {"dirs": [f"{self.root}/"]})
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")

    def ping(self) -> None:
        if not self.root.is_dir() or not os.access(self.root, os.R_OK | os.X_OK):
            raise WarehouseError(f"the lake root {self.root} is missing or not readable")
