"""What a query would read from the local lake, estimated before it runs.

The partition rule guarantees every read of a partitioned table has a bounded range; the range,
evaluated with the query's parameters, selects the partition directories, and the Parquet
footers of their files give the compressed size of each column chunk. The estimate is the sum,
over every table read, of the chunks of the columns that read refers to: what Athena would bill
for the same files, and an upper bound of what DuckDB reads (it may skip row groups by their
statistics).
"""

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from warehouse.lake import contract, storage
from warehouse.lake import views as lake_views
from warehouse.sql import CanonicalSql, TableRead, bounds_query, table_reads, translate


@dataclass(frozen=True)
class ScanEstimate:
    bytes: int
    files: int
    tables: tuple[str, ...]


DateRange = tuple[date, date] | None  # None: the range is empty (a bound is NULL)


def scan_estimate(
    con: duckdb.DuckDBPyConnection, root: Path, canonical: CanonicalSql, params: Mapping[str, Any]
) -> ScanEstimate:
    """The compressed bytes of the column chunks ``canonical`` would read under ``root``."""
    reads = table_reads(canonical.tree, contract.partitioned_tables())
    ranges = _ranges(con, reads, params)
    chosen: list[tuple[Path, frozenset[str]]] = []
    for i, read in enumerate(reads):
        relation = contract.table(read.table)
        # A view's columns are not its tables' columns: count every column of its tables.
        every_column = read.star or relation.is_view
        for base in _tables_under(relation):
            names = {c.name for c in base.columns} - {base.partition_column}
            columns = frozenset(names if every_column else names & read.columns)
            for path in storage.data_files(root, base):
                if base.partition_column is None or _in_range(path, ranges[i]):
                    chosen.append((path, columns))
    sizes = _column_sizes(con, sorted({path for path, _ in chosen}))
    total = sum(sizes[path].get(c, 0) for path, columns in chosen for c in columns)
    return ScanEstimate(
        bytes=total,
        files=len({path for path, _ in chosen}),
        tables=tuple(sorted({read.table for read in reads})),
    )


def _tables_under(relation: contract.Table) -> list[contract.Table]:
    if relation.is_view:
        return [contract.table(name) for name in sorted(lake_views.bases(relation))]
    return [relation]


def _ranges(
    con: duckdb.DuckDBPyConnection, reads: Sequence[TableRead], params: Mapping[str, Any]
) -> dict[int, DateRange]:
    """Each partitioned read's range, evaluated by DuckDB with the query's parameter values
    (expressions such as date_add('day', -365, :start) mean what the query means by them)."""
    query = bounds_query(list(reads))
    if query is None:
        return {}
    used = {name: params[name] for name in query.placeholders}
    row = con.execute(translate(query, "duckdb"), used).fetchone()
    values = dict(zip([d[0] for d in con.description], row, strict=True))
    ranges: dict[int, DateRange] = {}
    for i, read in enumerate(reads):
        if read.partition_column is not None:
            lower, upper = values[f"lower_{i}"], values[f"upper_{i}"]
            ranges[i] = None if lower is None or upper is None else (lower, upper)
    return ranges


def _in_range(path: Path, bounds: DateRange) -> bool:
    # Partition directories are named <column>=<YYYY-MM-DD> (warehouse.lake.storage).
    if bounds is None:
        return False
    value = date.fromisoformat(path.parent.name.partition("=")[2])
    return bounds[0] <= value <= bounds[1]


# Compressed bytes per top-level column of each file, by (path, size, mtime): a published file
# never changes in place (the lake is append-by-rename), so an entry stays true for its key.
_SIZES: dict[tuple[str, int, int], dict[str, int]] = {}
_SIZES_LOCK = threading.Lock()
_SIZES_MAX = 200_000


def _column_sizes(
    con: duckdb.DuckDBPyConnection, paths: Iterable[Path]
) -> dict[Path, dict[str, int]]:
    keys = {}
    for path in paths:
        stat = path.stat()
        keys[path] = (str(path), stat.st_size, stat.st_mtime_ns)
    with _SIZES_LOCK:
        sizes = {path: _SIZES[key] for path, key in keys.items() if key in _SIZES}
    missing = [path for path in keys if path not in sizes]
    if not missing:
        return sizes
    found: dict[str, dict[str, int]] = {str(p): {} for p in missing}
    rows = con.execute(
        "SELECT file_name, path_in_schema, sum(total_compressed_size) "
        "FROM parquet_metadata($files) GROUP BY ALL",
        {"files": list(found)},
    ).fetchall()
    for file_name, column_path, size in rows:
        # A nested column's chunks ("props, device") count towards its top-level column.
        column = column_path.split(",")[0].strip()
        found[file_name][column] = found[file_name].get(column, 0) + int(size)
    with _SIZES_LOCK:
        if len(_SIZES) > _SIZES_MAX:
            _SIZES.clear()
        for path in missing:
            sizes[path] = _SIZES[keys[path]] = found[str(path)]
    return sizes
