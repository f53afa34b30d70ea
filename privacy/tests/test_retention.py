"""Retention: expired partitions per layer and table, dropped whole, each drop audited;
`manage.py retention --dry-run` lists them and drops nothing."""

import io
import json
import os
import re
import subprocess
import sys
from datetime import date

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.core.management.base import SystemCheckError

from privacy import services
from privacy.models import AuditEvent
from privacy.tests.builders import TODAY
from warehouse.lake import contract, retention, storage

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 2, 1), 25, date(2024, 1, 1)),
        (date(2026, 3, 31), 1, date(2026, 2, 28)),
        (date(2028, 3, 31), 1, date(2028, 2, 29)),
        (date(2026, 1, 15), 36, date(2023, 1, 15)),
    ],
)
def test_months_before_is_calendar_months(day, months, expected):
    assert retention.months_before(day, months) == expected


def expired_names(result: services.RetentionResult) -> list[tuple[str, str]]:
    assert result.remote == []  # the warehouse is the embedded lake
    return [(p.table, str(p.partition)) for p in result.partitions]


def test_dry_run_lists_what_would_go_and_drops_nothing(old_lake):
    files = sorted(old_lake.rglob("*.parquet"))
    expired = services.retention_apply(actor="t", dry_run=True, today=TODAY)
    assert expired_names(expired) == [
        ("raw_events", "2023-12-31"),
        ("events", "2023-01-31"),
        ("fact_funnel_events", "2022-06-30"),
    ]
    # consent_changes has partitions from 2022 but is kept forever by default.
    assert sorted(old_lake.rglob("*.parquet")) == files
    assert not AuditEvent.objects.exists()


def test_drops_expired_partitions_whole_and_audits_each(old_lake):
    mark = storage.read_watermark(old_lake)
    gone = {"event_dt=2023-12-31", "event_dt=2023-01-31", "event_dt=2022-06-30"}
    before = set(old_lake.rglob("*.parquet"))
    dropped = services.retention_apply(actor="retention-job", today=TODAY)
    assert len(dropped.partitions) == 3
    # Only the three partitions went (consent_changes has a 2022-06-30 partition too: kept).
    assert before - set(old_lake.rglob("*.parquet")) == {
        p for p in before if p.parent.name in gone and "consent_changes" not in str(p)
    }
    assert not (old_lake / "bronze/raw_events/event_dt=2023-12-31").exists()
    assert (old_lake / "bronze/raw_events/event_dt=2024-01-01").exists()
    assert not list(old_lake.glob(retention.TRASH_PREFIX + "*"))
    audit = list(AuditEvent.objects.order_by("pk").values_list("action", "actor", "detail"))
    assert [(a, who, d["table"], d["partition"]) for a, who, d in audit] == [
        ("retention.dropped", "retention-job", "raw_events", "2023-12-31"),
        ("retention.dropped", "retention-job", "events", "2023-01-31"),
        ("retention.dropped", "retention-job", "fact_funnel_events", "2022-06-30"),
    ]
    assert all(d["files"] == 1 and d["bytes"] > 0 for _, _, d in audit)
    assert storage.read_watermark(old_lake).version != mark.version
    assert services.retention_apply(actor="again", today=TODAY).partitions == []


def test_per_table_months_override_the_layer(old_lake, settings):
    settings.PRIVACY_RETENTION_TABLE_MONTHS = {"events": 37, "raw_events": 0}
    names = expired_names(services.retention_apply(actor="t", dry_run=True, today=TODAY))
    assert ("raw_events", "2023-12-31") not in names  # kept forever
    assert ("events", "2023-01-31") not in names  # 37 months: cut-off 2023-01-01
    assert ("fact_funnel_events", "2022-06-30") in names
    assert any(t == "consent_changes" for t, _ in names)  # no longer kept forever


def test_a_killed_drop_leaves_no_partition_half_visible(old_lake):
    # A drop renames the partition out of the table first: a crash before the delete leaves a
    # trash directory no reader lists, removed by the next run.
    table = contract.table("raw_events")
    partition = storage.partition_dir(old_lake, table, "2023-12-31")
    trash = old_lake / f"{retention.TRASH_PREFIX}killed"
    partition.rename(trash)
    assert all("2023-12-31" not in str(p) for p in storage.data_files(old_lake, table))
    services.retention_apply(actor="t", today=TODAY)
    assert not trash.exists()


