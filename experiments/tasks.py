"""Thin Celery tasks of the experiments app: ids in, one service call."""

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from experiments import results
from experiments.models import Experiment
from warehouse.engines.base import TransientWarehouseError

MAX_RETRIES = 3


@shared_task(
    bind=True,
    max_retries=MAX_RETRIES,
    soft_time_limit=settings.QUERY_TIME_LIMIT_SECONDS + 60,
    time_limit=settings.QUERY_TIME_LIMIT_SECONDS + 90,
)
def compute_results(self, experiment_id: int) -> None:
    try:
        results.results_compute(experiment_id=experiment_id)
    except TransientWarehouseError as exc:
        raise self.retry(exc=exc, countdown=2**self.request.retries) from exc
    except SoftTimeLimitExceeded:
        results.results_fail(experiment_id=experiment_id, error="the results job ran out of time")
    except Experiment.DoesNotExist:
        return


@shared_task
def compute_running_results() -> int:
    """Queue a computation for every running experiment; returns how many."""
    ids = list(
        Experiment.objects.filter(status=Experiment.Status.RUNNING).values_list("pk", flat=True)
    )
    for experiment_id in ids:
        compute_results.delay(experiment_id)
    return len(ids)
