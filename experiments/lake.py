"""The gold table fact_experiment_result: in the embedded lake one file per experiment and
computation day, replaced atomically by each computation of that day; in a remote warehouse
(PostgreSQL, Redshift, Athena) that day's rows of the experiment, replaced the same way."""

import datetime
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from warehouse import watermark
from warehouse.engines.registry import get_remote_engine
from warehouse.lake import contract, replace_sql, storage

TABLE = contract.table("fact_experiment_result")


def result_file(root: Path, experiment_key: str, day: datetime.date) -> Path:
    return storage.partition_dir(root, TABLE, day.isoformat()) / f"{experiment_key}.parquet"


def experiment_results_write(
    *, root: Path, experiment_key: str, day: datetime.date, rows: Sequence[dict[str, Any]]
) -> Path:
    """Publish the day's rows of one experiment (columns as in the contract, without event_dt)
    and bump the table's watermark, so results cached from it before this write are not served."""
    table = pa.Table.from_pylist(list(rows), schema=storage.arrow_schema(TABLE))
    path = storage.write_parquet(table, result_file(root, experiment_key, day))
    storage.bump_watermark(root, tables=[TABLE.name])
    return path


class NoResultTable(Exception):
    """The remote warehouse holds no fact_experiment_result table (nobody created it there)."""


def remote_result_table(engine: str) -> str:
    """The table as the remote warehouse names it (Redshift: in the session's schema)."""
    schema = get_remote_engine(engine).schema
    return f"{schema}.{TABLE.name}" if schema else TABLE.name


def experiment_results_replace(
    *, engine: str, experiment_key: str, day: datetime.date, rows: Sequence[dict[str, Any]]
) -> None:
    """Replace the day's rows of one experiment in the remote warehouse's table (one DELETE, one
    INSERT) and move its watermark, so results cached before this write are not served.

    Each statement commits on its own (Athena has no transactions): a run stopped between them
    leaves the day without rows of the experiment until the next run writes them again."""
    warehouse = get_remote_engine(engine)
    delete, insert = replace_sql.day_replace(
        TABLE, engine, warehouse.schema, day, {"experiment_key": experiment_key}, rows
    )
    with warehouse.write_session() as session:
        if TABLE.name not in session.table_names():
            raise NoResultTable(f"{engine} has no {TABLE.name} table")
        try:
            session.execute(delete)
            session.execute(insert)
        finally:
            # Also after a failed INSERT: the DELETE may have changed the data.
            tag = f"results-{experiment_key}-{day.isoformat()}"
            watermark.remote_changed(engine, tag, tables=[TABLE.name])
