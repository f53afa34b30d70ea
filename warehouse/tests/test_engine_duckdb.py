"""DuckDBEngine over a tiny lake in tmp_path; expected numbers come from pandas on the same rows."""

import time
from datetime import date

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from warehouse.engines import duckdb as duckdb_engine
from warehouse.engines.base import TransientWarehouseError, WarehouseError
from warehouse.engines.duckdb import DuckDBEngine
from warehouse.engines.registry import get_engine
from warehouse.lake import storage
from warehouse.sql import QueryRefused
from warehouse.tests.conftest import EVENTS, INJECTION, tiny_frames, write_tiny_lake

pytestmark = pytest.mark.usefixtures("tiny_contract")

RANGE = {"start": date(2024, 1, 3), "end": date(2024, 1, 5)}


def engine(root, timeout_s: float = 30) -> DuckDBEngine:
    return DuckDBEngine(root, threads=2, memory_limit="512MB", timeout_s=timeout_s)


def test_daily_metrics_match_pandas(tiny_lake):
    root, frames = tiny_lake
    result = engine(root).run(
        """
        SELECT event_dt, count(*) AS events, count_if(event_name = 'purchase') AS purchases,
               approx_distinct(event_name) AS kinds, sum(qty) AS qty, sum(amount) AS amount
        FROM events
        WHERE event_dt BETWEEN :start AND :end
        GROUP BY event_dt ORDER BY event_dt
        """,
        RANGE,
    )

    ev = frames["events"]
    ev = ev[(ev.event_dt >= RANGE["start"]) & (ev.event_dt <= RANGE["end"])]
    expected = ev.groupby("event_dt").agg(
        events=("qty", "size"),
        purchases=("event_name", lambda s: int((s == "purchase").sum())),
        kinds=("event_name", "nunique"),  # 4 values: few enough for the sketch to be exact
        qty=("qty", "sum"),
        amount=("amount", "sum"),
    )
    frame = result.frame
    assert [d.date() for d in frame.event_dt] == list(expected.index)
    assert frame.events.tolist() == expected.events.tolist()
    assert frame.purchases.tolist() == expected.purchases.tolist()
    assert frame.kinds.tolist() == expected.kinds.tolist()
    assert frame.qty.tolist() == expected.qty.tolist()
    assert frame.amount.tolist() == pytest.approx(expected.amount.tolist())
    assert result.stats.rows == 3
    assert result.stats.engine == "duckdb"
    assert result.stats.cost_usd is None
    assert "$start" in result.stats.translated_sql


def test_partition_column_is_a_date(tiny_lake):
    root, _ = tiny_lake
    frame = (
        engine(root)
        .run(
            "SELECT typeof(event_dt) AS t, date_add('day', 1, max(event_dt)) AS next_day "
            "FROM events WHERE event_dt = DATE '2024-01-10' GROUP BY 1",
            {},
        )
        .frame
    )
    assert frame.t.tolist() == ["DATE"]
    assert frame.next_day.tolist() == [pd.Timestamp("2024-01-11")]


def test_week_json_and_join_match_pandas(tiny_lake):
    root, frames = tiny_lake
    frame = (
        engine(root)
        .run(
            """
        SELECT date_trunc('week', e.event_dt) AS week,
               json_extract_scalar(e.props, '$.device.os') AS os,
               count(*) AS events, count_if(u.country = 'de') AS from_de
        FROM events e LEFT JOIN users u ON u.identity_id = e.identity_id
        WHERE e.event_dt BETWEEN :start AND current_date
        GROUP BY 1, 2 ORDER BY 1, 2 NULLS LAST
        """,
            {"start": date(2024, 1, 1)},
        )
        .frame
    )

    ev = frames["events"].merge(frames["users"], on="identity_id", how="left")
    ev["week"] = pd.to_datetime(ev.event_dt).dt.to_period("W-SUN").dt.start_time
    ev["os"] = ev.props.str.extract(r'"os": "(\w+)"')[0]
    expected = (
        ev.groupby(["week", "os"], dropna=False)
        .agg(events=("qty", "size"), from_de=("country", lambda s: int((s == "de").sum())))
        .reset_index()
        .sort_values(["week", "os"], na_position="last")
    )
    assert frame.week.tolist() == expected.week.tolist()
    assert frame.os.fillna("-").tolist() == expected.os.fillna("-").tolist()
    assert frame.events.tolist() == expected.events.tolist()
    assert frame.from_de.tolist() == expected.from_de.tolist()


def test_integers_divide_as_in_trino(tiny_lake):
    root, _ = tiny_lake
    frame = engine(root).run("SELECT 7 / 2 AS q, -7 / 2 AS n, 7 / 2.0 AS f", {}).frame
    assert frame.iloc[0].tolist() == [3, -3, 3.5]


def test_unpublished_tmp_file_is_not_read(tmp_path):
    frames = tiny_frames()
    write_tiny_lake(tmp_path, frames)
    partition = storage.partition_dir(tmp_path, EVENTS, "2024-01-02")
    junk = frames["events"].drop(columns="event_dt").head(1).assign(qty=1_000_000)
    pq.write_table(pa.Table.from_pandas(junk), partition / ".tmp-0123abcd-part-9.parquet")

    frame = (
        engine(tmp_path)
        .run(
            "SELECT count(*) AS n, sum(qty) AS qty FROM events WHERE event_dt = DATE '2024-01-02'",
            {},
        )
        .frame
    )

    day = frames["events"][frames["events"].event_dt == date(2024, 1, 2)]
    assert frame.iloc[0].tolist() == [len(day), day.qty.sum()]


def test_read_without_partition_filter_is_refused(tiny_lake):
    root, _ = tiny_lake
    with pytest.raises(QueryRefused, match="event_dt"):
        engine(root).run("SELECT count(*) FROM events e JOIN users u USING (identity_id)", {})


