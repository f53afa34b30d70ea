from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from warehouse import services
from warehouse.engines.base import TransientWarehouseError

MAX_RETRIES = 3


@shared_task(
    bind=True,
    max_retries=MAX_RETRIES,
    soft_time_limit=settings.QUERY_TIME_LIMIT_SECONDS,
    time_limit=settings.QUERY_TIME_LIMIT_SECONDS + 30,
)
def run_query(self, run_id: int) -> None:
    try:
        services.query_run_execute(run_id=run_id)
    except TransientWarehouseError as exc:
        if self.request.retries >= MAX_RETRIES:
            services.query_run_fail(run_id=run_id, error=f"Gave up after retries: {exc}")
            return
        raise self.retry(exc=exc, countdown=2**self.request.retries) from exc
    except SoftTimeLimitExceeded:
        services.query_run_fail(
            run_id=run_id,
            error=f"The query exceeded the {settings.QUERY_TIME_LIMIT_SECONDS} s time limit.",
        )
    except Exception as exc:
        # A bug must not leave the run "running" forever: fail it, then let Celery log it.
        services.query_run_fail(run_id=run_id, error=f"Internal error: {type(exc).__name__}: {exc}")
        raise


@shared_task
def fail_stale_runs() -> int:
    return services.query_runs_fail_stale()
