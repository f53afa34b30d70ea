import time
from datetime import timedelta

import psutil
import pytest
from django.utils import timezone

from portal.heartbeat import Heartbeat, heartbeat_record, pool_stalled, workers_health
from portal.models import WorkerHeartbeat
from tests.support.services import WorkerProcess, wait_until


@pytest.mark.django_db(transaction=True)
def test_a_heartbeat_thread_writes_its_row_and_removes_it_when_stopped(settings):
    settings.HEALTH_WORKER_BEAT_SECONDS = 0.05
    heartbeat = Heartbeat("celery@test", slots=2)
    heartbeat.start()
    try:
        first = _wait_for_row().beat_at
        assert _wait_for_row(after=first).beat_at > first  # it keeps beating
    finally:
        heartbeat.stop()
    # Its own row: the session's Celery worker, started by another test file, may be beating.
    assert not WorkerHeartbeat.objects.filter(hostname="celery@test").exists()


@pytest.mark.django_db
def test_rows_no_worker_wrote_for_a_day_are_pruned_by_the_next_beat(only_my_beats):
    long_ago = timezone.now() - timedelta(days=1, minutes=1)
    WorkerHeartbeat.objects.create(
        hostname="celery@killed", pid=7, started_at=long_ago, beat_at=long_ago
    )
    heartbeat_record(hostname="celery@alive", pid=8, started_at=timezone.now())
    assert list(WorkerHeartbeat.objects.values_list("hostname", flat=True)) == ["celery@alive"]
    assert workers_health().live == 1


def _wait_for_row(after=None, timeout: float = 10.0) -> WorkerHeartbeat:
    def found():
        row = WorkerHeartbeat.objects.filter(hostname="celery@test").first()
        return row if row and (after is None or row.beat_at > after) else None

    return wait_until(found, timeout=timeout)


def test_a_stall_is_a_task_waiting_past_the_limit_while_a_process_is_free():
    now = time.monotonic()
    assert pool_stalled(waiting_since=[now - 5], busy=0, slots=2, limit_s=3)
    assert not pool_stalled(waiting_since=[now - 5], busy=2, slots=2, limit_s=3)  # all busy
    assert not pool_stalled(waiting_since=[now - 1], busy=0, slots=2, limit_s=3)
    assert not pool_stalled(waiting_since=[], busy=0, slots=2, limit_s=3)  # idle


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_whose_pool_takes_no_tasks_stops_beating(small_lake):
    """A real worker whose pool processes are stopped (SIGSTOP: as hung as a deadlock on the
    pool's lock) while its main process lives: its heartbeat stops once a task waits, and
    comes back when the pool runs again."""
    from portal.celery import app

    worker = WorkerProcess(
        small_lake, env={"HEALTH_WORKER_BEAT_SECONDS": "0.2"}, queues="healthz-stall"
    )
    try:
        row = wait_until(lambda: WorkerHeartbeat.objects.filter(pid=worker.proc.pid).first())
        children = psutil.Process(worker.proc.pid).children()
        assert len(children) == 2
        for child in children:
            child.suspend()
        _wait_for_beats(worker.proc.pid, after=row.beat_at)  # idle: still beating

        app.send_task("warehouse.tasks.recover_stale_runs", queue="healthz-stall")
        wait_until(lambda: _age(worker.proc.pid) > 2.0, timeout=30)
        assert worker.proc.poll() is None  # the main process lives, yet it is not live

        for child in children:
            child.resume()
        silent_since = WorkerHeartbeat.objects.get(pid=worker.proc.pid).beat_at
        _wait_for_beats(worker.proc.pid, after=silent_since)
        wait_until(
            lambda: any("recover_stale_runs" in line and "succeeded" in line for line in worker.log)
        )
    finally:
        for child in psutil.Process(worker.proc.pid).children():
            child.resume()
        worker.stop()


def _age(pid: int) -> float:
    row = WorkerHeartbeat.objects.get(pid=pid)
    return (timezone.now() - row.beat_at).total_seconds()


def _wait_for_beats(pid: int, after) -> None:
    wait_until(lambda: WorkerHeartbeat.objects.get(pid=pid).beat_at > after, timeout=30)
