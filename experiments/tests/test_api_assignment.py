import hashlib
import io

import pytest
from django.core.management import call_command

from experiments import services
from experiments.tests.builders import experiment, running, user

pytestmark = pytest.mark.django_db

HUMAN = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Mobile/15E148 Safari/604.1"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def token(name: str, scope: str) -> str:
    out = io.StringIO()
    call_command("service_token", "create", name, "--scope", scope, stdout=out)
    return out.getvalue().strip()


def expected_variant(e, unit: str) -> str:
    digest = hashlib.sha256(f"{e.key}:{e.salt}:{unit}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % 10_000
    return "control" if bucket < 5_000 else "treatment"


def ask(client, key, unit, agent=HUMAN, **headers):
    return client.get(
        f"/api/experiments/{key}/assignment", {"unit": unit}, HTTP_USER_AGENT=agent, **headers
    )


@pytest.fixture
def app_token():
    return {"HTTP_AUTHORIZATION": f"Bearer {token('search-app', 'assignment:read')}"}


def test_apps_get_the_hashed_variant_with_a_service_token(client, app_token):
    e = running("exp_assign")
    answers = [ask(client, e.key, f"idn_{i}", **app_token) for i in range(40)]
    assert {a.status_code for a in answers} == {200}
    assert [a.json()["variant"] for a in answers] == [
        expected_variant(e, f"idn_{i}") for i in range(40)
    ]
    assert {"control", "treatment"} == {a.json()["variant"] for a in answers}
    assert answers[0].json()["reason"] == "assigned"


def test_a_warm_call_reads_the_token_and_nothing_else(
    client, app_token, django_assert_max_num_queries
):
    e = running("exp_fast")
    ask(client, e.key, "warm-up", **app_token)
    with django_assert_max_num_queries(1):
        assert ask(client, e.key, "idn_1", **app_token).status_code == 200


def test_crawlers_get_control(client, app_token):
    e = running("exp_crawl")
    for i in range(30):
        body = ask(client, e.key, f"idn_{i}", agent=GOOGLEBOT, **app_token).json()
        assert (body["variant"], body["reason"]) == ("control", "crawler")
    # A server calling for a browser may pass the browser's agent along.
    body = client.get(
        f"/api/experiments/{e.key}/assignment",
        {"unit": "idn_1", "user_agent": GOOGLEBOT},
        HTTP_USER_AGENT="search-app/1.0",
        **app_token,
    ).json()
    assert body["reason"] == "crawler"


def test_killed_means_control_at_once(client, app_token, django_capture_on_commit_callbacks):
    e = running("exp_killed")
    units = [f"idn_{i}" for i in range(40)]
    before = [ask(client, e.key, u, **app_token).json()["variant"] for u in units]
    assert "treatment" in before
    with django_capture_on_commit_callbacks(execute=True):
        services.experiment_kill(experiment=e, user=user("pm"), reason="Broken layout")
    after = [ask(client, e.key, u, **app_token).json() for u in units]
    assert {a["variant"] for a in after} == {"control"}
    assert {a["reason"] for a in after} == {"not_running"}


def test_drafts_give_control(client, app_token):
    e = experiment("exp_draft")
    assert ask(client, e.key, "idn_1", **app_token).json()["reason"] == "not_running"


def test_bad_requests(client, app_token):
    running("exp_bad_requests")
    missing = client.get("/api/experiments/exp_bad_requests/assignment", **app_token)
    assert missing.status_code == 400 and "unit" in missing.json()
    assert ask(client, "exp_bad_requests", "x" * 201, **app_token).status_code == 400
    assert ask(client, "no_such_experiment", "idn_1", **app_token).status_code == 404


def test_tokens_need_the_scope(client):
    running("exp_scope")
    wrong = {"HTTP_AUTHORIZATION": f"Bearer {token('consent-app', 'consent:read')}"}
    assert ask(client, "exp_scope", "idn_1", **wrong).status_code == 403
    bogus = {"HTTP_AUTHORIZATION": "Bearer pst_not-a-token"}
    # DRF answers 403 rather than 401 because session authentication comes first.
    assert ask(client, "exp_scope", "idn_1", **bogus).status_code in (401, 403)
    assert ask(client, "exp_scope", "idn_1").status_code in (401, 403)


@pytest.mark.parametrize(("role", "status"), [("analyst", 200), ("pm", 200), ("support", 403)])
def test_people_with_an_experiments_role_may_ask_too(client, role, status):
    running("exp_people")
    client.force_login(user(role))
    assert ask(client, "exp_people", "idn_1").status_code == status
