"""The DuckDB engine's bytes-scanned cap: the estimate before a query runs, checked against the
Parquet footers read independently with pyarrow, and the refusal of a query over the limit."""

from datetime import date

import duckdb
import pyarrow.parquet as pq
import pytest

from warehouse.engines.base import ScanTooLarge, checked_sql
from warehouse.engines.duckdb import DuckDBEngine
from warehouse.engines.scan_estimate import scan_estimate
from warehouse.lake import storage
from warehouse.tests.conftest import DAYS, EVENTS, USERS

pytestmark = pytest.mark.usefixtures("tiny_contract")


def column_bytes(files, columns) -> int:
    """The compressed size of ``columns``' chunks in ``files``, as pyarrow reads the footers."""
    total = 0
    for path in files:
        meta = pq.ParquetFile(path).metadata
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            for c in range(group.num_columns):
                chunk = group.column(c)
                if chunk.path_in_schema.split(".")[0] in columns:
                    total += chunk.total_compressed_size
    return total


def event_files(root, first: date, last: date):
    files = storage.data_files(root, EVENTS)
    return [f for f in files if first <= date.fromisoformat(f.parent.name.split("=")[1]) <= last]


def estimate(root, sql: str, params: dict):
    con = duckdb.connect()
    try:
        return scan_estimate(con, root, checked_sql(sql), params)
    finally:
        con.close()


def test_estimate_is_the_compressed_size_of_the_columns_read_in_the_range(tiny_lake):
    root, _ = tiny_lake
    sql = (
        "SELECT event_name, sum(amount) AS a FROM events "
        "WHERE event_dt BETWEEN :start AND :end GROUP BY 1"
    )
    found = estimate(root, sql, {"start": DAYS[2], "end": DAYS[4]})

    files = event_files(root, DAYS[2], DAYS[4])
    assert len(files) == 4  # the 4th has two files
    assert found.files == 4 and found.tables == ("events",)
    assert found.bytes == column_bytes(files, {"event_name", "amount"}) > 0
    # A wider range or more columns cost more; the partition column costs nothing.
    wider = estimate(root, sql, {"start": DAYS[0], "end": DAYS[9]})
    assert wider.bytes == column_bytes(
        event_files(root, DAYS[0], DAYS[9]), {"event_name", "amount"}
    )
    assert wider.bytes > 3 * found.bytes
    star = estimate(root, "SELECT * FROM events WHERE event_dt = :d", {"d": DAYS[2]})
    every_column = {c.name for c in EVENTS.columns} - {"event_dt"}
    assert star.bytes == column_bytes(event_files(root, DAYS[2], DAYS[2]), every_column)
    count_only = estimate(root, "SELECT count(*) FROM events WHERE event_dt = :d", {"d": DAYS[2]})
    assert count_only.bytes == 0 and count_only.files == 1


def test_bound_expressions_are_evaluated_with_the_parameters(tiny_lake):
    root, _ = tiny_lake
    sql = (
        "SELECT count(*) FROM events e JOIN users u ON u.identity_id = e.identity_id "
        "WHERE e.event_dt BETWEEN date_add('day', -1, :d) AND :d "
        "OR e.event_dt IN (DATE '2024-01-09', DATE '2024-01-10')"
    )
    found = estimate(root, sql, {"d": DAYS[3]})

    # The OR spans 2024-01-03 to 2024-01-10: the estimate reads the hull of its branches.
    files = event_files(root, DAYS[2], DAYS[9])
    users = storage.data_files(root, USERS)
    assert found.files == len(files) + len(users)
    assert found.bytes == column_bytes(files, {"identity_id"}) + column_bytes(
        users, {"identity_id"}
    )


def test_a_range_that_is_empty_reads_nothing(tiny_lake):
    root, _ = tiny_lake
    sql = "SELECT sum(amount) FROM events WHERE event_dt BETWEEN :start AND :end"
    assert estimate(root, sql, {"start": date(2030, 1, 1), "end": date(2030, 1, 2)}).bytes == 0
    assert estimate(root, sql, {"start": None, "end": DAYS[9]}).files == 0


def engine(root, max_bytes: int) -> DuckDBEngine:
    return DuckDBEngine(
        root, threads=1, memory_limit="512MB", timeout_s=30, max_bytes_scanned=max_bytes
    )


def test_a_query_over_the_limit_is_refused_before_it_runs(tiny_lake):
    root, frames = tiny_lake
    sql = "SELECT sum(amount) AS a FROM events WHERE event_dt BETWEEN :start AND :end"
    one_day = {"start": DAYS[2], "end": DAYS[2]}
    all_days = {"start": DAYS[0], "end": DAYS[9]}
    day_bytes = column_bytes(event_files(root, DAYS[2], DAYS[2]), {"amount"})
    limit = day_bytes * 2  # one day fits, ten do not

    result = engine(root, limit).run(sql, one_day)
    expected = frames["events"].loc[frames["events"].event_dt == DAYS[2], "amount"].sum()
    assert result.frame.a.tolist() == pytest.approx([expected])

    with pytest.raises(ScanTooLarge) as refused:
        engine(root, limit).run(sql, all_days)
    message = str(refused.value)
    assert "Query refused: it would scan about" in message
    assert f"({len(event_files(root, DAYS[0], DAYS[9]))} files of events)" in message
    assert "QUERY_MAX_BYTES_SCANNED" in message
    # No limit (0) runs it.
    assert engine(root, 0).run(sql, all_days).frame.a.tolist() == pytest.approx(
        [frames["events"].amount.sum()]
    )


def test_columns_named_by_join_using_are_counted_on_both_sides(tiny_lake):
    root, _ = tiny_lake
    sql = (
        "SELECT count(*) FROM events JOIN users USING (identity_id) "
        "WHERE event_dt BETWEEN :d AND :d"
    )
    found = estimate(root, sql, {"d": DAYS[0]})

    users = storage.data_files(root, USERS)
    expected = column_bytes(event_files(root, DAYS[0], DAYS[0]), {"identity_id"})
    assert found.bytes == expected + column_bytes(users, {"identity_id"}) > 0
