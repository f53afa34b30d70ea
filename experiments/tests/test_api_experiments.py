import pytest

from experiments import services
from experiments.tests.builders import experiment, running, user

pytestmark = pytest.mark.django_db


def test_list_with_bounded_queries(client, django_assert_max_num_queries):
    for i in range(6):
        running(f"exp_list_{i}", variants=[("control", 0.34), ("b", 0.33), ("c", 0.33)])
    client.force_login(user("analyst"))
    with django_assert_max_num_queries(6):
        answer = client.get("/api/experiments")
    assert answer.status_code == 200
    body = answer.json()
    assert len(body) == 6
    assert body[0]["variants"] == [
        {"name": "control", "weight": 0.34},
        {"name": "b", "weight": 0.33},
        {"name": "c", "weight": 0.33},
    ]
    assert {e["status"] for e in body} == {"running"}


def test_detail_with_the_change_log(client):
    e = running("exp_detail")
    services.experiment_kill(experiment=e, user=user("admin"), reason="Bug in variant")
    client.force_login(user("analyst"))
    body = client.get("/api/experiments/exp_detail").json()
    assert body["status"] == "stopped" and body["kill_reason"] == "Bug in variant"
    assert body["plan"]["planned_n_per_variant"] == list(e.plan().n_per_variant)
    assert [c["action"] for c in body["changes"]] == ["killed", "launched", "created"]
    assert body["changes"][0]["by"] == "admin-user"
    assert body["changes"][0]["changes"]["status"] == ["running", "stopped"]


def test_results_before_any_computation(client):
    running("exp_fresh")
    client.force_login(user("pm"))
    body = client.get("/api/experiments/exp_fresh/results").json()
    assert body["computed_at"] is None and body["metrics"] == []


@pytest.mark.parametrize(
    "path", ["/api/experiments", "/api/experiments/exp_roles", "/api/experiments/exp_roles/results"]
)
@pytest.mark.parametrize(
    ("role", "status"), [("analyst", 200), ("admin", 200), ("support", 403), ("finance", 403)]
)
def test_roles(client, path, role, status):
    experiment("exp_roles")
    client.force_login(user(role))
    assert client.get(path).status_code == status


def test_unknown_experiment(client):
    client.force_login(user("analyst"))
    assert client.get("/api/experiments/nope").status_code == 404
    assert client.get("/api/experiments/nope/results").status_code == 404
