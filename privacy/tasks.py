from datetime import date, timedelta

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from privacy import consent, dsar_job, services
from privacy.dsar_preview import dsar_preview_compute
from privacy.forms import data_end


@shared_task(
    soft_time_limit=settings.PRIVACY_DSAR_TIME_LIMIT_SECONDS,
    time_limit=settings.PRIVACY_DSAR_TIME_LIMIT_SECONDS + 60,
)
def dsar_run(request_id: int) -> None:
    # Failures are recorded on the request (status, error, audit) by the job itself.
    dsar_job.dsar_execute(request_id=request_id)


@shared_task(
    soft_time_limit=settings.PRIVACY_DSAR_TIME_LIMIT_SECONDS,
    time_limit=settings.PRIVACY_DSAR_TIME_LIMIT_SECONDS + 60,
)
def dsar_preview(request_id: int) -> None:
    # A failed scan is kept on the request's preview by the service itself.
    dsar_preview_compute(request_id=request_id)


@shared_task
def dsar_requeue_stale() -> int:
    """Queue again the requests whose job died (or whose message was lost)."""
    return len(services.dsar_requeue_stale(actor="dsar-sweeper"))


@shared_task
def dsar_exports_expire() -> int:
    """Delete the access exports past their expiry."""
    return services.dsar_exports_expire(actor="dsar-sweeper")


# The first import reads the lake's whole consent log; later ones a few days.
CONSENT_SYNC_TIME_LIMIT = 1800
CONSENT_SYNC_LOCK = "privacy:consent-sync-lock"


@shared_task(soft_time_limit=CONSENT_SYNC_TIME_LIMIT, time_limit=CONSENT_SYNC_TIME_LIMIT + 30)
def consent_sync() -> int | None:
    """The portal's changes the lake lacks go there, the lake's recent ones come here. One run
    at a time (two would push the same old changes): a tick that finds one running skips."""
    if not cache.add(CONSENT_SYNC_LOCK, 1, timeout=CONSENT_SYNC_TIME_LIMIT + 30):
        return None
    try:
        return consent.consent_sync().rows_added
    finally:
        cache.delete(CONSENT_SYNC_LOCK)


@shared_task
def retention_daily() -> int:
    result = services.retention_apply(actor="retention-job")
    return len(result.partitions) + len(result.remote)


@shared_task
def payload_scan(start: str, end: str) -> int:
    scan = services.payload_scan_run(start=date.fromisoformat(start), end=date.fromisoformat(end))
    return len(scan.violations)


@shared_task
def payload_scan_daily() -> int:
    """The newest two days of raw events against the PII allowlist."""
    end = data_end()
    return payload_scan(str(end - timedelta(days=1)), str(end))
