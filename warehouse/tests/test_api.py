from datetime import date

import pytest
from django.contrib.auth.models import User

from portal.roles import Access
from tests.support.users import user_with_role
from warehouse import services
from warehouse.models import QueryRun

pytestmark = pytest.mark.django_db

SQL = "SELECT count(*) AS n FROM fact_funnel_events WHERE event_dt BETWEEN :start AND :end"
PARAMS = {
    "start": {"type": "date", "value": "2026-01-20"},
    "end": {"type": "date", "value": "2026-01-26"},
}


def login(client, role: str) -> User:
    user = user_with_role(role)
    client.force_login(user)
    return user


def test_only_admins_submit_ad_hoc_sql(client):
    login(client, "analyst")
    response = client.post(
        "/api/queries", {"sql": SQL, "params": PARAMS}, content_type="application/json"
    )
    assert response.status_code == 403
    assert QueryRun.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"params": PARAMS}, "sql", "required"),
        (
            {"sql": SQL, "params": {**PARAMS, "end": {"type": "date", "value": "soon"}}},
            "params.end.value",
            "'soon' is not a valid date",
        ),
        (
            {"sql": SQL, "params": {**PARAMS, "end": {"type": "datum", "value": "x"}}},
            "params.end.type",
            "must be one of",
        ),
        ({"sql": SQL, "params": PARAMS, "engine": "oracle"}, "engine", "not a valid choice"),
        (
            {"sql": SQL, "params": PARAMS, "force_refresh": "perhaps"},
            "force_refresh",
            "valid boolean",
        ),
        ({"sql": "DROP TABLE fact_bookings", "params": {}}, "sql", "Only SELECT"),
        (
            {"sql": SQL.replace("WHERE event_dt BETWEEN :start AND :end", ""), "params": {}},
            "sql",
            "without a filter on event_dt",
        ),
        (
            {"sql": SQL, "params": {"start": PARAMS["start"]}},
            "sql",
            "Missing value for parameter :end",
        ),
    ],
)
def test_bad_input_is_a_400_naming_the_field(client, body, field, fragment):
    login(client, "admin")
    response = client.post("/api/queries", body, content_type="application/json")
    assert response.status_code == 400
    errors = response.json()
    assert field in errors, errors
    assert fragment in " ".join(errors[field])
    assert QueryRun.objects.count() == 0


def test_submit_queues_and_reports_the_run(client, lake_settings, settings):
    settings.QUERY_WAIT_SECONDS = 0.05  # no worker here: the run stays queued
    login(client, "admin")
    response = client.post(
        "/api/queries", {"sql": SQL, "params": PARAMS}, content_type="application/json"
    )
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued" and body["result"] is None
    run = QueryRun.objects.get(pk=body["run_id"])
    assert run.params["start"] == {"type": "date", "value": "2026-01-20"}

    services.query_run_execute(run_id=run.pk)
    detail = client.get(f"/api/runs/{run.pk}").json()
    assert detail["status"] == "succeeded"
    assert detail["result"]["columns"] == ["n"]
    assert detail["result"]["rows"][0][0] > 0

    again = client.post(
        "/api/queries", {"sql": SQL, "params": PARAMS}, content_type="application/json"
    )
    assert again.status_code == 200
    assert again.json()["from_cache"] is True
    assert again.json()["result"] == detail["result"]


def test_runs_over_restricted_data_are_hidden_from_other_roles(client, lake_settings):
    finance_sql = (
        "SELECT count(*) AS n FROM fin_refunds WHERE event_dt BETWEEN :start AND current_date"
    )
    run = services.query_submit(
        sql=finance_sql, params={"start": 1}, scope=frozenset({Access.GENERAL, Access.FINANCE})
    ).run
    login(client, "analyst")
    response = client.get(f"/api/runs/{run.pk}")
    assert response.status_code == 403
    assert "fin_refunds" not in response.content.decode()
    page = client.get("/runs/").content.decode()
    assert f">{run.pk}<" not in page


def test_run_list_page_shows_visible_runs_in_constant_queries(
    client, lake_settings, django_assert_max_num_queries
):
    login(client, "analyst")
    for day in range(20, 26):
        services.query_submit(
            sql=SQL,
            params={"start": date(2026, 1, day), "end": date(2026, 1, 26)},
            scope=frozenset({Access.GENERAL}),
            label=f"day {day}",
        )
    with django_assert_max_num_queries(6):
        page = client.get("/runs/")
    assert page.status_code == 200
    assert page.content.decode().count("day 2") == 6
