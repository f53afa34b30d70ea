"""Temporary files of killed lake writers are swept: hourly by Celery beat, only when older than
LAKE_TMP_MAX_AGE_SECONDS, so that a live writer's file is never removed."""

import os
import time

import pyarrow as pa

from warehouse import tasks
from warehouse.lake import storage


def test_old_temp_files_go_and_live_ones_stay(tmp_path, settings):
    settings.LAKE_ROOT = tmp_path
    settings.LAKE_TMP_MAX_AGE_SECONDS = 3600
    partition = tmp_path / "gold" / "fact_bookings" / "event_dt=2026-01-31"
    partition.mkdir(parents=True)
    killed = partition / f"{storage.TMP_PREFIX}0a1b-part-0.parquet"  # a writer killed yesterday
    killed.write_bytes(b"PAR1 half a file")
    day_ago = time.time() - 86_400
    os.utime(killed, (day_ago, day_ago))
    data = storage.write_parquet(pa.table({"n": [1, 2]}), partition / "part-1.parquet")

    with storage.atomic_path(partition / "part-2.parquet") as live:  # a writer at work
        live.write_bytes(b"PAR1 being written")
        assert tasks.remove_stale_lake_tmp_files() == 1
        assert live.exists()
        live.write_bytes(b"PAR1 written")
    assert not killed.exists()
    assert data.exists() and (partition / "part-2.parquet").read_bytes() == b"PAR1 written"
    assert tasks.remove_stale_lake_tmp_files() == 0


def test_the_age_is_measured_from_the_last_write(tmp_path):
    tmp = tmp_path / f"{storage.TMP_PREFIX}x"
    tmp.write_bytes(b"x")
    written = tmp.stat().st_mtime
    assert storage.remove_stale_tmp_files(tmp_path, older_than_s=60, now=written + 59) == 0
    assert storage.remove_stale_tmp_files(tmp_path, older_than_s=60, now=written + 61) == 1
    assert not tmp.exists()


def test_no_lake_nothing_to_do(tmp_path, settings):
    settings.LAKE_ROOT = tmp_path / "none"
    assert tasks.remove_stale_lake_tmp_files() == 0


def test_the_sweep_is_in_the_beat_schedule(settings):
    tasks_scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "warehouse.tasks.remove_stale_lake_tmp_files" in tasks_scheduled
