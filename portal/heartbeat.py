"""Heartbeats of the Celery workers, kept in the portal DB (works with every broker).

Each worker's main process starts a thread when it is ready (portal.celery) that writes its row
every HEALTH_WORKER_BEAT_SECONDS; the row goes when the worker stops, and rows no one has
written for a day (a worker killed with SIGKILL) are pruned by the beats of the others.
/healthz calls a worker live while its beat is younger than HEALTH_WORKER_STALE_SECONDS.
"""

import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from portal.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

PRUNE_AFTER = timedelta(days=1)


@transaction.atomic
def heartbeat_record(*, hostname: str, pid: int, started_at: datetime) -> None:
    now = timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        hostname=hostname, defaults={"pid": pid, "started_at": started_at, "beat_at": now}
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
    beats = WorkerHeartbeat.objects.values_list("beat_at", flat=True)
    live = sum(1 for beat in beats if beat >= stale)
    newest = max(beats, default=None)
    age = round(max((now - newest).total_seconds(), 0.0), 1) if newest else None
    return WorkersHealth(live=live, newest_beat_age_s=age)


class Heartbeat:
    """The beating thread of one worker process."""

    def __init__(self, hostname: str):
        self.hostname = hostname
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
            try:
                close_old_connections()
                heartbeat_record(hostname=self.hostname, pid=self.pid, started_at=self.started_at)
            except Exception:
                # The portal DB may be briefly away: the next beat tries again.
                logger.warning("Worker heartbeat failed", exc_info=True)
            if self._stop.wait(settings.HEALTH_WORKER_BEAT_SECONDS):
                break
        connection.close()
