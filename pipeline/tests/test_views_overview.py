"""/pipeline/: every role reads it; restricted tables' freshness only for their roles."""

import json
import re

import pytest
from django.contrib.auth.models import User

from pipeline.models import VolumePoint
from pipeline.tests import factories
from portal.roles import data_scope
from tests.support.users import user_with_role
from warehouse.lake import contract

pytestmark = pytest.mark.django_db


def figure(body: str, name: str) -> dict:
    match = re.search(rf'<script id="{name}" type="application/json">(.*?)</script>', body, re.S)
    return json.loads(match.group(1))


@pytest.mark.parametrize("role", ["analyst", "pm", "support", "finance", "privacy", "admin"])
def test_every_role_reads_pipeline_health(client, role):
    factories.health()
    client.force_login(user_with_role(role))
    response = client.get("/pipeline/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Event loss" in body and "93.1%" in body and "budget ≥ 95.0%" in body
    assert "25.0 min" in body and "budget ≤ 30.0 min" in body


def test_users_without_a_role_and_anonymous_users_are_kept_out(client):
    client.force_login(User.objects.create_user("nobody"))
    assert client.get("/pipeline/").status_code == 403
    client.logout()
    response = client.get("/pipeline/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize("role", ["analyst", "finance", "admin"])
def test_freshness_lists_only_the_tables_the_reader_may_read(client, role):
    factories.health()
    user = user_with_role(role)
    client.force_login(user)
    response = client.get("/pipeline/")
    shown = {f.table_name for f in response.context["freshness"]}
    scope = data_scope(user)
    assert shown == {t.name for t in contract.TABLES.values() if t.access in scope}
    assert "raw_events" in shown
    body = response.content.decode()
    for table in contract.TABLES.values():
        assert (f"<td>{table.name}<div" in body) == (table.name in shown)


def test_charts_carry_the_stored_series(client):
    factories.health(days=14)
    client.force_login(user_with_role("analyst"))
    body = client.get("/pipeline/?days=2").content.decode()
    loss = figure(body, "loss-figure")
    hourly = loss["data"][0]
    assert len(hourly["x"]) == 48 and set(hourly["y"]) == {99.0}
    assert loss["layout"]["shapes"][0]["y0"] == 95.0  # the budget line
    silver = figure(body, "silver-figure")
    assert [t["name"] for t in silver["data"]] == [
        "p50",
        "p95",
        "max",
        "p95 per day",
        "p95 over budget",
    ]
    assert silver["layout"]["shapes"][0]["y0"] == 5.0  # 300 s budget, in minutes
    volume = figure(body, "volume-figure")
    assert sorted(t["name"] for t in volume["data"]) == ["app.start", "page_view", "search"]
    assert set(volume["data"][0]["customdata"]) == {" (usual 480, expected 330 to 660, score +0.9)"}


def test_volume_anomalies_are_listed_with_their_expected_range(client):
    factories.health(days=14)
    VolumePoint.objects.filter(event_name="search").update(
        events=120, low=330, high=660, score=-7.24, anomaly=True
    )
    client.force_login(user_with_role("analyst"))
    body = client.get("/pipeline/?days=2").content.decode()
    assert '<td class="num">330 to 660</td><td class="num">-7.2</td>' in body


def test_a_bad_range_is_a_400_naming_the_field(client):
    client.force_login(user_with_role("analyst"))
    response = client.get("/pipeline/?days=365")
    assert response.status_code == 400
    assert "days: Ensure this value is less than or equal to 90." in response.content.decode()


def test_the_overview_makes_a_fixed_number_of_queries(client, django_assert_max_num_queries):
    factories.health(days=90)
    client.force_login(user_with_role("analyst"))
    # Of which 3 for the charts' annotations: experiments, pipeline alarms, notes.
    with django_assert_max_num_queries(15):
        response = client.get("/pipeline/?days=90")
    assert response.status_code == 200


def test_before_the_first_run(client):
    client.force_login(user_with_role("pm"))
    body = client.get("/pipeline/").content.decode()
    assert "have not run yet" in body and "Not checked yet." in body


def test_charts_are_built_once_per_finished_run(client):
    """The charts change only with a new health run: a process builds them once per finished
    run and range, and a newer run's series show at once."""
    from django.utils import timezone

    from pipeline.models import HealthRun, LossPoint

    run = factories.health(days=14)
    HealthRun.objects.filter(pk=run.pk).update(finished_at=timezone.now())
    client.force_login(user_with_role("analyst"))
    first = figure(client.get("/pipeline/?days=2").content.decode(), "loss-figure")
    assert set(first["data"][0]["y"]) == {99.0}

    LossPoint.objects.update(ratio=0.5)  # as a newer run would store its series
    same_run = figure(client.get("/pipeline/?days=2").content.decode(), "loss-figure")
    assert same_run == first
    newer = HealthRun.objects.create(
        as_of=run.as_of, days=14, outcome="succeeded", finished_at=timezone.now()
    )
    assert newer.pk != run.pk
    body = client.get("/pipeline/?days=2").content.decode()
    assert set(figure(body, "loss-figure")["data"][0]["y"]) == {50.0}
