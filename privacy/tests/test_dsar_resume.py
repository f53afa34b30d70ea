"""A DSAR erasure killed with SIGKILL half-way, then run again: it completes, and no file is
lost, duplicated or half-written."""

import os
import signal
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from privacy import dsar_job, services
from privacy.dsar_preview import dsar_preview_compute
from privacy.models import DsarRequest
from privacy.tests.builders import busy_subject, expected_counts, holds
from privacy.tests.conftest import link_copy, read_table
from tests.support.services import _database_url, wait_until
from tests.support.users import user_with_role
from warehouse.lake import contract, erasure, storage

pytestmark = pytest.mark.django_db(transaction=True)

EXTRA_FILES = 200


def add_files_holding(root, identity_id: str) -> list:
    """Many small raw_events files holding the identity: enough work to be killed during."""
    table = contract.table("raw_events")
    files = storage.data_files(root, table)
    sample = pq.ParquetFile(files[0]).read().slice(0, 4)
    ids = pa.array([identity_id, "idn_bystander", identity_id, "idn_bystander"])
    sample = sample.set_column(sample.schema.get_field_index("identity_id"), "identity_id", ids)
    extra = [
        files[i % len(files)].with_name(f"part-extra-{i:03d}.parquet") for i in range(EXTRA_FILES)
    ]
    for target in extra:
        pq.write_table(sample, target)
    return extra


def rewritten(inodes: dict) -> int:
    """How many of the files have been replaced (a new inode) so far."""
    return sum(os.stat(path).st_ino != inode for path, inode in inodes.items())


def lake_state(root) -> dict[str, int]:
    """Every data file of the lake (relative path) and its row count; each must be readable."""
    return {
        str(p.relative_to(root)): pq.ParquetFile(p).metadata.num_rows
        for t in contract.TABLES.values()
        for p in storage.data_files(root, t)
    }


def test_a_killed_erasure_is_resumed_to_completion(small_lake, tmp_path, settings):
    root = link_copy(small_lake, tmp_path / "lake")
    settings.WAREHOUSE, settings.LAKE_ROOT = "duckdb", root
    identity_id, user_id = busy_subject(root)
    extra = {p: p.stat().st_ino for p in add_files_holding(root, identity_id)}
    ids = [identity_id, user_id]
    expected = expected_counts(root, ids)
    before = lake_state(root)

    alice, bob = user_with_role("privacy", "alice"), user_with_role("privacy", "bob")
    dsar = services.dsar_file(
        identity_id=identity_id, user_id=user_id, reason="r", requester=alice, enqueue=False
    )
    dsar_preview_compute(request_id=dsar.pk)
    services.dsar_verify(request_id=dsar.pk, method="account_login", actor=alice)
    services.dsar_approve(request_id=dsar.pk, approver=bob)
    services.dsar_queue(request_id=dsar.pk, enqueue=False)

    worker = subprocess.Popen(
        [sys.executable, "manage.py", "dsar", "--skip-checks", "run", str(dsar.pk), "--inline"],
        cwd=settings.BASE_DIR,
        env={
            **os.environ,
            "DATABASE_URL": _database_url(),
            "VAR_DIR": str(settings.VAR_DIR),
            "LAKE_ROOT": str(root),
            **({"REDIS_URL": settings.REDIS_URL} if settings.REDIS_URL else {}),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        # Watched on the files themselves: the kill lands between two rewrites, whatever the
        # job has recorded in the database by then.
        wait_until(lambda: rewritten(extra) >= 10, timeout=120, interval=0.002)
    finally:
        worker.send_signal(signal.SIGKILL)
        output = worker.communicate()[0].decode()
    assert worker.returncode == -signal.SIGKILL, output

    # Killed half-way: some files hold the tombstone, others still hold the ids.
    killed = DsarRequest.objects.get(pk=dsar.pk)
    assert killed.status == DsarRequest.Status.RUNNING
    assert 10 <= rewritten(extra) < EXTRA_FILES

    # A dead worker's run is taken over once its heartbeat is stale.
    assert services.dsar_queue(request_id=dsar.pk, enqueue=False).status == "running"
    settings.PRIVACY_DSAR_STALE_SECONDS = 0
    services.dsar_queue(request_id=dsar.pk, enqueue=False)
    done = dsar_job.dsar_execute(request_id=dsar.pk)

    assert done.status == DsarRequest.Status.COMPLETED, done.error
    assert done.attempts == 2
    assert lake_state(root) == before  # same files, same rows, every one readable
    assert not list(root.rglob(erasure.ERASE_TMP_PREFIX + "*"))
    for table in erasure.erasable_tables():
        assert not holds(read_table(root, table.name), table, ids).any(), table.name
    results = {r.table: (r.rows_changed, r.files_rewritten) for r in done.tables.all()}
    assert results == expected
    assert results["raw_events"][1] > EXTRA_FILES
    started = done.audit.filter(action="dsar.started").values_list("detail", flat=True)
    assert [d["attempt"] for d in started] == [1, 2]
