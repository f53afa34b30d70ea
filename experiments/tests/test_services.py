import math

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from statsmodels.stats.power import zt_ind_solve_power

from alerts.models import Alert
from alerts.services import alert_raise
from core.errors import InputError
from experiments import selectors, services
from experiments.models import Experiment, ExperimentChange, GateOverride, ProtectedSurface
from experiments.tests.builders import experiment, running, user

pytestmark = pytest.mark.django_db


def actions(e: Experiment) -> list[str]:
    return list(e.changes.order_by("id").values_list("action", flat=True))


def test_protected_surfaces_are_seeded():
    seeded = dict(ProtectedSurface.objects.values_list("slug", "kind"))
    assert seeded["consent_banner"] == "consent_component"
    assert seeded["privacy_policy"] == "legal_text"


def test_create_logs_every_field_and_publishes_the_assignment_config(
    django_capture_on_commit_callbacks,
):
    pm = user("pm")
    with django_capture_on_commit_callbacks(execute=True):
        e = experiment("exp_create", owner=pm)
    change = e.changes.get()
    assert change.action == "created" and change.by == pm
    assert change.changes["key"] == [None, "exp_create"]
    assert change.changes["variants"] == [None, [["control", 0.5], ["treatment", 0.5]]]
    assert change.changes["status"] == [None, "draft"]
    config = cache.get(selectors.assignment_cache_key("exp_create"))
    assert config.variants == ("control", "treatment") and not config.running


def test_edit_records_only_what_changed(django_capture_on_commit_callbacks):
    e = experiment("exp_edit")
    admin = user("admin")
    fields = {name: getattr(e, name) for name in services.EXPERIMENT_FIELDS}
    with django_capture_on_commit_callbacks(execute=True):
        services.experiment_update(
            experiment=e,
            user=admin,
            owner=e.owner,
            fields=fields | {"mde_rel": 0.2, "name": "Renamed"},
            variants=[("control", 0.4), ("treatment", 0.6)],
        )
    change = e.changes.filter(action="edited").get()
    assert change.by == admin
    assert change.changes == {
        "mde_rel": [0.1, 0.2],
        "name": ["Experiment exp_edit", "Renamed"],
        "variants": [
            [["control", 0.5], ["treatment", 0.5]],
            [["control", 0.4], ["treatment", 0.6]],
        ],
    }
    assert cache.get(selectors.assignment_cache_key("exp_edit")).weights == (0.4, 0.6)


def test_change_log_is_append_only():
    change = experiment("exp_log").changes.get()
    change.note = "rewritten"
    with pytest.raises(ValidationError):
        change.save()
    with pytest.raises(ValidationError):
        change.delete()


def test_launch_within_the_gate_plans_the_sample(django_capture_on_commit_callbacks):
    e = experiment("exp_launch", expected_daily_units=2_000, max_duration_days=30)
    with django_capture_on_commit_callbacks(execute=True):
        e = services.experiment_launch(experiment=e, user=e.owner)
    plan = e.plan()
    assert e.status == "running" and e.started_at is not None
    assert e.planned_n_per_variant == list(plan.n_per_variant)
    assert e.planned_days == plan.days <= 30
    assert actions(e) == ["created", "launched"]
    assert e.changes.get(action="launched").changes["status"] == ["draft", "running"]
    assert cache.get(selectors.assignment_cache_key("exp_launch")).running


def test_gate_refuses_when_the_sample_cannot_arrive_in_time():
    # About 44,000 units at 100 a day: some 440 days, far beyond 30.
    e = experiment("exp_slow", expected_daily_units=100, max_duration_days=30)
    with pytest.raises(InputError) as refused:
        services.experiment_launch(experiment=e, user=user("pm"))
    assert refused.value.field == "max_duration_days"
    assert "more than the maximum duration of 30 days" in refused.value.message
    e.refresh_from_db()
    assert e.status == "draft" and actions(e) == ["created"]


def test_only_an_admin_overrides_the_gate_and_the_reason_is_kept():
    e = experiment("exp_override", expected_daily_units=100, max_duration_days=30)
    with pytest.raises(InputError) as refused:
        services.experiment_launch(experiment=e, user=user("pm"), override_reason="please")
    assert refused.value.field == "override_reason"
    admin = user("admin")
    e = services.experiment_launch(
        experiment=e, user=admin, override_reason="  Seasonal traffic doubles next week.  "
    )
    assert e.status == "running"
    override = GateOverride.objects.get(experiment=e)
    assert override.by == admin and override.reason == "Seasonal traffic doubles next week."
    assert override.required_days == e.plan().days > 30
    assert actions(e) == ["created", "gate_overridden", "launched"]
    logged = e.changes.get(action="gate_overridden")
    assert logged.note == "Seasonal traffic doubles next week." and logged.by == admin


@pytest.mark.parametrize("surface", ["consent_banner", "privacy_policy", "Terms_Of_Service"])
def test_protected_surfaces_are_never_launched_even_by_an_admin(surface):
    ProtectedSurface.objects.get_or_create(
        slug=surface.lower(), defaults={"name": surface, "kind": "legal_text"}
    )
    e = experiment("exp_protected", targeted_surfaces=["search_results", surface.lower()])
    with pytest.raises(InputError) as refused:
        services.experiment_launch(experiment=e, user=user("admin"), override_reason="I insist")
    assert refused.value.field == "targeted_surfaces"
    assert surface.lower() in refused.value.message
    assert Experiment.objects.get(pk=e.pk).status == "draft"


