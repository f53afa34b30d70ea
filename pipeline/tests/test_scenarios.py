"""Scenarios injected into a small demo lake: each opens exactly the expected alerts, once
(one email, however often the checks run while it lasts), and closes them on recovery."""

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core import mail

from alerts.models import Alert
from pipeline import services
from pipeline.models import CheckState, HealthRun
from pipeline.tests import lake_edits
from pipeline.tests.conftest import AS_OF
from warehouse.lake.storage import bump_watermark

pytestmark = pytest.mark.django_db

PEAK = datetime(2026, 1, 31, 19, tzinfo=UTC)  # a busy hour, settled at AS_OF


def run_checks() -> HealthRun:
    run = services.health_run(as_of=AS_OF)
    assert run.outcome == HealthRun.Outcome.SUCCEEDED, run.error
    return run


def open_alerts() -> set[str]:
    return set(Alert.objects.filter(closed_at__isnull=True).values_list("key", flat=True))


def restore(lake: Path, base: Path, *tables: str) -> None:
    """Put back the undamaged files of ``tables`` (the pipeline recovered and reprocessed)."""
    for table in tables:
        shutil.copytree(base / table, lake / table, dirs_exist_ok=True)
    bump_watermark(lake)


def test_a_healthy_lake_raises_no_alert(scenario_lake):
    run_checks()
    assert open_alerts() == set()
    statuses = dict(CheckState.objects.values_list("name", "status"))
    assert statuses == {
        "loss": "ok",
        "lag_silver": "ok",
        "lag_gold": "ok",
        "volume": "ok",
        "freshness": "ok",
        "dead_letters": "ok",
        "schemas": "ok",
    }


def test_the_lakes_own_incidents_are_found_when_the_window_reaches_them(scenario_lake, settings):
    """The demo lake loses 6% of one day's events (2026-01-25) and loads gold four times slower
    on another (2026-01-18): with an alert window of three weeks, exactly those two alarm."""
    settings.PIPELINE_THRESHOLDS = {**settings.PIPELINE_THRESHOLDS, "alert_window_hours": 21 * 24}
    services.health_run(as_of=AS_OF, days=21)
    assert open_alerts() == {"pipeline:loss", "pipeline:lag_gold"}
    loss = CheckState.objects.get(name="loss")
    assert "day 2026-01-25" in " ".join(loss.breaches)
    assert {b[:15] for b in loss.breaches} == {"hour 2026-01-25", "day 2026-01-25:"}
    gold = CheckState.objects.get(name="lag_gold")
    assert {b[:15] for b in gold.breaches} == {"hour 2026-01-18", "day 2026-01-18:"}


SCENARIOS = {
    "lose 10% of an hour": (
        lambda lake: lake_edits.drop_from_silver(lake, PEAK, 0.10),
        "pipeline:loss",
        ("silver/events", "gold/fact_funnel_events"),
    ),
    "delay silver by 20 minutes for an hour": (
        lambda lake: lake_edits.delay_silver(lake, PEAK, 20),
        "pipeline:lag_silver",
        ("silver/events", "gold/fact_funnel_events"),
    ),
    "clients send an unregistered schema version": (
        lambda lake: lake_edits.set_schema_version(lake, PEAK, "search", 9),
        "pipeline:schemas",
        ("bronze/raw_events",),
    ),
    "a spike of dead letters": (
        lambda lake: lake_edits.spike_dead_letters(
            lake, PEAK, 300, "schema_validation_failed:missing_field:referrer", '{"path":"/"}'
        ),
        "pipeline:dead_letters",
        ("bronze/dead_letter_events",),
    ),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_breach_opens_one_alert_emails_once_and_closes_on_recovery(
    scenario, scenario_lake, scenario_base, settings, django_capture_on_commit_callbacks
):
    damage, expected, tables = SCENARIOS[scenario]
    settings.ALERT_EMAILS = ["data-team@example.com"]
    damage(scenario_lake)
    with django_capture_on_commit_callbacks(execute=True):
        run_checks()
        run_checks()
    assert open_alerts() == {expected}
    alert = Alert.objects.get(key=expected)
    assert alert.source == "pipeline" and alert.severity == "alarm" and alert.updates == 1
    assert "2026-01-31 19:00" in alert.title + alert.detail
    assert [m.subject for m in mail.outbox] == [f"[portal alarm] {alert.title}"]

    restore(scenario_lake, scenario_base, *tables)
    run_checks()
    assert open_alerts() == set()
    alert.refresh_from_db()
    assert alert.closed_at is not None and len(mail.outbox) == 1


def test_a_bad_schema_in_the_registry(scenario_lake, settings, tmp_path):
    registry = tmp_path / "schemas"
    shutil.copytree(settings.PIPELINE_SCHEMA_DIR, registry)
    settings.PIPELINE_SCHEMA_DIR = registry
    document = json.loads((registry / "search" / "v3.0.json").read_text())
    document["x-version"] = "3.1"
    document["required"].remove("filters")  # relaxed in a minor version
    bad = registry / "search" / "v3.1.json"
    bad.write_text(json.dumps(document))

    run_checks()
    assert open_alerts() == {"pipeline:schemas"}
    assert CheckState.objects.get(name="schemas").breaches == [
        "search v3.1: required field 'filters' relaxed to optional without a new major version "
        "(was v3.0)"
    ]
    bad.unlink()
    run_checks()
    assert open_alerts() == set()


def test_a_failing_run_is_recorded_and_alerted_then_recovers(scenario_lake, settings, tmp_path):
    settings.LAKE_ROOT = tmp_path / "nowhere"
    failed = services.health_run(as_of=AS_OF)
    assert failed.outcome == HealthRun.Outcome.FAILED and "no data in the lake" in failed.error
    assert open_alerts() == {"pipeline:health_run"}
    settings.LAKE_ROOT = scenario_lake
    run_checks()
    assert open_alerts() == set()
