"""Thin Celery tasks of the pipeline app: the periodic health checks and the triage digest."""

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from pipeline import services
from warehouse.engines.base import TransientWarehouseError

TIME_LIMIT = settings.QUERY_TIME_LIMIT_SECONDS * 2
LOCK_KEY = "pipeline:health-run-lock"


@shared_task(bind=True, max_retries=2, soft_time_limit=TIME_LIMIT, time_limit=TIME_LIMIT + 30)
def run_health_checks(self) -> int | None:
    """One health run at a time: a beat tick that finds one still running skips its turn."""
    if not cache.add(LOCK_KEY, 1, timeout=TIME_LIMIT + 30):
        return None
    try:
        return services.health_run().pk
    except TransientWarehouseError as exc:
        raise self.retry(exc=exc, countdown=30) from exc
    finally:
        cache.delete(LOCK_KEY)


@shared_task
def send_triage_digest() -> int:
    return len(services.triage_digest_send())
