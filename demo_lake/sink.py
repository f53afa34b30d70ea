"""Writing the lake: rows wait until their partition day is complete, then become its files."""

from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from demo_lake.timeline import DAY, EPOCH
from warehouse.lake import layout
from warehouse.lake.contract import TABLES, Table
from warehouse.lake.storage import arrow_schema, partition_dir, table_dir

DEMO_TABLES = tuple(t for t in TABLES.values() if t.writer == "pipeline")


def _array(value: Any, typ: pa.DataType, end: int) -> pa.Array:
    if isinstance(value, pa.Array):
        return value if value.type == typ else value.cast(typ)
    value = np.asarray(value)
    if pa.types.is_timestamp(typ):
        return pa.array(value.view("datetime64[us]"), type=typ, mask=value > end)
    if pa.types.is_floating(typ):
        return pa.array(value, type=typ, mask=np.isnan(value))
    return pa.array(value, type=typ)


def _by_day(data: pa.Table, day: np.ndarray) -> Iterator[tuple[int, pa.Table]]:
    """Rows grouped by partition day (one sort, then zero-copy slices)."""
    if len(day) and (day == day[0]).all():
        yield int(day[0]), data
        return
    order = np.argsort(day, kind="stable")
    data = data.take(order)
    values, starts = np.unique(day[order], return_index=True)
    bounds = [*starts.tolist(), len(order)]
    for i, value in enumerate(values.tolist()):
        yield value, data.slice(bounds[i], bounds[i + 1] - bounds[i])


def _copy(data: pa.Table) -> pa.Table:
    return data.take(np.arange(data.num_rows))


class Sink:
    """Holds rows until their partition day is complete, then writes the partition's files."""

    def __init__(self, root: Path, first_day: int, last_day: int, rows_per_file: int):
        self.root, self.first_day, self.last_day = root, first_day, last_day
        self.rows_per_file = rows_per_file
        self.end = (last_day + 1) * DAY - 1
        self.next_day = first_day  # the next partition day to be flushed
        self.pending: dict[str, dict[int, list[pa.Table]]] = defaultdict(lambda: defaultdict(list))
        self.rows: dict[str, int] = {t.name: 0 for t in DEMO_TABLES}

    def _table(self, table: Table, columns: dict[str, Any]) -> pa.Table:
        schema = arrow_schema(table)
        if set(columns) != set(schema.names):
            raise ValueError(f"{table.name}: columns {sorted(columns)} != {schema.names}")
        return pa.table([_array(columns[f.name], f.type, self.end) for f in schema], schema=schema)

    def add(self, name: str, day: np.ndarray, columns: dict[str, Any]) -> None:
        """Queue rows whose partition is ``day`` (days since epoch); later days than the window's
        last have not happened yet and are dropped."""
        self._queue(name, self._table(TABLES[name], columns), day)

    def add_reaching_back(self, name: str, day: np.ndarray, columns: dict[str, Any]) -> None:
        """Rows of the history and of the window at once (the after-sale of bookings made before
        the window): those before it are written now (as ``write_history``), the rest queued."""
        table = TABLES[name]
        data = self._table(table, columns)
        old = day < self.first_day
        self._write_history(table, data.filter(pa.array(old)), day[old])
        self._queue(name, data.filter(pa.array(~old)), day[~old])

    def _queue(self, name: str, data: pa.Table, day: np.ndarray) -> None:
        keep = day <= self.last_day
        if not keep.all():
            data, day = data.filter(pa.array(keep)), day[keep]
        if len(day) and day.min() < self.first_day:
            raise ValueError(f"{name}: rows before the window")
        for value, part in _by_day(data, day):
            # A slice keeps its whole parent table alive: copy what waits for a later day.
            self.pending[name][value].append(part if value == self.next_day else _copy(part))

    def write_history(self, name: str, day: np.ndarray, columns: dict[str, Any]) -> None:
        """Write rows older than the window at once, one file per partition."""
        table = TABLES[name]
        self._write_history(table, self._table(table, columns), day)

    def _write_history(self, table: Table, data: pa.Table, day: np.ndarray) -> None:
        if len(day) and day.max() >= self.first_day:
            raise ValueError(f"{table.name}: history reaches into the window")
        for value, part in _by_day(data, day):
            label = (EPOCH + timedelta(days=value)).isoformat()
            self._write(table, part, partition_dir(self.root, table, label))

    def flush(self, day: int) -> None:
        """Write partition ``day`` of every partitioned table (an empty file if it has no rows)."""
        label = (EPOCH + timedelta(days=day)).isoformat()
        for table in DEMO_TABLES:
            if not table.partition_column:
                continue
            pending = self.pending[table.name]
            if any(d < day for d in pending):
                raise RuntimeError(f"{table.name}: a partition before {label} was not written")
            parts = pending.pop(day, [])
            data = pa.concat_tables(parts) if parts else arrow_schema(table).empty_table()
            self._write(table, data, partition_dir(self.root, table, label))
        self.next_day = day + 1

    def write_whole(self, name: str, columns: dict[str, Any]) -> None:
        table = TABLES[name]
        self._write(table, self._table(table, columns), table_dir(self.root, table))

    def _write(self, table: Table, data: pa.Table, directory: Path) -> None:
        stamps = [f.name for f in data.schema if pa.types.is_timestamp(f.type)]
        if stamps and data.num_rows > 1:
            data = data.take(pc.sort_indices(data[stamps[0]]))
        directory.mkdir(parents=True, exist_ok=True)
        options = layout.parquet_options(data.schema)
        # The whole lake is built in a private directory and renamed into place when complete,
        # so files need no per-file temporary name here.
        for name, part in layout.files(data, table.bucket_column, self.rows_per_file):
            pq.write_table(part, directory / name, **options)
        self.rows[table.name] += data.num_rows
