from datetime import UTC, date, datetime, timedelta

import pytest
from django.contrib.auth.models import User

from alerts.services import alert_raise, alert_resolve
from annotations.selectors import annotations_in
from annotations.services import note_create
from core.errors import InputError
from experiments import services as experiments
from experiments.models import Experiment
from experiments.tests.builders import running
from tests.support.users import user_with_role

DAY = date(2026, 1, 20)


def kinds(items) -> list[tuple[str, datetime, str]]:
    return [(a.kind, a.at, a.title) for a in items]


def at(day: date, hour: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def lifecycle(db) -> Experiment:
    """Launched on the 10th, killed, then concluded (both now, moved to known days)."""
    experiment = running("exp_annot", started=date(2026, 1, 10))
    pm = experiment.owner
    experiments.experiment_kill(experiment=experiment, user=pm, reason="Checkout errors")
    experiments.experiment_conclude(experiment=experiment, user=pm, conclusion="Ship control")
    Experiment.objects.filter(pk=experiment.pk).update(
        killed_at=at(DAY, 14), concluded_at=at(DAY + timedelta(days=3), 9)
    )
    experiment.refresh_from_db()
    return experiment


def test_experiment_launch_kill_and_conclusion_at_their_times(lifecycle, ana):
    items = annotations_in(start=date(2026, 1, 1), end=date(2026, 1, 31), user=ana)
    title = "Experiment exp_annot (exp_annot)"
    assert kinds(items) == [
        ("experiment_launch", at(date(2026, 1, 10)), title),
        ("experiment_kill", at(DAY, 14), title),
        ("experiment_conclusion", at(date(2026, 1, 23), 9), title),
    ]
    assert [a.text for a in items] == ["It helps.", "Checkout errors", "Ship control"]
    assert {a.link for a in items} == {"/experiments/exp_annot/"}


def test_a_window_holds_its_whole_days_and_nothing_else(lifecycle, ana):
    assert kinds(annotations_in(start=DAY, end=DAY, user=ana)) == [
        ("experiment_kill", at(DAY, 14), "Experiment exp_annot (exp_annot)")
    ]
    assert annotations_in(start=date(2026, 1, 11), end=date(2026, 1, 19), user=ana) == []
    assert annotations_in(start=date(2026, 1, 24), end=date(2026, 2, 28), user=ana) == []


@pytest.mark.parametrize("role", ["support", "finance", "privacy"])
def test_roles_that_may_not_open_experiments_see_none_of_them(lifecycle, role):
    user = user_with_role(role)
    items = annotations_in(start=date(2026, 1, 1), end=date(2026, 1, 31), user=user)
    assert not [a for a in items if a.kind.startswith("experiment")]


def test_pipeline_alarms_raised_and_resolved(ana):
    alarm, _ = alert_raise(
        key="loss:hour", source="pipeline", severity="alarm", title="Loss over budget"
    )
    alert_resolve(key="loss:hour")
    alarm.refresh_from_db()
    # An experiment's alert (an SRM) is not a pipeline alarm.
    alert_raise(key="srm:exp_x", source="experiments", severity="alarm", title="SRM")
    today = alarm.opened_at.date()
    items = annotations_in(start=today, end=today, user=ana)
    assert kinds(items) == [
        ("alarm_raised", alarm.opened_at, "Loss over budget (alarm)"),
        ("alarm_resolved", alarm.closed_at, "Loss over budget (alarm)"),
    ]
    # Without a role no one reads pipeline health, nor its alarms.
    nobody = User.objects.create_user("nobody")
    assert annotations_in(start=today, end=today, user=nobody) == []


def test_notes_of_every_chart_the_metric_or_the_dashboard(ana, bob):
    everywhere = note_create(author=ana, at=at(DAY, 8), text="Campaign")
    seo = note_create(author=bob, at=at(DAY, 9), text="SEO fix", metric="seo_nonbrand_clicks")
    board = note_create(author=bob, at=at(DAY, 10), text="Growth", dashboard="growth")
    other = note_create(author=bob, at=at(DAY, 11), text="Other", metric="refund_rate")

    def texts(**scope) -> list[str]:
        return [a.text for a in annotations_in(start=DAY, end=DAY, user=ana, **scope)]

    assert texts() == ["Campaign"]
    assert texts(metric="seo_nonbrand_clicks") == ["Campaign", "SEO fix"]
    assert texts(dashboard="growth") == ["Campaign", "SEO fix", "Growth"]
    items = annotations_in(start=DAY, end=DAY, user=ana, metric="refund_rate")
    assert [(a.kind, a.title, a.note) for a in items] == [
        ("note", "ana", everywhere),
        ("note", "bob", other),
    ]
    assert seo.metric and board.dashboard


def test_a_metric_or_dashboard_the_user_may_not_read_is_unknown(ana):
    with pytest.raises(InputError) as err:
        annotations_in(start=DAY, end=DAY, user=ana, metric="sla_breach_count")
    assert (err.value.field, err.value.message) == ("metric", "no metric 'sla_breach_count'")
    with pytest.raises(InputError) as err:
        annotations_in(start=DAY, end=DAY, user=ana, dashboard="support")
    assert err.value.field == "dashboard"
