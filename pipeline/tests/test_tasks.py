"""The health checks as Celery beat runs them: on a real worker, recorded as query runs."""

import pytest

from alerts.models import Alert
from pipeline.models import HealthRun, TableFreshness
from pipeline.tasks import run_health_checks
from tests.support.services import wait_until
from warehouse.models import QueryRun


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_health_job_runs_on_a_worker(celery_worker, lake_settings):
    """Today, the shared small lake (ending 2026-01-31) is months old: the job says so."""
    run_health_checks.delay()
    run = wait_until(
        lambda: HealthRun.objects.exclude(outcome=HealthRun.Outcome.RUNNING).first(), timeout=90
    )
    assert run.outcome == HealthRun.Outcome.SUCCEEDED, run.error
    labels = set(QueryRun.objects.values_list("label", flat=True))
    assert {"pipeline:bronze_events", "pipeline:silver_lag", "pipeline:freshness"} <= labels
    assert QueryRun.objects.filter(label__startswith="pipeline:", status="succeeded").count() >= 6
    assert TableFreshness.objects.get(table_name="raw_events").status == "alarm"
    alert = Alert.objects.get(key="pipeline:freshness", closed_at__isnull=True)
    assert "raw_events" in alert.detail
