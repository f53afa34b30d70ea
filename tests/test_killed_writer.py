"""A writer killed with SIGKILL half-way leaves nothing that readers pick up, and a re-run
completes: the lake is built aside and renamed into place, files are written then renamed."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
from django.conf import settings

from warehouse.lake.contract import table
from warehouse.lake.storage import TMP_PREFIX, data_files

ARGS = ["--days", "40", "--scale", "0.3", "--seed", "5", "--end-date", "2026-01-31"]


def demo_lake(root: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "demo_lake", "--root", str(root), *ARGS],
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_sigkill_mid_build_leaves_no_half_lake_and_rerun_completes(tmp_path):
    root = tmp_path / "lake"
    proc = demo_lake(root)
    # Wait until it is writing day partitions, then kill it without a chance to clean up.
    for line in proc.stdout:
        if "(day " in line:
            break
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    assert not root.exists()  # readers see no lake at all rather than half of one
    leftovers = list(tmp_path.glob(f"{TMP_PREFIX}lake-*"))
    assert leftovers, "the killed build should have been writing aside"

    rerun = demo_lake(root)
    output = rerun.communicate(timeout=300)[0]
    assert rerun.returncode == 0, output
    assert not list(tmp_path.rglob(f"{TMP_PREFIX}*"))
    funnel = table("fact_funnel_events")
    files = data_files(root, funnel)
    assert len(files) == 40
    # Every file is whole: its footer reads, and together they hold the funnel.
    assert sum(pq.read_metadata(f).num_rows for f in files) > 0
