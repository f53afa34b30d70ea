"""The results job through a real Celery worker (on the shared small lake, which these
experiments do not appear in, so nothing is written to it)."""

import pytest
from django.test import Client

from experiments.models import ResultComputation
from experiments.tasks import compute_running_results
from experiments.tests.builders import experiment, running, user
from tests.support.services import wait_until


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_results_on_demand_and_for_every_running_experiment(celery_worker, lake_settings):
    first = running("exp_worker_a")
    second = running("exp_worker_b")
    experiment("exp_worker_draft")
    client = Client()
    client.force_login(user("pm"))
    answer = client.post(f"/experiments/{first.key}/results/refresh/")
    assert answer.status_code == 302
    computation = wait_until(
        lambda: ResultComputation.objects.filter(experiment=first).first(), timeout=60
    )
    assert computation.status == "succeeded", computation.error
    assert computation.query_run_id is not None
    assert computation.lake_status == "not written: no metric could be computed yet"
    assert "no exposures yet" in computation.warnings

    assert compute_running_results() == 2
    wait_until(lambda: ResultComputation.objects.filter(experiment=second).exists(), timeout=60)
    wait_until(lambda: ResultComputation.objects.filter(experiment=first).count() == 2, timeout=60)
    assert not ResultComputation.objects.filter(experiment__key="exp_worker_draft").exists()
