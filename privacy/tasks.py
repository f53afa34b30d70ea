from datetime import date, timedelta

from celery import shared_task
from django.conf import settings

from privacy import dsar_job, services
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
