"""The home page answers "what should I look at": my saved views, the dashboards I opened
lately, open alerts my role may open, experiments I own and the freshness of the data."""

from datetime import date

import pytest
from django.test import Client
from django.utils import timezone

from alerts.services import alert_raise
from experiments.tests.builders import experiment
from pipeline.models import TableFreshness
from saved_views import services as saved_views
from tests.support.users import user_with_role

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def section(page: str, section_id: str) -> str:
    return page.split(f'id="{section_id}"', 1)[1].split('<div class="card"', 1)[0]


def freshness(table: str, status: str) -> None:
    TableFreshness.objects.create(
        table_name=table,
        cadence="daily",
        newest_partition=date(2026, 1, 31),
        newest_column="gold_processed_ts",
        age_s=200_000.0,
        budget_s=108_000.0,
        status=status,
        checked_at=timezone.now(),
    )


def test_what_a_pm_should_look_at():
    pat = user_with_role("pm", "pat")
    saved_views.saved_view_create(owner=pat, name="growth weekly", url="/dashboards/growth/")
    mine = experiment("exp_mine", owner=pat)
    experiment("exp_theirs", owner=user_with_role("pm", "other"))
    alert_raise(key="srm:exp_mine", source="experiments", severity="alarm", title="SRM in exp_mine")
    alert_raise(key="loss:x", source="pipeline", severity="alarm", title="Event loss on raw")
    freshness("fact_bookings", "alarm")
    freshness("support_tickets", "alarm")  # support's table: not for a pm
    freshness("events", "ok")
    client = logged_in(pat)
    client.get("/dashboards/growth/")
    client.get("/dashboards/marketplace-health/")
    client.get("/dashboards/support/")  # not readable by a pm: 404, not remembered

    page = client.get("/").content.decode()
    assert "growth weekly" in section(page, "home-saved")
    recent = section(page, "home-recent")
    assert recent.index("Marketplace health") < recent.index("Growth")  # newest first
    assert "Support" not in recent
    alerts = section(page, "home-alerts")
    assert "SRM in exp_mine" in alerts and "Event loss on raw" in alerts
    assert "Open alerts (2)" in alerts
    experiments = section(page, "home-experiments")
    assert mine.name in experiments and "exp_theirs" not in experiments
    fresh = section(page, "home-freshness")
    assert "1 table alarm, 1 table ok" in fresh and "fact_bookings" in fresh
    assert "support_tickets" not in fresh
    assert "/healthz" not in page


def test_a_support_user_sees_neither_experiments_nor_their_alerts():
    alert_raise(key="srm:exp_x", source="experiments", severity="alarm", title="SRM in exp_x")
    alert_raise(key="loss:x", source="pipeline", severity="warning", title="Event loss on raw")
    page = logged_in(user_with_role("support", "sue")).get("/").content.decode()
    assert 'id="home-experiments"' not in page
    alerts = section(page, "home-alerts")
    assert "Event loss on raw" in alerts and "Open alerts (1)" in alerts
    assert "exp_x" not in page
    assert "None yet" in section(page, "home-saved")
