"""The gold table fact_experiment_result in the embedded lake: one file per experiment and
computation day, replaced atomically by each computation of that day."""

import datetime
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from warehouse.lake import contract, storage
from warehouse.lake.generate import arrow_schema

TABLE = contract.table("fact_experiment_result")


def result_file(root: Path, experiment_key: str, day: datetime.date) -> Path:
    return storage.partition_dir(root, TABLE, day.isoformat()) / f"{experiment_key}.parquet"


def experiment_results_write(
    *, root: Path, experiment_key: str, day: datetime.date, rows: Sequence[dict[str, Any]]
) -> Path:
    """Publish the day's rows of one experiment (columns as in the contract, without event_dt)
    and bump the lake's watermark, so results cached before this write are not served."""
    table = pa.Table.from_pylist(list(rows), schema=arrow_schema(TABLE))
    path = storage.write_parquet(table, result_file(root, experiment_key, day))
    storage.bump_watermark(root)
    return path
