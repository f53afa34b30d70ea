"""The checks' canonical SQL gives the same answers on DuckDB and on PostgreSQL."""

import uuid
from datetime import date

import pandas as pd
import psycopg
import pytest
from psycopg import sql as pgsql

from pipeline import health, queries
from warehouse.engines.duckdb import DuckDBEngine
from warehouse.engines.pg_loader import load_lake
from warehouse.engines.postgres import PostgresEngine
from warehouse.lake import contract

WINDOW = {"start": date(2026, 1, 25), "end": date(2026, 1, 31)}
PIPELINE_TABLES = [t for t in contract.TABLES.values() if t.writer == "pipeline"]
QUERIES = {
    "bronze_events": (queries.sql("bronze_events"), WINDOW),
    "silver_lag": (queries.lag_sql("silver"), {**WINDOW, "bin_width": health.LAG_BIN_WIDTH}),
    "gold_lag": (queries.lag_sql("gold"), {**WINDOW, "bin_width": health.LAG_BIN_WIDTH}),
    "dead_letters": (queries.sql("dead_letters"), WINDOW),
    "dead_letter_samples": (queries.sql("dead_letter_samples"), {**WINDOW, "per_reason": 2}),
    "freshness": (queries.freshness_sql(PIPELINE_TABLES), {"since": date(2026, 1, 24)}),
}


@pytest.fixture(scope="module")
def engines(small_lake, warehouse_pg_dsn):
    schema = f"test_pipeline_{uuid.uuid4().hex[:10]}"
    load_lake(warehouse_pg_dsn, small_lake, [t.name for t in PIPELINE_TABLES], schema=schema)
    yield DuckDBEngine(small_lake, 2, "1GB", 60), PostgresEngine(warehouse_pg_dsn, 60, schema)
    with psycopg.connect(warehouse_pg_dsn, autocommit=True) as conn:
        conn.execute(pgsql.SQL("DROP SCHEMA {} CASCADE").format(pgsql.Identifier(schema)))


def normalised(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object and out[column].map(type).eq(date).any():
            out[column] = pd.to_datetime(out[column])
        elif pd.api.types.is_numeric_dtype(out[column]):
            out[column] = out[column].astype("float64")
    return out.sort_values(list(out.columns)).reset_index(drop=True)


@pytest.mark.parametrize("name", QUERIES)
def test_same_answer_on_both_engines(engines, name):
    text, params = QUERIES[name]
    duck, postgres = (normalised(e.run(text, params).frame) for e in engines)
    assert len(duck) > 0
    pd.testing.assert_frame_equal(duck, postgres, check_dtype=False, check_exact=False, rtol=1e-9)
