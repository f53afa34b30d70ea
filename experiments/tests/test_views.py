import pytest
from django.test import Client

from experiments.models import Experiment, GateOverride
from experiments.tests.builders import experiment, running, user

pytestmark = pytest.mark.django_db

FORM = {
    "key": "exp_form",
    "name": "Form experiment",
    "hypothesis": "Better ranking.",
    "variants": "control 0.5\ntreatment 0.5",
    "targeted_surfaces": "search_results",
    "primary_metric": "conversion",
    "secondary_metrics": "outcome_value",
    "guardrail_metrics": "",
    "alpha": "0.05",
    "power": "0.8",
    "mde_rel": "0.1",
    "baseline": "0.07",
    "baseline_std": "",
    "expected_correlation": "0",
    "max_duration_days": "60",
    "expected_daily_units": "2000",
}


def logged_in(client, role):
    person = user(role)
    client.force_login(person)
    return person


def test_list_page_with_bounded_queries(client, django_assert_max_num_queries):
    for i in range(5):
        running(f"exp_page_{i}")
    logged_in(client, "analyst")
    with django_assert_max_num_queries(10):
        page = client.get("/experiments/")
    assert page.status_code == 200
    text = page.content.decode()
    assert all(f"exp_page_{i}" in text for i in range(5))
    assert "New experiment" not in text  # analysts read


@pytest.mark.parametrize(
    "path",
    [
        "/experiments/",
        "/experiments/mde/",
        "/experiments/exp_view/",
        "/experiments/exp_view/results/",
    ],
)
@pytest.mark.parametrize(
    ("role", "status"), [("analyst", 200), ("pm", 200), ("support", 403), ("privacy", 403)]
)
def test_pages_by_role(client, path, role, status):
    running("exp_view")
    logged_in(client, role)
    assert client.get(path).status_code == status


def test_anonymous_users_are_sent_to_login(client):
    assert client.get("/experiments/").status_code == 302


def test_a_pm_creates_a_draft_from_the_form(client):
    pm = logged_in(client, "pm")
    blank = client.get("/experiments/new/", {"mde_rel": "0.05", "primary_metric": "outcome_value"})
    assert blank.status_code == 200
    assert blank.context["form"].initial["mde_rel"] == "0.05"
    answer = client.post("/experiments/new/", FORM | {"owner": pm.pk})
    assert answer.status_code == 302 and answer["Location"] == "/experiments/exp_form/"
    e = Experiment.objects.get(key="exp_form")
    assert e.variant_names == ("control", "treatment") and e.secondary_metrics == ["outcome_value"]
    assert e.changes.get().by == pm


def test_a_catalogue_ratio_is_offered_and_saved_as_the_primary_metric(client):
    pm = logged_in(client, "pm")
    page = client.get("/experiments/new/").content.decode()
    catalogue = page[page.index('<optgroup label="Catalogue metrics">') :]
    catalogue = catalogue[: catalogue.index("</optgroup>")]
    assert 'value="search_to_view_ctr"' in catalogue and 'value="refund_rate"' in catalogue
    # Whole-marketplace metrics cannot be split by variant: not offered.
    assert 'value="supply_freshness"' not in page
    ratio = {"primary_metric": "search_to_view_ctr", "baseline": "0.4", "baseline_std": "1.2"}
    answer = client.post("/experiments/new/", FORM | ratio | {"owner": pm.pk})
    assert answer.status_code == 302
    assert Experiment.objects.get(key="exp_form").metric_type == "ratio"


def test_form_errors_name_the_field(client):
    pm = logged_in(client, "pm")
    page = client.post(
        "/experiments/new/", FORM | {"owner": pm.pk, "variants": "control 0.5\nb 0.6"}
    )
    assert page.status_code == 200
    assert "weights: must sum to 1" in page.content.decode()
    page = client.post("/experiments/new/", FORM | {"owner": pm.pk, "baseline": "1.5"})
    assert page.context["form"].errors["baseline"]
    assert not Experiment.objects.exists()


def test_analysts_cannot_create_or_act(client):
    e = running("exp_analyst")
    logged_in(client, "analyst")
    assert client.get("/experiments/new/").status_code == 403
    assert client.post(f"/experiments/{e.key}/kill/", {"reason": "x"}).status_code == 403
    assert Experiment.objects.get(pk=e.pk).status == "running"


def test_edit_a_draft(client):
    e = experiment("exp_editing")
    pm = logged_in(client, "pm")
    assert 'value="exp_editing"' in client.get(f"/experiments/{e.key}/edit/").content.decode()
    answer = client.post(
        f"/experiments/{e.key}/edit/", FORM | {"owner": pm.pk, "key": "ignored", "name": "New name"}
    )
    assert answer.status_code == 302
    e.refresh_from_db()
    assert e.name == "New name" and e.key == "exp_editing"


