"""A DSAR whose worker died heals without anyone pressing Run: the periodic sweeper queues it
again after PRIVACY_DSAR_STALE_SECONDS, and `manage.py dsar run` takes it over."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from portal.celery import app
from privacy import services, tasks
from privacy.models import DsarRequest
from privacy.tests.builders import approved, busy_subject
from privacy.tests.conftest import previewed

pytestmark = pytest.mark.django_db


def approved_unscanned(privacy_users, **ids) -> DsarRequest:
    """Approved on a preview as the scan would leave it (the job never runs in the test)."""
    alice, bob = privacy_users
    dsar = services.dsar_file(**ids, reason="r", requester=alice, enqueue=False)
    previewed(dsar.pk)
    services.dsar_verify(request_id=dsar.pk, method="account_login", actor=alice)
    services.dsar_approve(request_id=dsar.pk, approver=bob)
    return services.dsar_queue(request_id=dsar.pk, enqueue=False)


def died(dsar: DsarRequest, *, silent_s: float, status: str = "running") -> None:
    """As a killed worker leaves a request: claimed (or queued), then no heartbeat since."""
    beat = timezone.now() - timedelta(seconds=silent_s)
    DsarRequest.objects.filter(pk=dsar.pk).update(
        status=status, attempts=1 if status == "running" else 0, heartbeat_at=beat, started_at=beat
    )


def test_the_sweeper_queues_a_dead_job_again_and_it_completes(
    lake_copy, privacy_users, settings, eager_celery, django_capture_on_commit_callbacks
):
    settings.PRIVACY_DSAR_STALE_SECONDS = 60
    identity_id, _ = busy_subject(lake_copy)
    dead = approved(privacy_users, identity_id=identity_id)
    died(dead, silent_s=61)
    alive = approved_unscanned(privacy_users, user_id="usr_0000000a11fe")
    died(alive, silent_s=5)

    with django_capture_on_commit_callbacks(execute=True) as sent:
        assert tasks.dsar_requeue_stale() == 1  # as beat runs it

    assert len(sent) == 1  # one job sent, run here (eager): what a worker does with it
    healed = DsarRequest.objects.get(pk=dead.pk)
    assert healed.status == "completed" and healed.attempts == 2, healed.error
    assert healed.rows_changed > 0
    [event] = healed.audit.filter(action="dsar.requeued")
    assert event.actor == "dsar-sweeper" and event.detail["was"] == "running"
    assert event.detail["silent_s"] >= 61
    assert DsarRequest.objects.get(pk=alive.pk).status == "running"  # its job still beats


def test_a_queued_request_no_worker_took_is_sent_again(
    privacy_users, settings, django_capture_on_commit_callbacks
):
    settings.PRIVACY_DSAR_STALE_SECONDS = 60
    lost = approved_unscanned(privacy_users, user_id="usr_00000000105e")
    died(lost, silent_s=120, status="queued")
    fresh = approved_unscanned(privacy_users, user_id="usr_00000000f5e5")
    died(fresh, silent_s=1, status="queued")

    with django_capture_on_commit_callbacks() as sent:
        requeued = tasks.dsar_requeue_stale()

    assert requeued == 1 and len(sent) == 1
    assert (
        DsarRequest.objects.get(pk=lost.pk).audit.get(action="dsar.requeued").detail["was"]
        == "queued"
    )
    assert not DsarRequest.objects.get(pk=fresh.pk).audit.filter(action="dsar.requeued")


def test_beat_runs_the_sweeper_twice_per_stale_limit(settings):
    app.loader.import_default_modules()
    [entry] = [
        e
        for e in app.conf.beat_schedule.values()
        if e["task"] == "privacy.tasks.dsar_requeue_stale"
    ]
    assert entry["schedule"] == settings.PRIVACY_DSAR_STALE_SECONDS / 2


def test_dsar_run_takes_over_a_request_held_by_a_dead_job(lake_copy, privacy_users, settings):
    """The job holding it beat a moment ago, then died: the command waits out the stale limit
    (not its hour-long timeout) and runs it."""
    settings.PRIVACY_DSAR_STALE_SECONDS = 1
    identity_id, _ = busy_subject(lake_copy)
    dsar = approved(privacy_users, identity_id=identity_id)
    died(dsar, silent_s=0)
    out = io.StringIO()

    call_command("dsar", "run", str(dsar.pk), "--inline", "--timeout", "120", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0] == (
        f"request {dsar.pk}: its job stopped reporting for more than 1 s; taking it over"
    )
    assert lines[-1].startswith(f"request {dsar.pk} completed: ")
    done = DsarRequest.objects.get(pk=dsar.pk)
    assert done.status == "completed" and done.attempts == 2
