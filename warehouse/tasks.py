from pathlib import Path

from celery import shared_task
from django.conf import settings

from warehouse import services
from warehouse.engines.base import TransientWarehouseError
from warehouse.lake import storage


@shared_task(
    bind=True,
    # Bounded by the run's attempts (QUERY_RUN_MAX_ATTEMPTS): the service fails the run then.
    max_retries=None,
    soft_time_limit=settings.QUERY_TIME_LIMIT_SECONDS,
    time_limit=settings.QUERY_TIME_LIMIT_SECONDS + 30,
)
def run_query(self, run_id: int) -> None:
    # Every outcome (failures, time limit, bugs) is recorded on the run by the service.
    try:
        services.query_run_execute(run_id=run_id)
    except TransientWarehouseError as exc:
        raise self.retry(exc=exc, countdown=min(2**self.request.retries, 30)) from exc


@shared_task
def recover_stale_runs() -> dict[str, int]:
    return services.query_runs_recover()


@shared_task
def remove_stale_lake_tmp_files() -> int:
    root = Path(settings.LAKE_ROOT)
    if not root.is_dir():
        return 0
    return storage.remove_stale_tmp_files(root, older_than_s=settings.LAKE_TMP_MAX_AGE_SECONDS)
