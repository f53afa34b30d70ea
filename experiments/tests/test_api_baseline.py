"""GET /api/stats/baseline: the MDE calculator's one-click fill, against pandas over the lake."""

import pytest
from django.test import Client

from experiments.tests.builders import user
from experiments.tests.references import baseline_reference
from warehouse.lake import contract

EXPOSURES = contract.table("fact_experiment_exposures")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_fill_from_the_lake(celery_worker, lake_settings, settings):
    settings.QUERY_WAIT_SECONDS = 30
    client = Client()
    client.force_login(user("pm"))
    answer = client.get(
        "/api/stats/baseline", {"experiment_key": "checkout_button_color", "days": 7}
    )
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert body["window"] == {"start": "2026-01-25", "end": "2026-01-31", "days": 7}
    expected = baseline_reference(
        lake_settings, "checkout_button_color", "2026-01-25", "2026-01-31"
    )
    for name, value in expected.items():
        assert body["baseline"][name] == pytest.approx(value, rel=1e-9), name
    again = client.get(
        "/api/stats/baseline", {"experiment_key": "checkout_button_color", "days": 7}
    )
    assert again.json()["run_id"] == body["run_id"]  # served from the cache


@pytest.mark.django_db
def test_a_slow_query_answers_202_with_its_run(client, lake_settings, settings):
    settings.QUERY_WAIT_SECONDS = 0
    client.force_login(user("analyst"))
    answer = client.get("/api/stats/baseline", {"days": 3})
    assert answer.status_code == 202
    assert answer.json()["status"] in ("queued", "running") and answer.json()["run_id"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"days": 0}, "days"),
        ({"days": "x"}, "days"),
        ({"days": 91}, "days"),
        ({"experiment_key": "Bad Key"}, "experiment_key"),
    ],
)
def test_bad_input(client, lake_settings, params, field):
    client.force_login(user("analyst"))
    answer = client.get("/api/stats/baseline", params)
    assert answer.status_code == 400 and field in answer.json()


@pytest.mark.django_db
def test_roles(client, lake_settings):
    client.force_login(user("support"))
    assert client.get("/api/stats/baseline").status_code == 403
