from datetime import timedelta

import pytest
from django.utils import timezone

from portal.heartbeat import Heartbeat, heartbeat_record, workers_health
from portal.models import WorkerHeartbeat


@pytest.mark.django_db(transaction=True)
def test_a_heartbeat_thread_writes_its_row_and_removes_it_when_stopped(settings):
    settings.HEALTH_WORKER_BEAT_SECONDS = 0.05
    heartbeat = Heartbeat("celery@test")
    heartbeat.start()
    try:
        first = _wait_for_row().beat_at
        assert _wait_for_row(after=first).beat_at > first  # it keeps beating
    finally:
        heartbeat.stop()
    assert not WorkerHeartbeat.objects.exists()


@pytest.mark.django_db
def test_rows_no_worker_wrote_for_a_day_are_pruned_by_the_next_beat():
    long_ago = timezone.now() - timedelta(days=1, minutes=1)
    WorkerHeartbeat.objects.create(
        hostname="celery@killed", pid=7, started_at=long_ago, beat_at=long_ago
    )
    heartbeat_record(hostname="celery@alive", pid=8, started_at=timezone.now())
    assert list(WorkerHeartbeat.objects.values_list("hostname", flat=True)) == ["celery@alive"]
    assert workers_health().live == 1


def _wait_for_row(after=None, timeout: float = 10.0) -> WorkerHeartbeat:
    from tests.support.services import wait_until

    def found():
        row = WorkerHeartbeat.objects.filter(hostname="celery@test").first()
        return row if row and (after is None or row.beat_at > after) else None

    return wait_until(found, timeout=timeout)