def test_launch_past_the_gate_and_the_admin_override(client):
    slow = experiment("exp_gate", expected_daily_units=100, max_duration_days=30)
    logged_in(client, "pm")
    client.post(f"/experiments/{slow.key}/launch/")
    assert Experiment.objects.get(pk=slow.pk).status == "draft"
    page = client.get(f"/experiments/{slow.key}/").content.decode()
    assert "The sample cannot be reached in time" in page
    admin = Client()
    admin.force_login(user("admin"))
    admin.post(f"/experiments/{slow.key}/launch/", {"override_reason": "Holiday traffic coming"})
    assert Experiment.objects.get(pk=slow.pk).status == "running"
    assert GateOverride.objects.get().reason == "Holiday traffic coming"


def test_kill_is_one_post_with_csrf(client):
    e = running("exp_csrf")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user("pm"))
    assert strict.post(f"/experiments/{e.key}/kill/", {"reason": "no token"}).status_code == 403
    assert Experiment.objects.get(pk=e.pk).status == "running"
    logged_in(client, "pm")
    answer = client.post(f"/experiments/{e.key}/kill/", {"reason": "Errors"})
    assert answer.status_code == 302
    e.refresh_from_db()
    assert e.status == "stopped" and e.kill_reason == "Errors"
    page = client.get(f"/experiments/{e.key}/").content.decode()
    assert "Everyone gets control" in page and "Errors" in page


def test_conclude(client):
    e = running("exp_end")
    logged_in(client, "pm")
    client.post(f"/experiments/{e.key}/conclude/", {"conclusion": "Ship it"})
    assert Experiment.objects.get(pk=e.pk).status == "concluded"


def test_results_page_without_results(client):
    running("exp_none")
    logged_in(client, "pm")
    page = client.get("/experiments/exp_none/results/").content.decode()
    assert "No results yet" in page and "Compute now" in page


def test_the_mde_page(client):
    running("exp_mde")
    logged_in(client, "pm")
    page = client.get("/experiments/mde/").content.decode()
    assert "plotly.min.js" in page and "experiments/mde.js" in page
    assert 'value="exp_mde"' in page and "Create an experiment" in page


def test_every_error_of_the_form_shows_at_once(client):
    pm = logged_in(client, "pm")
    # A field the form refuses (alpha), a plan input the setup refuses (the MDE: checked even
    # though alpha is missing), a setup problem (weights) and a metric named twice.
    page = client.post(
        "/experiments/new/",
        FORM
        | {
            "owner": pm.pk,
            "alpha": "2",
            "mde_rel": "-1",
            "variants": "control 0.5\nb 0.6",
            "guardrail_metrics": "outcome_value",
        },
    )
    errors = page.context["form"].errors
    assert set(errors) >= {"alpha", "mde_rel", "variants", "guardrail_metrics"}
    assert errors["mde_rel"] == ["must be positive"]
    assert "must sum to 1" in errors["variants"][0]
    assert "named twice" in errors["guardrail_metrics"][0]
    assert not Experiment.objects.exists()


def test_check_the_plan_shows_it_without_saving(client):
    pm = logged_in(client, "pm")
    three = FORM | {"owner": pm.pk, "variants": "control 0.34\nb 0.33\nc 0.33", "check": "1"}
    page = client.post("/experiments/new/", three | {"expected_daily_units": "20,000"})
    assert page.status_code == 200 and not Experiment.objects.exists()
    sizing = page.context["sizing"]
    # Holm across two treatments: each sized at alpha / 2.
    assert sizing["comparisons"] == 2 and sizing["alpha_each"] == pytest.approx(0.025)
    html = page.content.decode()
    assert "Sized for 2 comparisons (Holm (family-wise error) across 2 treatments)" in html
    assert f"{sizing['plan'].n_total:,}" in html  # with separators
    # Without a correction the same plan is sized for one test, and needs fewer units.
    plain = client.post(
        "/experiments/new/", three | {"expected_daily_units": "20000", "correction": "none"}
    )
    assert plain.context["sizing"]["comparisons"] == 1
    assert plain.context["sizing"]["plan"].n_total < sizing["plan"].n_total


def test_admins_are_told_how_to_override_and_the_override_is_not_red(client):
    slow = experiment("exp_admin_gate", expected_daily_units=100, max_duration_days=30)
    admin = logged_in(client, "admin")
    answer = client.post(f"/experiments/{slow.key}/launch/", follow=True)
    shown = [str(m) for m in answer.context["messages"]]
    assert any("As an admin you may launch it all the same" in m for m in shown), shown
    assert not any("ask an admin" in m for m in shown)
    assert (
        client.post(
            f"/experiments/{slow.key}/launch/", {"override_reason": "Seasonal peak"}
        ).status_code
        == 302
    )
    page = client.get(f"/experiments/{slow.key}/").content.decode()
    assert "launch is refused" not in page
    assert "Launched past the gate: an admin overrode it." in page
    assert GateOverride.objects.get(experiment=slow).by == admin
