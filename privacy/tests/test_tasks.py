"""The privacy jobs Celery beat runs, and the DSAR task."""

import pytest

from portal.celery import app
from privacy import tasks
from privacy.models import PayloadScan


def test_daily_jobs_are_scheduled():
    app.loader.import_default_modules()
    names = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {"privacy.tasks.retention_daily", "privacy.tasks.payload_scan_daily"} <= names


@pytest.mark.django_db
def test_daily_payload_check_reads_the_newest_two_days(lake_settings):
    tasks.payload_scan_daily()
    scan = PayloadScan.objects.get()
    assert (str(scan.start), str(scan.end)) == ("2026-01-30", "2026-01-31")
