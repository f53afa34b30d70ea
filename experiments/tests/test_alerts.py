"""SRM and guardrail alerts of the results job on lakes of the tests' own: one alert per
breach, one email, updated while it lasts, closed on recovery."""

import pytest
from django.core import mail

from alerts.models import Alert
from experiments.results import results_compute
from experiments.tests.builders import exposures, running, write_exposures

pytestmark = pytest.mark.django_db


@pytest.fixture
def emails(settings):
    settings.ALERT_EMAILS = ["experiments@example.com"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def compute(experiment, capture):
    with capture(execute=True):
        return results_compute(experiment_id=experiment.pk)


def test_a_broken_split_opens_one_srm_alert_until_it_is_fixed(
    empty_lake, emails, django_capture_on_commit_callbacks
):
    e = running("exp_srm")
    # 1,200 against 1,000 with a 50/50 split: chi-square p about 1e-5.
    write_exposures(empty_lake, exposures(e.key, {"control": 1_200, "treatment": 1_000}))
    first = compute(e, django_capture_on_commit_callbacks)
    assert first.srm_alert and first.srm_p_value < 0.001
    alert = Alert.objects.get()
    assert alert.is_open and alert.key == "experiments:srm:exp_srm" and alert.severity == "alarm"
    assert "exp_srm" in alert.title and alert.link == "/experiments/exp_srm/results/"
    assert len(mail.outbox) == 1

    compute(e, django_capture_on_commit_callbacks)
    alert.refresh_from_db()
    assert Alert.objects.count() == 1 and alert.is_open and alert.updates == 1
    assert len(mail.outbox) == 1

    # The pipeline fixes the split: new files replace the day's exposures.
    write_exposures(empty_lake, exposures(e.key, {"control": 1_000, "treatment": 1_000}, seed=2))
    fixed = compute(e, django_capture_on_commit_callbacks)
    assert not fixed.srm_alert
    alert.refresh_from_db()
    assert not alert.is_open and Alert.objects.count() == 1


def test_a_guardrail_breach_alerts_and_recovers(
    empty_lake, emails, django_capture_on_commit_callbacks
):
    e = running("exp_guard", guardrail_metrics=["outcome_value"])
    write_exposures(
        empty_lake,
        exposures(e.key, {"control": 2_000, "treatment": 2_000}, lift={"treatment": -0.2}),
    )
    breached = compute(e, django_capture_on_commit_callbacks)
    snapshot = breached.snapshots.get(metric="outcome_value")
    assert snapshot.guardrail_breached and snapshot.ci_high < 0
    alert = Alert.objects.get(key="experiments:guardrail:exp_guard:outcome_value:treatment")
    assert alert.is_open and len(mail.outbox) == 1
    assert any(
        line.startswith("Guardrail Activity value breached by treatment")
        for line in breached.decision
    )

    write_exposures(empty_lake, exposures(e.key, {"control": 2_000, "treatment": 2_000}, seed=3))
    compute(e, django_capture_on_commit_callbacks)
    alert.refresh_from_db()
    assert not alert.is_open
    assert not Alert.objects.filter(closed_at__isnull=True).exists()
