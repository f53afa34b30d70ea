"""The one Celery beat schedule: settings.CELERY_BEAT_SCHEDULE, read by the app as it is."""

from importlib import reload

from celery.schedules import crontab
from django.conf import settings

from portal import settings as settings_module
from portal.celery import app

# What the apps' on_after_finalize hooks and the settings entries scheduled before the schedule
# was gathered into settings (the same names, so beat's schedule file keeps their last runs).
EXPECTED = {
    "recover-stale-query-runs": ("warehouse.tasks.recover_stale_runs", 15.0),
    "remove-stale-lake-tmp-files": ("warehouse.tasks.remove_stale_lake_tmp_files", 3600.0),
    "experiments: results of running experiments": (
        "experiments.tasks.compute_running_results",
        3600.0,
    ),
    "privacy: queue again DSAR requests whose job died": (
        "privacy.tasks.dsar_requeue_stale",
        60.0,
    ),
    "privacy: sync consent with the lake's consent_changes": ("privacy.tasks.consent_sync", 600.0),
    "privacy: delete expired access exports": ("privacy.tasks.dsar_exports_expire", 3600.0),
    "privacy: drop expired lake partitions and remote rows": (
        "privacy.tasks.retention_daily",
        crontab(minute=0, hour=3),
    ),
    "privacy: check payload keys against the PII allowlist": (
        "privacy.tasks.payload_scan_daily",
        crontab(minute=30, hour=3),
    ),
    "metrics: warm dashboards daily": ("metrics.tasks.warm_dashboards", crontab(minute=0, hour=5)),
    "metrics: warm dashboards when the lake watermark moves": (
        "metrics.tasks.warm_dashboards_on_new_data",
        300.0,
    ),
    "pipeline: health checks": ("pipeline.tasks.run_health_checks", 600.0),
    "pipeline: dead-letter triage digest": (
        "pipeline.tasks.send_triage_digest",
        crontab(minute=0, hour=7),
    ),
}


def beat_schedule() -> dict:
    """The schedule as `celery beat` gets it: every task module imported, the app finalized, and
    its finalize and configure hooks run (again, if the app was finalized before a module that
    connects one was imported)."""
    app.loader.import_default_modules()
    app.finalize()
    app.on_after_configure.send(sender=app, source=app.conf)
    app.on_after_finalize.send(sender=app)
    return dict(app.conf.beat_schedule)


def test_every_periodic_task_is_in_the_one_schedule_with_its_times():
    schedule = beat_schedule()
    assert set(schedule) == set(EXPECTED)
    for name, (task, every) in EXPECTED.items():
        # Exactly the settings' entry: a hook's add_periodic_task would add args and options.
        assert schedule[name] == {"task": task, "schedule": every}, name


def test_nothing_but_settings_schedules_tasks():
    assert beat_schedule() == settings.CELERY_BEAT_SCHEDULE
    for receivers in (app.on_after_configure.receivers, app.on_after_finalize.receivers):
        assert not receivers


def test_every_scheduled_task_is_registered():
    schedule = beat_schedule()
    unknown = {entry["task"] for entry in schedule.values()} - set(app.tasks)
    assert not unknown


def test_schedule_follows_its_settings(monkeypatch):
    """The times come from the settings that configure them (their defaults are above)."""
    env = {
        "METRICS_WARM_HOUR_UTC": "6",
        "METRICS_WARM_CHECK_SECONDS": "120",
        "PRIVACY_DSAR_STALE_SECONDS": "1",
        "PRIVACY_RETENTION_HOUR_UTC": "2",
        "PRIVACY_CONSENT_SYNC_SECONDS": "300",
        "PIPELINE_HEALTH_INTERVAL_SECONDS": "900",
        "PIPELINE_DIGEST_HOUR_UTC": "8",
        "QUERY_RUN_SWEEP_SECONDS": "20",
    }
    # The settings module evaluated again under this environment, then as it was (Django's
    # settings object keeps the values it read at start-up either way).
    with monkeypatch.context() as patched:
        for key, value in env.items():
            patched.setenv(key, value)
        schedule = reload(settings_module).CELERY_BEAT_SCHEDULE
    reload(settings_module)
    every = {name: entry["schedule"] for name, entry in schedule.items()}
    assert every == {
        "recover-stale-query-runs": 20.0,
        "remove-stale-lake-tmp-files": 3600.0,
        "experiments: results of running experiments": 3600.0,
        # A dead DSAR job is taken over within 1.5 stale limits, yet not looked for more than
        # once a second.
        "privacy: queue again DSAR requests whose job died": 1.0,
        "privacy: sync consent with the lake's consent_changes": 300.0,
        "privacy: delete expired access exports": 3600.0,
        "privacy: drop expired lake partitions and remote rows": crontab(minute=0, hour=2),
        "privacy: check payload keys against the PII allowlist": crontab(minute=30, hour=2),
        "metrics: warm dashboards daily": crontab(minute=0, hour=6),
        "metrics: warm dashboards when the lake watermark moves": 120.0,
        "pipeline: health checks": 900.0,
        "pipeline: dead-letter triage digest": crontab(minute=0, hour=8),
    }