def test_kill_stops_at_once_and_records_who_and_why(django_capture_on_commit_callbacks):
    e = running("exp_kill")
    pm = user("pm", "pm-2")
    with pytest.raises(InputError):
        services.experiment_kill(experiment=e, user=pm, reason="   ")
    with django_capture_on_commit_callbacks(execute=True):
        e = services.experiment_kill(experiment=e, user=pm, reason="Checkout errors up 4x")
    assert e.status == "stopped" and e.killed_by == pm and e.kill_reason == "Checkout errors up 4x"
    assert not cache.get(selectors.assignment_cache_key("exp_kill")).running
    killed = e.changes.get(action="killed")
    assert killed.by == pm and killed.note == "Checkout errors up 4x"
    assert killed.changes["status"] == ["running", "stopped"]
    with pytest.raises(InputError):
        services.experiment_kill(experiment=e, user=pm, reason="again")


def test_conclude_closes_the_experiments_alerts():
    e = running("exp_conclude")
    for key in (
        selectors.srm_alert_key(e),
        selectors.guardrail_alert_key(e, "outcome_value", "treatment"),
    ):
        alert_raise(key=key, source="experiments", severity="alarm", title="x")
    other = alert_raise(
        key="experiments:srm:exp_conclude_2", source="experiments", severity="alarm", title="y"
    )[0]
    e = services.experiment_conclude(experiment=e, user=user("pm"), conclusion="Ship treatment.")
    assert e.status == "concluded" and e.conclusion == "Ship treatment."
    assert Alert.objects.filter(closed_at__isnull=True).get() == other


@pytest.mark.parametrize(
    ("changes", "variants", "field"),
    [
        ({}, [("control", 1.0)], "variants"),
        ({}, [("control", 0.5), ("control", 0.5)], "variants"),
        ({}, [("control", 0.5), ("b", 0.6)], "variants"),
        ({}, [("control", 0.99995), ("b", 0.00005)], "variants"),
        # A primary metric must be computed per variant; a ratio is sized from its spread.
        ({"primary_metric": "supply_freshness"}, None, "primary_metric"),
        ({"primary_metric": "search_to_view_ctr", "baseline": 0.4}, None, "baseline_std"),
        ({"guardrail_metrics": ["no_such_metric"]}, None, "guardrail_metrics"),
        # A whole-marketplace metric (no experiment_unit) could never be computed per variant.
        ({"guardrail_metrics": ["supply_freshness"]}, None, "guardrail_metrics"),
        ({"secondary_metrics": ["conversion"]}, None, "secondary_metrics"),
        ({"targeted_surfaces": ["Search Results"]}, None, "targeted_surfaces"),
        ({"baseline": 1.5}, None, "baseline"),
        ({"primary_metric": "outcome_value", "baseline": 20.0}, None, "baseline_std"),
        (
            {
                "primary_metric": "outcome_value",
                "baseline": 20.0,
                "baseline_std": 5.0,
                "expected_correlation": 1.0,
            },
            None,
            "expected_correlation",
        ),
    ],
)
def test_bad_setups_are_refused_naming_the_field(changes, variants, field):
    arguments = {} if variants is None else {"variants": variants}
    with pytest.raises(InputError) as refused:
        experiment("exp_bad", **arguments, **changes)
    assert refused.value.field == field
    assert not Experiment.objects.filter(key="exp_bad").exists()


def test_catalogue_metrics_split_by_unit_are_accepted():
    e = experiment(
        "exp_catalogue",
        secondary_metrics=["search_to_view_ctr"],
        guardrail_metrics=["refund_rate", "outcome_value"],
    )
    assert e.metrics() == [
        ("conversion", "primary"),
        ("search_to_view_ctr", "secondary"),
        ("refund_rate", "guardrail"),
        ("outcome_value", "guardrail"),
    ]


def test_a_catalogue_ratio_can_be_primary_and_is_sized_as_a_mean_of_its_linearisation():
    e = experiment(
        "exp_ratio_primary",
        primary_metric="search_to_view_ctr",
        baseline=0.4,
        baseline_std=1.2,
        expected_correlation=0.5,
        mde_rel=0.05,
        expected_daily_units=20_000,
    )
    assert e.metric_type == "ratio"
    assert e.metrics()[0] == ("search_to_view_ctr", "primary")
    # The delta method: Var(ratio) = std^2 / n, so the test of a 5% lift on 0.4 is a z-test of
    # the standardized effect 0.02 / 1.2, shrunk by CUPED's 1 - rho^2.
    effect = 0.05 * 0.4 / (1.2 * math.sqrt(1 - 0.5**2))
    per_arm = zt_ind_solve_power(effect_size=effect, alpha=0.025, power=0.8, alternative="larger")
    assert abs(e.plan().n_per_variant[0] - math.ceil(per_arm)) <= 1


@pytest.mark.parametrize("key", ["mde", "new"])
def test_keys_of_pages_are_reserved(key):
    with pytest.raises(InputError) as refused:
        experiment(key)
    assert refused.value.field == "key"


def test_a_running_experiment_cannot_be_edited():
    e = running("exp_frozen")
    fields = {name: getattr(e, name) for name in services.EXPERIMENT_FIELDS}
    with pytest.raises(InputError) as refused:
        services.experiment_update(
            experiment=e,
            user=e.owner,
            owner=e.owner,
            fields=fields,
            variants=[("control", 0.5), ("treatment", 0.5)],
        )
    assert refused.value.field == "status"
    assert ExperimentChange.objects.filter(experiment=e, action="edited").count() == 0
