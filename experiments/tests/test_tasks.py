"""The results job through a real Celery worker (on the shared small lake, which these
experiments do not appear in, so nothing is written to it), and the hourly schedule."""

import subprocess
import sys

import pytest
from django.conf import settings
from django.test import Client

from experiments.models import ResultComputation
from experiments.tasks import compute_running_results
from experiments.tests.builders import experiment, running, user
from tests.support.services import wait_until

SCHEDULE = "experiments: results of running experiments"


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


def test_beat_runs_the_job_every_hour():
    """As `celery beat` sees the app: in a fresh process, after the app is finalized."""
    code = (
        "import django; django.setup(); from portal.celery import app; "
        "app.loader.import_default_modules(); app.finalize(); "
        f"entry = app.conf.beat_schedule[{SCHEDULE!r}]; "
        "print(entry['task'], entry['schedule'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env={
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "VAR_DIR": str(settings.VAR_DIR),
            "PATH": "",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["experiments.tasks.compute_running_results", "3600.0"]
