"""The health checks as Celery beat runs them: on a real worker, recorded as query runs."""

import subprocess
import sys

import pytest
from django.conf import settings

from alerts.models import Alert
from pipeline.models import HealthRun, TableFreshness
from pipeline.tasks import run_health_checks
from tests.support.services import wait_until
from warehouse.models import QueryRun

SCHEDULES = ("pipeline: health checks", "pipeline: dead-letter triage digest")


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


def test_beat_schedules_the_checks_and_the_digest():
    """As `celery beat` sees the app: in a fresh process, after the app is finalized."""
    code = (
        "import django; django.setup(); from portal.celery import app; "
        "app.loader.import_default_modules(); app.finalize(); "
        f"entries = [app.conf.beat_schedule[name] for name in {SCHEDULES!r}]; "
        "print(*[(e['task'], str(e['schedule'])) for e in entries], sep='|')"
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
    checks, digest = out.stdout.strip().split("|")
    assert checks == "('pipeline.tasks.run_health_checks', '600.0')"
    assert digest.startswith("('pipeline.tasks.send_triage_digest', '<crontab: 0 7 ")
