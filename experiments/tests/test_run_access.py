"""The runs behind experiment pages (results, baselines) are read by who may open those pages:
analysts, PMs and admins; support, finance and privacy get a 403 from /api/runs/<id> and do not
see them on /runs/, though every table they read is general."""

import io

import pytest
from django.core.management import call_command
from django.test import Client

from experiments.tests.builders import user
from portal.roles import Role
from warehouse.models import QueryRun
from warehouse.services import query_run_execute

pytestmark = pytest.mark.django_db

READERS = {Role.ANALYST, Role.PM, Role.ADMIN}


_CLIENTS: dict[Role, Client] = {}


def _client(role: Role) -> Client:
    """One logged-in client per role and test."""
    if role not in _CLIENTS:
        _CLIENTS[role] = Client()
        _CLIENTS[role].force_login(user(role.value, f"runs-{role.value}"))
    return _CLIENTS[role]


@pytest.fixture(autouse=True)
def _fresh_clients():
    _CLIENTS.clear()


def test_experiment_runs_are_read_only_by_experiment_readers(exposure_lake, settings):
    user("pm", "pm")
    call_command("demo_experiments", stdout=io.StringIO())
    settings.QUERY_WAIT_SECONDS = 0  # no worker: the baseline runs below, in this process
    baseline = _client(Role.PM).get("/api/stats/baseline")
    assert baseline.status_code == 202, baseline.content
    query_run_execute(run_id=baseline.json()["run_id"])
    runs = list(QueryRun.objects.filter(label__startswith="experiment "))
    labels = {run.label.split(":")[0] for run in runs}
    assert labels == {"experiment results", "experiment health", "experiment baseline"}, labels
    for role in Role:
        client = _client(role)
        listed = client.get("/runs/").content.decode()
        for run in runs:
            answer = client.get(f"/api/runs/{run.pk}")
            if role in READERS:
                assert answer.status_code == 200, (role, run.label)
                assert answer.json()["result"]["rows"], (role, run.label)
                assert f">{run.pk}<" in listed, (role, run.label)
            else:
                assert answer.status_code == 403, (role, run.label)
                assert "rows" not in answer.content.decode(), (role, run.label)
                assert f">{run.pk}<" not in listed, (role, run.label)
