"""DSAR erasure on the embedded lake: ids replaced by a tombstone, one Parquet file at a time.

Only files that hold the ids are rewritten, each under a temporary name and renamed over the
original, so a reader sees the old file or the new one and a killed eraser leaves nothing
half-written; every other file keeps its inode and mtime. Rows are kept, so aggregates stay
countable. Running it again after a crash simply finds the files not yet rewritten.
"""

import fcntl
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from warehouse.lake import contract, layout, storage
from warehouse.lake.contract import Table

# Deterministic per file, so that a rerun overwrites what a killed run left behind; the
# storage prefix keeps readers and data_files() away from it.
ERASE_TMP_PREFIX = storage.TMP_PREFIX + "dsar-"
LOCK_FILE = "_erasure.lock"
# Free-text JSON columns: an id may sit in them as a quoted value.
TEXT_COLUMNS = ("payload",)


class LakeBusy(Exception):
    """Another erasure holds the lake's erasure lock."""


def erasable_tables() -> list[Table]:
    """Every contract table holding identity or user ids, in contract order."""
    return [t for t in contract.TABLES.values() if t.identity_columns]


def text_columns(table: Table) -> tuple[str, ...]:
    return tuple(c for c in TEXT_COLUMNS if c in table.column_names)


@dataclass(frozen=True)
class FileCount:
    path: Path
    matching: int  # rows that hold one of the ids
    tombstoned: int  # rows that hold the tombstone


def _params(values: Sequence[str], prefix: str) -> tuple[str, dict[str, str]]:
    params = {f"{prefix}{i}": v for i, v in enumerate(values)}
    return ", ".join(f"${name}" for name in params), params


def _in_id_columns(table: Table, placeholders: str) -> str:
    return "(" + " OR ".join(f'"{c}" IN ({placeholders})' for c in table.identity_columns) + ")"


def _conditions(
    table: Table, ids: Sequence[str], tombstone: str | None, text: bool
) -> tuple[str, str, dict[str, str]]:
    """SQL conditions "a row still holds one of ``ids``" and "a row holds ``tombstone``", with
    their named parameters.

    A row holds the ids when an id column does (the subject's own rows), or when it is a row
    already erased (``tombstone`` in an id column) whose free text still quotes an id (unless
    ``text`` is false). Someone else's row that merely mentions an id in its text is not the
    subject's: the erasure leaves it alone, so it does not count."""
    placeholders, params = _params(ids, "id")
    match = _in_id_columns(table, placeholders)
    if not tombstone:
        return match, "false", params
    tomb_placeholder, tomb_params = _params([tombstone], "tomb")
    erased = _in_id_columns(table, tomb_placeholder)
    params |= tomb_params
    searched = text_columns(table) if text else ()
    # In JSON text an id is a quoted string: matching the quotes keeps idn_1 out of idn_12.
    quoted = {f"q{i}": f'"{v}"' for i, v in enumerate(ids)}
    mentions = [f'contains("{c}", ${name})' for c in searched for name in quoted]
    if mentions:
        params |= quoted
        match = f"({match} OR ({erased} AND ({' OR '.join(mentions)})))"
    return match, erased, params


def connect(threads: int = 2) -> duckdb.DuckDBPyConnection:
    """A private in-memory DuckDB connection for scans (one per erasure run)."""
    return duckdb.connect(":memory:", config={"threads": threads})


def scan(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    table: Table,
    ids: Sequence[str],
    tombstone: str | None = None,
    *,
    files: Sequence[Path] | None = None,
    text: bool = True,
) -> list[FileCount]:
    """Files of ``table`` (or only ``files`` of it) holding any of ``ids`` (or ``tombstone``),
    with row counts (see _conditions). ``text=False`` leaves the free-text JSON columns out:
    reading them is most of the cost of a scan."""
    files = storage.data_files(root, table) if files is None else files
    if not files or not ids:
        return []
    match, erased, params = _conditions(table, ids, tombstone, text)
    file_list = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    # Safe to format: the column names are the contract's, paths are quoted, values are bound.
    sql = (
        f"SELECT filename, count(*) FILTER ({match}) AS matching, "  # noqa: S608
        f"count(*) FILTER ({erased}) AS tombstoned "
        f"FROM read_parquet([{file_list}], filename = true, hive_partitioning = false) "
        f"WHERE {match} OR {erased} GROUP BY filename ORDER BY filename"
    )
    rows = con.execute(sql, params).fetchall()
    return [FileCount(Path(name), int(m), int(t)) for name, m, t in rows]


def subject_rows(
    con: duckdb.DuckDBPyConnection, table: Table, ids: Sequence[str], files: Sequence[Path]
) -> duckdb.DuckDBPyRelation:
    """The rows of ``files`` (of ``table``) holding one of ``ids`` in an id column, every column
    and the partition's value with them: what an access request exports, file by file in the
    lake's order."""
    placeholders, params = _params(ids, "id")
    file_list = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    partitioned = "true" if table.partition_column else "false"
    columns = ", ".join(f'"{c}"' for c in table.column_names)
    # Safe to format: the column names are the contract's, paths are quoted, values are bound.
    return con.sql(
        f"SELECT {columns} "  # noqa: S608
        f"FROM read_parquet([{file_list}], hive_partitioning = {partitioned}) "
        f"WHERE {_in_id_columns(table, placeholders)}",
        params=params,
    )


