"""Heartbeats of the Celery workers, kept in the portal DB (works with every broker).

Each worker's main process starts a thread when it is ready (portal.celery) that writes its row
every HEALTH_WORKER_BEAT_SECONDS; the row goes when the worker stops, and rows no one has
written for a day (a worker killed with SIGKILL) are pruned by the beats of the others.
/healthz calls a worker live while its beat is younger than HEALTH_WORKER_STALE_SECONDS.

A live main process is not enough: with its pool hung (children stuck on a lock, stopped), it
still receives tasks that no child ever starts. So the thread does not beat while a received
task has waited STALL_BEATS beats for a pool process although not every process is busy.
"""

import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from portal.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

PRUNE_AFTER = timedelta(days=1)
STALL_BEATS = 3


@transaction.atomic
def heartbeat_record(*, hostname: str, pid: int, started_at: datetime) -> None:
    now = timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        hostname=hostname, pid=pid, defaults={"started_at": started_at, "beat_at": now}
    )
    WorkerHeartbeat.objects.filter(beat_at__lt=now - PRUNE_AFTER).delete()


def heartbeat_remove(*, hostname: str, pid: int) -> None:
    WorkerHeartbeat.objects.filter(hostname=hostname, pid=pid).delete()


@dataclass(frozen=True)
class WorkersHealth:
    live: int
    newest_beat_age_s: float | None  # None: no worker ever beat (or all were pruned)


def workers_health() -> WorkersHealth:
    now = timezone.now()
    stale = now - timedelta(seconds=settings.HEALTH_WORKER_STALE_SECONDS)
    beats = list(WorkerHeartbeat.objects.values_list("beat_at", flat=True))
    live = sum(1 for beat in beats if beat >= stale)
    newest = max(beats, default=None)
    age = round(max((now - newest).total_seconds(), 0.0), 1) if newest else None
    return WorkersHealth(live=live, newest_beat_age_s=age)


def note_received(request) -> None:
    """Called (portal.celery) when the worker receives a task: when it began to wait."""
    request.portal_received_at = time.monotonic()


def pool_stalled(*, waiting_since: list[float], busy: int, slots: int, limit_s: float) -> bool:
    """A task has waited longer than limit_s for a pool process while one was free."""
    now = time.monotonic()
    return busy < slots and any(now - since > limit_s for since in waiting_since)


def _worker_stalled(slots: int) -> bool:
    # Here, not at the top: the worker's own state, read in worker processes only.
    from celery.worker import state

    try:
        active = set(state.active_requests)
        reserved = list(state.reserved_requests)
    except RuntimeError:  # changed by the worker's loop while read: judged at the next beat
        return False
    waiting = [
        request.portal_received_at
        for request in reserved
        if request not in active and hasattr(request, "portal_received_at")
    ]
    limit = settings.HEALTH_WORKER_BEAT_SECONDS * STALL_BEATS
    return pool_stalled(waiting_since=waiting, busy=len(active), slots=slots, limit_s=limit)


class Heartbeat:
    """The beating thread of one worker process (``slots``: its pool's size)."""

    def __init__(self, hostname: str, slots: int):
        self.hostname = hostname
        self.slots = slots
        self.pid = os.getpid()
        self.started_at = timezone.now()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="portal-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            heartbeat_remove(hostname=self.hostname, pid=self.pid)
        except Exception:
            logger.warning("Could not remove the heartbeat of %s", self.hostname, exc_info=True)
        finally:
            connection.close()

    def _run(self) -> None:
        while True:
            if _worker_stalled(self.slots):
                logger.error("Worker pool takes no tasks: heartbeat withheld")
            else:
                self._beat()
            if self._stop.wait(settings.HEALTH_WORKER_BEAT_SECONDS):
                break
        connection.close()

    def _beat(self) -> None:
        try:
            close_old_connections()
            heartbeat_record(hostname=self.hostname, pid=self.pid, started_at=self.started_at)
        except Exception:
            # The portal DB may be briefly away: the next beat tries again.
            logger.warning("Worker heartbeat failed", exc_info=True)