def test_parameter_is_bound_as_data(tiny_lake):
    root, frames = tiny_lake
    frame = (
        engine(root)
        .run(
            "SELECT count(*) AS n FROM events "
            "WHERE event_dt BETWEEN :start AND current_date AND identity_id = :who",
            {"start": date(2024, 1, 1), "who": INJECTION},
        )
        .frame
    )
    assert frame.n.tolist() == [int((frames["events"].identity_id == INJECTION).sum())]
    assert frame.n.tolist() != [0]


def test_query_past_the_time_limit_fails(tiny_lake):
    root, _ = tiny_lake
    slow = """
        SELECT count_if(a.qty + b.qty + c.qty + d.qty > 7) AS n
        FROM events a CROSS JOIN events b CROSS JOIN events c CROSS JOIN events d
        WHERE a.event_dt BETWEEN :s AND current_date AND b.event_dt BETWEEN :s AND current_date
          AND c.event_dt BETWEEN :s AND current_date AND d.event_dt BETWEEN :s AND current_date
    """
    started = time.monotonic()
    with pytest.raises(WarehouseError, match=r"query exceeded 0.3 s"):
        engine(root, timeout_s=0.3).run(slow, {"s": date(2024, 1, 1)})
    assert time.monotonic() - started < 5


def test_bytes_scanned_counts_only_the_partitions_and_columns_read(tiny_lake):
    root, _ = tiny_lake
    sql = "SELECT sum(amount) AS a FROM events WHERE event_dt BETWEEN :start AND :end"
    one_day = engine(root).run(sql, {"start": date(2024, 1, 3), "end": date(2024, 1, 3)})
    all_days = engine(root).run(sql, {"start": date(2024, 1, 1), "end": date(2024, 1, 10)})

    files = storage.data_files(root, EVENTS)
    day_files = [f for f in files if "event_dt=2024-01-03" in str(f)]
    amount_bytes = sum(
        pq.ParquetFile(f).metadata.row_group(0).column(2).total_compressed_size for f in day_files
    )
    assert one_day.stats.bytes_scanned >= amount_bytes
    # The day's files plus the footer DuckDB reads from one file to learn the schema.
    day_file_bytes = sum(f.stat().st_size for f in day_files)
    assert one_day.stats.bytes_scanned <= day_file_bytes + files[0].stat().st_size
    assert all_days.stats.bytes_scanned > 3 * one_day.stats.bytes_scanned


def test_table_without_files_is_a_clear_error(tmp_path):
    with pytest.raises(WarehouseError, match=r"table events has no data in the lake at "):
        engine(tmp_path).run("SELECT count(*) FROM events WHERE event_dt = DATE '2024-01-01'", {})


def test_table_outside_the_contract_is_an_error(tiny_lake):
    root, _ = tiny_lake
    with pytest.raises(WarehouseError, match="not in the lake contract"):
        engine(root).run("SELECT * FROM secrets", {})


def test_table_functions_are_refused(tiny_lake, tmp_path):
    root, _ = tiny_lake
    with pytest.raises(WarehouseError, match="not in the lake contract"):
        engine(root).run(f"SELECT * FROM read_csv('{tmp_path}/x.csv')", {})


def test_duckdb_itself_reads_nothing_outside_the_lake(tiny_lake, tmp_path, monkeypatch):
    # Should the SQL analysis ever miss a file read, DuckDB still refuses it.
    root, _ = tiny_lake
    outside = tmp_path / "outside.csv"
    outside.write_text("a\n1\n")
    sneaky = f"SELECT count(*) FROM events, read_csv('{outside}') WHERE event_dt = :d"
    real_prepare = duckdb_engine.prepare

    def prepare_missing_the_file(sql, params, dialect):
        canonical, _ = real_prepare(
            "SELECT count(*) FROM events WHERE event_dt = :d", params, dialect
        )
        return canonical, sneaky.replace(":d", "$d")

    monkeypatch.setattr(duckdb_engine, "prepare", prepare_missing_the_file)
    with pytest.raises(WarehouseError, match="disabled by configuration"):
        engine(root).run(sneaky, {"d": date(2024, 1, 1)})
    monkeypatch.setattr(
        duckdb_engine,
        "prepare",
        lambda *a: (real_prepare("SELECT 1", {}, "duckdb")[0], "SET threads = 1"),
    )
    with pytest.raises(WarehouseError, match="locked"):
        engine(root).run("SELECT 1", {})


def test_vanished_file_is_a_transient_error(tiny_lake, monkeypatch):
    root, _ = tiny_lake
    real = storage.data_files
    monkeypatch.setattr(
        storage,
        "data_files",
        lambda r, t: [*real(r, t), r / "silver/events/event_dt=2024-01-09/gone.parquet"],
    )
    with pytest.raises(TransientWarehouseError):
        engine(root).run("SELECT count(*) FROM events WHERE event_dt = DATE '2024-01-09'", {})


def test_ping(tmp_path):
    engine(tmp_path).ping()
    with pytest.raises(WarehouseError, match="missing or not readable"):
        engine(tmp_path / "nope").ping()


def test_registry_builds_the_engine_from_settings(settings, tmp_path):
    settings.WAREHOUSE = "duckdb"
    settings.LAKE_ROOT = tmp_path
    settings.QUERY_TIME_LIMIT_SECONDS = 12

    built = get_engine()

    assert isinstance(built, DuckDBEngine)
    assert (built.root, built.timeout_s) == (tmp_path.resolve(), 12)
    assert get_engine() is not built  # nothing is cached
    with pytest.raises(ValueError, match="'oracle'"):
        get_engine("oracle")
