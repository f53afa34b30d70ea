"""DuckDB over the Parquet lake and PostgreSQL holding a copy of it give the same numbers for
every metric (the same canonical SQL, translated by the warehouse layer for each engine)."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from metrics.params import metric_params
from metrics.tests.references import (
    INNER_WINDOW,
    LONG_INNER,
    LONG_METRICS,
    LONG_WINDOW,
    SMALL_WINDOW,
)
from warehouse.engines.duckdb import DuckDBEngine
from warehouse.engines.postgres import PostgresEngine


def params_for(metric, start: date, end: date, grain: str, split: bool) -> dict:
    split_by = metric.dimensions[-1] if split and metric.dimensions else None
    params = metric_params(
        metric, start=start, end=end, grain=grain, split_by=split_by, max_window_days=400
    )
    return params.bind(metric)


def assert_frames_agree(duck: pd.DataFrame, pg: pd.DataFrame) -> None:
    assert list(duck.columns) == list(pg.columns)
    assert len(duck) == len(pg)
    assert duck.period.tolist() == pg.period.tolist()
    assert duck.dimension_value.tolist() == pg.dimension_value.tolist()
    for column in duck.columns[2:]:
        np.testing.assert_allclose(
            duck[column].astype(float), pg[column].astype(float), rtol=1e-9, equal_nan=True,
            err_msg=column,
        )  # fmt: skip


def compare(metric, root, schema, dsn, windows) -> int:
    duck_engine = DuckDBEngine(root=root, threads=2, memory_limit="1GB", timeout_s=60)
    pg_engine = PostgresEngine(dsn, timeout_s=60, schema=schema)
    (start, end), (inner_start, inner_end) = windows
    rows = 0
    for params in (
        params_for(metric, start, end, "day", split=False),
        params_for(metric, inner_start, inner_end, "week", split=True),
    ):
        duck = duck_engine.run(metric.sql, params).frame
        assert_frames_agree(duck, pg_engine.run(metric.sql, params).frame)
        rows += len(duck)
    return rows


@pytest.fixture(scope="module")
def pg(pg_lakes, warehouse_pg_dsn):
    return pg_lakes, warehouse_pg_dsn


def test_every_metric_agrees_on_the_small_lake(catalogue, small_lake, pg):
    schemas, dsn = pg
    for metric in catalogue.metrics.values():
        compare(metric, small_lake, schemas[small_lake], dsn, (SMALL_WINDOW, INNER_WINDOW))


@pytest.mark.parametrize("slug", LONG_METRICS)
def test_long_lake_metrics_agree(slug, catalogue, long_lake, pg):
    schemas, dsn = pg
    rows = compare(
        catalogue.get(slug), long_lake, schemas[long_lake], dsn, (LONG_WINDOW, LONG_INNER)
    )
    assert rows > 0
