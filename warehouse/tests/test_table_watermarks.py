"""Per-table watermarks: a write moves the cached results that read the tables it changed (a
view: the tables it reads), and no others; a load moves every result. On the small lake with
real DuckDB runs and the configured cache, and on a remote warehouse through the cache."""

import io
import json
import os
import shutil
import subprocess
import sys
from datetime import date

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.management import call_command

from portal.roles import Access
from warehouse import services, watermark
from warehouse.lake import storage
from warehouse.models import QueryRun

pytestmark = pytest.mark.django_db

GENERAL = frozenset({Access.GENERAL})
EVERY = frozenset(Access)
WINDOW = {"start": date(2026, 1, 18), "end": date(2026, 1, 31)}
# One query per table (or view) a test moves or leaves alone.
BOOKINGS = "SELECT count(*) AS n FROM fact_bookings WHERE event_dt BETWEEN :start AND :end"
MESSAGES = "SELECT count(*) AS n FROM fact_messages_sent WHERE event_dt BETWEEN :start AND :end"
TICKETS = "SELECT count(*) AS n FROM support_tickets_v WHERE event_dt BETWEEN :start AND :end"
DSAR_TABLES = ["fact_messages_sent", "support_tickets", "consent_changes"]


@pytest.fixture
def lake(small_lake, tmp_path, settings):
    """A copy of the small lake, so the test may move its watermark."""
    root = tmp_path / "lake"
    shutil.copytree(small_lake, root)
    settings.WAREHOUSE = "duckdb"
    settings.LAKE_ROOT = root
    return root


def submit(sql: str, scope: frozenset[Access] = EVERY) -> services.Submission:
    return services.query_submit(sql=sql, params=WINDOW, scope=scope)


def computed(sql: str) -> int:
    """Run the query (it must not be cached) and return its run's id."""
    submission = submit(sql)
    assert submission.cached is None
    return services.query_run_execute(run_id=submission.run.pk).pk


def test_a_write_to_three_tables_leaves_the_other_results_served(lake):
    runs = {sql: computed(sql) for sql in (BOOKINGS, MESSAGES, TICKETS)}
    count = QueryRun.objects.count()

    storage.bump_watermark(lake, tables=DSAR_TABLES)

    # fact_bookings was not written: its result is served as it was, nothing runs.
    kept = submit(BOOKINGS)
    assert kept.cached is not None and kept.cached.run_id == runs[BOOKINGS]
    assert QueryRun.objects.count() == count
    # A table written, and a view over one: computed again, under a new watermark.
    for sql in (MESSAGES, TICKETS):
        again = submit(sql)
        assert again.cached is None and again.run.pk != runs[sql]
        assert again.run.watermark != QueryRun.objects.get(pk=runs[sql]).watermark
        services.query_run_execute(run_id=again.run.pk)
        assert submit(sql).cached.run_id == again.run.pk


def test_a_bump_without_tables_moves_every_result(lake):
    runs = {sql: computed(sql) for sql in (BOOKINGS, MESSAGES)}
    before = storage.read_watermark(lake)

    after = storage.bump_watermark(lake, max_partition="2026-01-30")

    assert after.tables == () and after.epoch == after.version != before.version
    assert after.max_partition == before.max_partition == "2026-01-31"  # never moves back
    for sql, run_id in runs.items():
        again = submit(sql)
        assert again.cached is None and again.run.pk != run_id


def test_views_stand_for_the_tables_they_read(lake):
    def token(*names: str) -> str:
        return watermark.token_for(storage.read_watermark(lake), names)

    assert token("support_tickets_v") == token("SUPPORT_TICKETS")
    finance = token("finance_cases_v")
    storage.bump_watermark(lake, tables=["support_tickets"])
    assert token("finance_cases_v") == finance
    # finance_cases_v reads the three finance tables and fact_bookings (for the currency).
    storage.bump_watermark(lake, tables=["fact_bookings"])
    assert token("finance_cases_v") != finance


