"""Retention of the embedded lake: which partitions are past their table's retention, and their
removal. A partition leaves in one rename (readers see all of it or none), then is deleted."""

import calendar
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from warehouse.lake import contract, storage
from warehouse.lake.contract import Table

# Removed partitions wait here, outside every table directory, until they are deleted.
TRASH_PREFIX = storage.TMP_PREFIX + "retention-"


@dataclass(frozen=True)
class Policy:
    layer_months: Mapping[str, int]
    table_months: Mapping[str, int]

    def months(self, table: Table) -> int:
        """Months a table keeps its partitions; 0 keeps them forever."""
        return self.table_months.get(table.name, self.layer_months[table.layer.value])

    def unknown_tables(self) -> list[str]:
        return sorted(set(self.table_months) - set(contract.TABLES))


@dataclass(frozen=True)
class ExpiredPartition:
    table: str
    layer: str
    partition: date
    path: Path
    files: int
    bytes: int
    months: int
    cutoff: date


def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier (clamped to the month's last day)."""
    year, month0 = divmod(day.year * 12 + day.month - 1 - months, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last))


@dataclass(frozen=True)
class Cutoff:
    """Rows of ``table`` whose partition is before ``cutoff`` are past its retention."""

    table: Table
    months: int
    cutoff: date


def cutoffs(policy: Policy, today: date) -> list[Cutoff]:
    """The cut-off of every partitioned table that does not keep its rows forever: today minus
    the table's months (the same for the lake and for remote warehouses)."""
    return [
        Cutoff(table, months, months_before(today, months))
        for table in contract.TABLES.values()
        if table.partition_column and (months := policy.months(table))
    ]


def expired_partitions(root: Path, policy: Policy, today: date) -> list[ExpiredPartition]:
    """Partitions older than their table's retention: event_dt before today minus N months."""
    expired: list[ExpiredPartition] = []
    for rule in cutoffs(policy, today):
        table = rule.table
        directory = storage.table_dir(root, table)
        if not directory.is_dir():
            continue
        prefix = f"{table.partition_column}="
        for child in sorted(directory.iterdir()):
            if not child.is_dir() or not child.name.startswith(prefix):
                continue
            try:
                day = date.fromisoformat(child.name[len(prefix) :])
            except ValueError:
                continue
            if day >= rule.cutoff:
                continue
            files = [f for f in child.iterdir() if f.is_file()]
            expired.append(
                ExpiredPartition(
                    table=table.name,
                    layer=table.layer.value,
                    partition=day,
                    path=child,
                    files=len(files),
                    bytes=sum(f.stat().st_size for f in files),
                    months=rule.months,
                    cutoff=rule.cutoff,
                )
            )
    return expired


def drop_partition(root: Path, partition: ExpiredPartition) -> None:
    """Take the partition away from readers in one rename, then delete it."""
    trash = root / f"{TRASH_PREFIX}{uuid.uuid4().hex}"
    partition.path.rename(trash)
    shutil.rmtree(trash)


def remove_stale_trash(root: Path) -> int:
    """Delete partitions a killed run renamed away but did not delete."""
    stale = [p for p in root.glob(TRASH_PREFIX + "*") if p.is_dir()]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return len(stale)
