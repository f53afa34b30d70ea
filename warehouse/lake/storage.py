"""Where lake files live and how they are published: written under a temporary name, then renamed.

Layout: ``<root>/<layer>/<table>/event_dt=YYYY-MM-DD/<file>.parquet`` for partitioned tables and
``<root>/<layer>/<table>/<file>.parquet`` otherwise. Readers never see a half-written file, and a
killed writer leaves only ``.tmp-*`` files, which readers ignore and writers clean up.
"""

import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.lake import layout
from warehouse.lake.contract import Table

TMP_PREFIX = ".tmp-"
WATERMARK_FILE = "_watermark.json"

# How the contract's (Athena) column types are stored in Parquet.
ARROW_TYPES: dict[str, pa.DataType] = {
    "varchar": pa.string(),
    "bigint": pa.int64(),
    "integer": pa.int32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
}


def arrow_schema(table: Table) -> pa.Schema:
    """The file schema of a table: its columns but the Hive partition column."""
    return pa.schema(
        [(c.name, ARROW_TYPES[c.type]) for c in table.columns if c.name != table.partition_column]
    )


def table_dir(root: Path, table: Table) -> Path:
    return root / table.layer.value / table.name


def partition_dir(root: Path, table: Table, partition_value: str) -> Path:
    return table_dir(root, table) / f"{table.partition_column}={partition_value}"


def data_files(root: Path, table: Table) -> list[Path]:
    directory = table_dir(root, table)
    if not directory.exists():
        return []
    pattern = "*/*.parquet" if table.partition_column else "*.parquet"
    return sorted(p for p in directory.glob(pattern) if not p.name.startswith(TMP_PREFIX))


@contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it into place only if the block succeeds."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex}-{final.name}")
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def write_parquet(table: pa.Table, final: Path) -> Path:
    with atomic_path(final) as tmp:
        pq.write_table(table, tmp, **layout.parquet_options(table.schema))
    return final


def remove_stale_tmp_files(root: Path, *, older_than_s: float, now: float | None = None) -> int:
    """Delete temporary files left by killed writers; returns how many went.

    Only files not modified for ``older_than_s`` seconds: a live writer's file is younger (a
    writer keeps writing to it until it renames it into place)."""
    cutoff = (time.time() if now is None else now) - older_than_s
    removed = 0
    for tmp in root.rglob(f"{TMP_PREFIX}*"):
        try:
            if not tmp.is_file() or tmp.stat().st_mtime >= cutoff:
                continue
            tmp.unlink()
        except FileNotFoundError:  # renamed into place or removed meanwhile
            continue
        removed += 1
    return removed


@dataclass(frozen=True)
class Watermark:
    """The lake's data version: bumped on every publish so cached results can tell they're stale."""

    version: str
    max_partition: str | None

    @property
    def token(self) -> str:
        return self.version


def read_watermark(root: Path) -> Watermark:
    try:
        data = json.loads((root / WATERMARK_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return Watermark(version="empty", max_partition=None)
    return Watermark(version=str(data["version"]), max_partition=data.get("max_partition"))


def bump_watermark(root: Path, max_partition: str | None = None) -> Watermark:
    """Record that the lake changed. ``max_partition`` only ever moves forward."""
    current = read_watermark(root)
    newest = max(filter(None, [current.max_partition, max_partition]), default=None)
    mark = Watermark(version=f"{time.time_ns():x}-{uuid.uuid4().hex[:8]}", max_partition=newest)
    final = root / WATERMARK_FILE
    with atomic_path(final) as tmp:
        tmp.write_text(json.dumps({"version": mark.version, "max_partition": mark.max_partition}))
    return mark