def test_only_contract_tables_are_bumped(lake):
    before = storage.read_watermark(lake)
    for names in (["support_tickets_v"], ["fact_bookingz"]):
        with pytest.raises(ValueError, match="not tables of the lake contract"):
            storage.bump_watermark(lake, tables=names)
    assert storage.read_watermark(lake) == before


def test_a_watermark_written_before_per_table_versions_reads_as_one_epoch(lake):
    (lake / storage.WATERMARK_FILE).write_text(
        json.dumps({"version": "old-1", "max_partition": "2026-01-31"})
    )
    old = storage.read_watermark(lake)
    assert (old.epoch, old.tables) == ("old-1", ())

    storage.bump_watermark(lake, tables=["fact_messages_sent"])

    new = storage.read_watermark(lake)
    for name, moved in (("fact_bookings", False), ("fact_messages_sent", True)):
        assert (watermark.token_for(new, [name]) != watermark.token_for(old, [name])) == moved


BUMPS = 40
BUMPER = """
import sys, time
from pathlib import Path
from warehouse.lake.storage import bump_watermark
root, table, ready = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
while not ready.exists():
    time.sleep(0.001)
for _ in range({bumps}):
    mark = bump_watermark(root, tables=[table])
print(mark.version)
"""


def test_concurrent_bumps_of_different_tables_both_survive(lake, tmp_path):
    """Two processes bump a table each, at the same time, many times: the file holds the last
    version of each (a read-modify-write without the lock loses one)."""
    ready = tmp_path / "go"
    script = BUMPER.format(bumps=BUMPS)
    env = {**os.environ, "PYTHONPATH": str(django_settings.BASE_DIR)}
    procs = {
        table: subprocess.Popen(
            [sys.executable, "-c", script, str(lake), table, str(ready)],
            cwd=django_settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for table in ("fact_bookings", "fact_messages_sent")
    }
    ready.touch()
    last = {}
    for table, proc in procs.items():
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        last[table] = out.strip()

    mark = storage.read_watermark(lake)
    assert dict(mark.tables) == last
    assert mark.version in last.values()


# --- a remote warehouse: versions in the cache, one key per table


def test_remote_changes_move_only_their_tables_and_a_load_moves_all():
    cache.set(watermark.REMOTE_KEY.format(engine="postgres"), storage.Watermark("load-1", None))

    def token(*names: str) -> str:
        return watermark.token_for(watermark.current("postgres", names), names)

    bookings, tickets = token("fact_bookings"), token("support_tickets_v")

    watermark.remote_changed("postgres", "dsar7", tables=DSAR_TABLES)

    assert token("fact_bookings") == bookings
    assert token("support_tickets_v") != tickets
    mark = watermark.current("postgres")
    assert mark.version == "load-1"
    assert {name for name, _ in mark.tables} == set(DSAR_TABLES)
    assert all(version.startswith("dsar7@") for _, version in mark.tables)
    # The engine's other warehouses are not concerned.
    assert watermark.current("redshift").tables == ()

    tickets = token("support_tickets_v")
    watermark.remote_changed("postgres", "reload")  # every table
    assert token("fact_bookings") != bookings and token("support_tickets_v") != tickets

    bookings = token("fact_bookings")
    call_command(
        "warehouse_watermark",
        engine="postgres",
        max_partition="2026-02-01",
        load_id="load-2",
        stdout=io.StringIO(),
    )
    assert token("fact_bookings") != bookings
    assert watermark.current("postgres").max_partition == "2026-02-01"


def test_remote_results_are_cached_per_table(settings):
    """The key a remote query's result is cached under moves with the tables it reads only
    (no query runs: the key is computed at submission)."""
    settings.WAREHOUSE = "postgres"
    cache.set(watermark.REMOTE_KEY.format(engine="postgres"), storage.Watermark("load-1", None))
    bookings, messages = submit(BOOKINGS).run, submit(MESSAGES).run
    QueryRun.objects.update(status=QueryRun.Status.SUCCEEDED)  # out of flight

    watermark.remote_changed("postgres", "results", tables=["fact_messages_sent"])

    assert submit(BOOKINGS).run.cache_key == bookings.cache_key
    assert submit(MESSAGES).run.cache_key != messages.cache_key
