"""Where lake files live and how they are published: written under a temporary name, then renamed.

Layout: ``<root>/<layer>/<table>/event_dt=YYYY-MM-DD/<file>.parquet`` for partitioned tables and
``<root>/<layer>/<table>/<file>.parquet`` otherwise. Readers never see a half-written file, and a
killed writer leaves only ``.tmp-*`` files, which readers ignore and writers clean up.
"""

import fcntl
import json
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.lake import layout
from warehouse.lake.contract import TABLES, Table

TMP_PREFIX = ".tmp-"
WATERMARK_FILE = "_watermark.json"
WATERMARK_LOCK = "_watermark.lock"

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
    """The data's version, so cached results can tell they are stale.

    ``version`` moves on every change. ``epoch`` is the version of the last change of everything
    (a load); ``tables`` the version of each table changed on its own since. A table's version
    is thus its entry, or the epoch: a result depends on the versions of the tables it reads
    only (warehouse.watermark.token_for). ``max_partition`` is the newest day of data."""

    version: str
    max_partition: str | None
    # Defaults also for watermarks pickled in a cache before these fields existed.
    epoch: str = ""
    tables: tuple[tuple[str, str], ...] = ()

    @property
    def base(self) -> str:
        return self.epoch or self.version

    def table_version(self, name: str) -> str:
        return dict(self.tables).get(name, self.base)

    @property
    def token(self) -> str:
        """Moves whenever any data changes."""
        material = json.dumps([self.version, self.base, sorted(self.tables)])
        return sha256(material.encode()).hexdigest()[:24]


def new_version() -> str:
    return f"{time.time_ns():x}-{uuid.uuid4().hex[:8]}"


def read_watermark(root: Path) -> Watermark:
    try:
        data = json.loads((root / WATERMARK_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return Watermark(version="empty", max_partition=None)
    return Watermark(
        version=str(data["version"]),
        max_partition=data.get("max_partition"),
        epoch=str(data.get("epoch") or data["version"]),
        tables=tuple(sorted(data.get("tables", {}).items())),
    )


def bump_watermark(
    root: Path, max_partition: str | None = None, *, tables: Iterable[str] | None = None
) -> Watermark:
    """Record that the lake changed: the named ``tables``, or every table when None (a load).
    ``max_partition`` only ever moves forward.

    Read, changed and written under a lock, so that writers bumping at once (a DSAR and an
    experiment's results, say) each keep the other's change."""
    changed = None if tables is None else changed_tables(tables)
    with _locked(root / WATERMARK_LOCK):
        current = read_watermark(root)
        version = new_version()
        if changed is None:
            epoch, versions = version, {}
        else:
            epoch, versions = current.base, dict(current.tables)
            versions.update(dict.fromkeys(changed, version))
        newest = max(filter(None, [current.max_partition, max_partition]), default=None)
        data = {"version": version, "max_partition": newest, "epoch": epoch, "tables": versions}
        with atomic_path(root / WATERMARK_FILE) as tmp:
            tmp.write_text(json.dumps(data, sort_keys=True))
    return Watermark(version, newest, epoch, tuple(sorted(versions.items())))


def changed_tables(names: Iterable[str]) -> list[str]:
    """The contract tables a write names: a view or a typo would leave results stale."""
    found = {name.lower() for name in names}
    if unknown := sorted(found - set(TABLES)):
        raise ValueError(f"not tables of the lake contract: {', '.join(unknown)}")
    return sorted(found)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (created if missing), between processes; released when
    the file is closed, also by a killed holder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield
