"""Scheduled warming: every tile's default view is queued for each scope in use, once per
version of the tables it reads, and the dashboard then finds it cached."""

import os
import shutil
import subprocess
import sys
import time

import pytest
from django.conf import settings as django_settings

from metrics.tasks import warm_dashboards, warm_dashboards_on_new_data
from tests.support.users import client_for
from warehouse.lake.storage import bump_watermark
from warehouse.models import QueryRun
from warehouse.services import query_run_execute

pytestmark = pytest.mark.django_db

GENERAL_TILES = 23  # metrics every role may read; the five support metrics need support access
SUPPORT_TILES = 5
WINDOWS = 2  # default window and the previous one


@pytest.fixture
def lake(small_lake, tmp_path, settings):
    """A copy of the small lake, so the test may move its watermark."""
    root = tmp_path / "lake"
    shutil.copytree(small_lake, root)
    settings.WAREHOUSE = "duckdb"
    settings.LAKE_ROOT = root
    return root


def test_warms_each_tile_for_each_scope_in_use_once_per_watermark(lake):
    analyst = client_for("analyst")
    client_for("pm")  # same scope as the analyst: nothing more to warm
    client_for("support")
    expected = (GENERAL_TILES * 2 + SUPPORT_TILES) * WINDOWS

    assert warm_dashboards_on_new_data() == expected
    assert QueryRun.objects.count() == expected
    assert set(QueryRun.objects.values_list("scope", flat=True)) == {
        "general",
        "general+support_view",
    }

    assert warm_dashboards_on_new_data() == 0  # same watermark: nothing to do
    assert QueryRun.objects.count() == expected

    # The page's tile request finds what was warmed, once the worker has run it.
    warmed = QueryRun.objects.get(
        label="metric:search_to_view_ctr",
        scope="general",
        params__start__value="2026-01-04",
    )
    query_run_execute(run_id=warmed.pk)
    tile = analyst.get(
        "/api/metrics/search_to_view_ctr/data",
        {"start": "2026-01-04", "end": "2026-01-31", "grain": "day"},
    )
    assert tile.status_code == 200 and tile.json()["run_id"] == warmed.pk

    before = QueryRun.objects.count()
    bump_watermark(lake, "2026-01-31")  # a load: every table changed, so every view is new
    assert warm_dashboards_on_new_data() == expected
    assert QueryRun.objects.count() == before + expected


def test_a_write_rewarms_only_the_tiles_reading_the_tables_it_changed(lake):
    analyst = client_for("analyst")
    client_for("support")
    warm_dashboards_on_new_data()
    for run in QueryRun.objects.all():
        query_run_execute(run_id=run.pk)
    warmed = set(QueryRun.objects.values_list("pk", flat=True))

    # As a DSAR would: three tables, one of them read by tiles through a view only.
    bump_watermark(lake, tables=["fact_messages_sent", "support_tickets", "consent_changes"])

    # Two general tiles read fact_messages_sent (for both scopes in use), four support tiles
    # read support_tickets through support_tickets_v; no tile reads consent_changes.
    assert warm_dashboards_on_new_data() == (2 * 2 + 4) * WINDOWS
    again = QueryRun.objects.exclude(pk__in=warmed)
    assert set(again.values_list("label", flat=True)) == {
        "metric:email_digest_ctr",
        "metric:alert_ctr",
        "metric:support_first_response_time",
        "metric:support_time_to_resolution",
        "metric:support_auto_resolved_share",
        "metric:sla_breach_count",
    }
    # Every other tile is still served from what was warmed before the write.
    tile = analyst.get(
        "/api/metrics/search_to_view_ctr/data",
        {"start": "2026-01-04", "end": "2026-01-31", "grain": "day"},
    )
    assert tile.status_code == 200 and tile.json()["run_id"] in warmed
    assert warm_dashboards_on_new_data() == 0


def test_daily_warming_recomputes_even_cached_views(lake):
    client_for("analyst")
    warm_dashboards_on_new_data()
    for run in QueryRun.objects.filter(label="metric:seo_nonbrand_clicks"):
        query_run_execute(run_id=run.pk)
    before = QueryRun.objects.count()

    assert warm_dashboards() == GENERAL_TILES * WINDOWS
    forced = QueryRun.objects.filter(force_refresh=True)
    assert forced.filter(label="metric:seo_nonbrand_clicks").count() == WINDOWS
    assert QueryRun.objects.count() == before + WINDOWS  # the rest were still queued: joined


def test_no_users_no_warming(lake):
    assert warm_dashboards_on_new_data() == 0
    assert QueryRun.objects.count() == 0


def test_celery_beat_schedules_both_warmings():
    """The hook registers with the real beat: its start-up log lists the schedule."""
    env = {**os.environ, "VAR_DIR": str(django_settings.VAR_DIR)}
    beat = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "beat",
            "--loglevel",
            "DEBUG",
            "--schedule",
            str(django_settings.VAR_DIR / "test-beat-schedule"),
        ],
        cwd=django_settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        deadline = time.monotonic() + 60
        for line in beat.stdout:
            lines.append(line)
            if "celery.backend_cleanup" in line or time.monotonic() > deadline:
                break
    finally:
        beat.terminate()
        beat.wait(timeout=15)
    log = "".join(lines)
    assert "metrics.tasks.warm_dashboards() <crontab: 0 5 * * *" in log, log
    assert "metrics.tasks.warm_dashboards_on_new_data() <freq: 5.00 minutes>" in log, log