# The table that links identities to users: one row per identity, with its user if it has one.
LINK_TABLE = "dim_identities"


def linked_ids(con: duckdb.DuckDBPyConnection, root: Path, ids: Sequence[str]) -> set[str]:
    """The ids ``LINK_TABLE`` links to ``ids`` in one step: the user of an identity, the
    identities of a user."""
    table = contract.table(LINK_TABLE)
    files = storage.data_files(root, table)
    if not files or not ids:
        return set()
    params = {f"id{i}": v for i, v in enumerate(ids)}
    placeholders = ", ".join(f"${name}" for name in params)
    file_list = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    # Safe to format: paths are quoted, values are bound.
    rows = con.execute(
        f"SELECT identity_id, user_id FROM read_parquet([{file_list}]) "  # noqa: S608
        f"WHERE identity_id IN ({placeholders}) OR user_id IN ({placeholders})",
        params,
    ).fetchall()
    return {value for row in rows for value in row if value} - set(ids)


FileState = tuple[int, int, int]  # inode, size, modification time (ns)


def file_states(files: Sequence[Path]) -> dict[Path, FileState]:
    """What identifies a file's content without reading it: a rewrite or a writer's atomic
    replace gives it a new inode, an append a new size and time."""
    states = {}
    for path in files:
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        states[path] = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
    return states


def rewrite(
    path: Path,
    table: Table,
    ids: Sequence[str],
    tombstone: str,
    mask: Callable[[str], str] | None = None,
) -> int:
    """Replace ``ids`` by ``tombstone`` in the subject's own rows of one file (those holding an
    id in an id column), atomically; returns the rows changed.

    In those rows the ids go from the free text too, and ``mask`` is applied to it: a payload
    may carry other personal data of the subject (a leaked e-mail address, say) that must not
    stay beside the tombstone. No other row is touched, whatever its text says: a value that
    happens to equal an id (a city called like a mistyped id) is someone else's data."""
    source = pq.ParquetFile(path)
    # Files are rewritten in parallel already: threads within one read only contend.
    data = source.read(use_threads=False)
    owned = pa.array([False] * data.num_rows)  # the subject's own rows
    value_set = pa.array(list(ids), pa.string())
    for column in table.identity_columns:
        i = data.schema.get_field_index(column)
        values = data.column(i)
        if pa.types.is_null(values.type):  # an all-null column written without its type
            continue
        hit = pc.fill_null(pc.is_in(values, value_set=value_set), False)
        owned = pc.or_(owned, hit)
        replaced = pc.if_else(hit, pa.scalar(tombstone, values.type), values)
        data = data.set_column(i, data.schema.field(i), replaced)
    rows = pc.sum(owned).as_py() or 0
    if not rows:
        return 0
    for column in text_columns(table):
        i = data.schema.get_field_index(column)
        values = data.column(i)
        for value in ids:
            quoted = f'"{value}"'
            hit = pc.and_(owned, pc.fill_null(pc.match_substring(values, quoted), False))
            if not pc.any(hit).as_py():
                continue  # the usual case: replacing would copy the whole column for nothing
            erased = pc.replace_substring(values, quoted, f'"{tombstone}"')
            values = pc.if_else(hit, erased, values)
        data = data.set_column(i, data.schema.field(i), values)
    if mask is not None:
        data = _mask_text_columns(data, table, owned, mask)
    _replace_file(path, data, source.metadata)
    return rows


def _mask_text_columns(
    data: pa.Table, table: Table, rows: pa.Array, mask: Callable[[str], str]
) -> pa.Table:
    """``mask`` applied to the free text of ``rows`` (a boolean mask): the subject's rows are a
    handful of a file's, so they are masked one by one in Python."""
    if isinstance(rows, pa.ChunkedArray):
        rows = rows.combine_chunks()
    if not pc.any(rows).as_py():
        return data
    for column in text_columns(table):
        i = data.schema.get_field_index(column)
        values = data.column(i)
        masked = [None if v is None else mask(v) for v in values.filter(rows).to_pylist()]
        replaced = pc.replace_with_mask(
            values.combine_chunks(), rows, pa.array(masked, values.type)
        )
        data = data.set_column(i, data.schema.field(i), replaced)
    return data


def _replace_file(path: Path, data: pa.Table, metadata: pq.FileMetaData) -> None:
    first = metadata.row_group(0) if metadata.num_row_groups else None
    options = layout.parquet_options(data.schema)
    if first:  # as the file was written
        options["compression"] = first.column(0).compression.lower().replace("uncompressed", "none")
    tmp = path.with_name(ERASE_TMP_PREFIX + path.name)
    try:
        pq.write_table(
            data,
            tmp,
            row_group_size=first.num_rows if first and first.num_rows else None,
            **options,
        )
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    # The rename itself must survive a crash too.
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def remove_stale_rewrites(root: Path, table: Table) -> int:
    """Delete temporary files a killed erasure left in ``table``'s directory."""
    directory = storage.table_dir(root, table)
    if not directory.exists():
        return 0
    stale = list(directory.rglob(ERASE_TMP_PREFIX + "*"))
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


@contextmanager
def lake_lock(root: Path, timeout_s: float) -> Iterator[None]:
    """One erasure at a time per lake: two requests rewriting one file would lose one's work.

    An OS file lock, so a killed holder releases it with its process."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOCK_FILE, "a") as fh:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LakeBusy("another erasure is running on this lake") from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