def test_command_dry_run_and_unknown_table(old_lake, settings):
    out = io.StringIO()
    call_command("retention", "--dry-run", stdout=out)
    assert out.getvalue().splitlines()[-1].endswith("partitions would drop")
    settings.PRIVACY_RETENTION_TABLE_MONTHS = {"no_such_table": 3}
    with pytest.raises(CommandError, match="RETENTION_TABLE_MONTHS: Unknown table 'no_such_table'"):
        call_command("retention", "--dry-run", stdout=io.StringIO())


def in_fresh_process(code: str, env: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    """Python run with the portal's settings built from ``env`` (as at a deployment's start)."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=django_settings.BASE_DIR,
        env={"DJANGO_SETTINGS_MODULE": "portal.settings", "VAR_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("env", "consent_months"),
    [("raw_events=13", 0), ("raw_events=13,consent_changes=48", 48)],
)
def test_naming_other_tables_keeps_the_consent_log_forever(env, consent_months, tmp_path):
    code = (
        "import json; from django.conf import settings; print(json.dumps("
        "[settings.PRIVACY_RETENTION_LAYER_MONTHS, settings.PRIVACY_RETENTION_TABLE_MONTHS]))"
    )
    out = in_fresh_process(code, {"RETENTION_TABLE_MONTHS": env}, tmp_path)
    assert out.returncode == 0, out.stderr
    layer_months, table_months = json.loads(out.stdout)
    policy = retention.Policy(layer_months=layer_months, table_months=table_months)
    assert policy.months(contract.table("raw_events")) == 13
    assert policy.months(contract.table("consent_changes")) == consent_months
    cut = {rule.table.name: rule.months for rule in retention.cutoffs(policy, TODAY)}
    assert cut.get("consent_changes") == (consent_months or None)
    assert cut["events"] == 36  # unnamed tables keep their layer's months


@pytest.mark.parametrize(
    ("table_months", "message"),
    [
        ({"raw_event": 13}, "RETENTION_TABLE_MONTHS: unknown table 'raw_event'"),
        ({"consent_changes": 0, "raw_events": -1}, "RETENTION_TABLE_MONTHS: raw_events=-1"),
    ],
)
def test_a_bad_table_retention_fails_the_system_check(settings, table_months, message):
    call_command("check", stdout=io.StringIO())  # the test settings are sound
    settings.PRIVACY_RETENTION_TABLE_MONTHS = table_months
    with pytest.raises(SystemCheckError, match=re.escape(message)):
        call_command("check", stdout=io.StringIO())


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ("raw_event=13", r"\(privacy.E001\) RETENTION_TABLE_MONTHS: unknown table 'raw_event'"),
        ("raw_events=x", r"RETENTION_TABLE_MONTHS items must be .*, got 'raw_events=x'"),
    ],
)
def test_manage_py_check_refuses_a_typo_at_startup(env, message, tmp_path):
    code = "from django.core.management import execute_from_command_line as run; run(['', 'check'])"
    out = in_fresh_process(code, {"RETENTION_TABLE_MONTHS": env}, tmp_path)
    assert out.returncode != 0
    assert re.search(message, out.stderr), out.stderr


@pytest.mark.parametrize("program", ["worker", "beat"])
def test_a_celery_worker_or_beat_refuses_to_start_on_a_typo(program, tmp_path):
    """Celery runs the system checks but would only log their errors (portal/celery.py)."""
    out = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "portal", program, "--loglevel", "WARNING"],
        cwd=django_settings.BASE_DIR,
        env={
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "VAR_DIR": str(tmp_path),
            "RETENTION_TABLE_MONTHS": "raw_event=13",
            "PATH": os.environ["PATH"],
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode != 0
    assert "(privacy.E001) RETENTION_TABLE_MONTHS: unknown table 'raw_event'" in out.stderr
