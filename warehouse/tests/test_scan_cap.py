"""QUERY_MAX_BYTES_SCANNED through the warehouse layer on the shared demo lake: a run over the
limit fails with the reason recorded on it, and reads no data."""

from datetime import date

import pyarrow.parquet as pq
import pytest

from portal.roles import Access
from warehouse import services
from warehouse.lake import contract, storage
from warehouse.models import QueryRun

pytestmark = pytest.mark.django_db

FUNNEL_SQL = """
SELECT event_dt, count_if(step = 'search') AS searches
FROM fact_funnel_events
WHERE event_dt BETWEEN :start AND :end
GROUP BY event_dt
"""


def step_bytes(root, first: date, last: date) -> int:
    """The compressed size of the step column in the window's files, read with pyarrow."""
    total = 0
    for path in storage.data_files(root, contract.table("fact_funnel_events")):
        if first <= date.fromisoformat(path.parent.name.split("=")[1]) <= last:
            meta = pq.ParquetFile(path).metadata
            for g in range(meta.num_row_groups):
                group = meta.row_group(g)
                total += sum(
                    group.column(c).total_compressed_size
                    for c in range(group.num_columns)
                    if group.column(c).path_in_schema == "step"
                )
    return total


def run(start: date, end: date) -> QueryRun:
    submission = services.query_submit(
        sql=FUNNEL_SQL,
        params={"start": start, "end": end},
        scope=frozenset({Access.GENERAL}),
        label="funnel",
    )
    return services.query_run_execute(run_id=submission.run.pk)


def test_a_run_over_the_limit_fails_with_the_reason_and_one_under_it_runs(lake_settings, settings):
    day = step_bytes(lake_settings, date(2026, 1, 31), date(2026, 1, 31))
    week = step_bytes(lake_settings, date(2026, 1, 25), date(2026, 1, 31))
    assert 0 < day < week
    settings.QUERY_MAX_BYTES_SCANNED = (day + week) // 2

    small = run(date(2026, 1, 31), date(2026, 1, 31))
    assert small.status == QueryRun.Status.SUCCEEDED and small.rows == 1

    large = run(date(2026, 1, 25), date(2026, 1, 31))
    assert large.status == QueryRun.Status.FAILED
    assert large.error.startswith("Query refused: it would scan about ")
    assert "of fact_funnel_events), over the limit of" in large.error
    assert large.rows is None and large.bytes_scanned is None

    # The default is generous: the whole demo lake's funnel passes.
    settings.QUERY_MAX_BYTES_SCANNED = 10 * 2**30
    assert run(date(2026, 1, 18), date(2026, 1, 31)).status == QueryRun.Status.SUCCEEDED
