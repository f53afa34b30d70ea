"""SRM and guardrail alerts of the results job on lakes of the tests' own: one alert per
breach, one email, updated while it lasts, closed on recovery."""

import pandas as pd
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


def test_a_small_drift_of_the_split_warns_before_it_alarms(
    empty_lake, emails, django_capture_on_commit_callbacks
):
    e = running("exp_drift")
    # 1,000 against 1,130: chi-square p about 0.005, between the warning and the alarm.
    write_exposures(empty_lake, exposures(e.key, {"control": 1_130, "treatment": 1_000}))
    computation = compute(e, django_capture_on_commit_callbacks)
    assert 0.001 < computation.srm_p_value < 0.01 and not computation.srm_alert
    alert = Alert.objects.get(key="experiments:srm:exp_drift")
    assert alert.severity == "warning" and alert.detail.startswith("Units per variant drift")
    split = next(c for c in computation.health if c["check"] == "sample_ratio")
    assert split["status"] == "warning"


def test_units_seen_in_two_variants_are_left_out_and_alarm(
    empty_lake, emails, django_capture_on_commit_callbacks
):
    e = running("exp_multi")
    rows = exposures(e.key, {"control": 1_000, "treatment": 1_000})
    # 120 control units are also exposed to treatment, 40 of them at the very same instant:
    # neither the order nor a tie may choose their variant.
    twice = rows[rows.variant == "control"].head(120).copy()
    twice["variant"] = "treatment"
    twice.loc[twice.index[40:], "exposure_ts"] += pd.Timedelta(minutes=5)
    write_exposures(empty_lake, pd.concat([rows, twice], ignore_index=True))
    computation = compute(e, django_capture_on_commit_callbacks)
    assert computation.totals["control"]["units"] == 880
    assert computation.totals["treatment"]["units"] == 1_000
    check = next(c for c in computation.health if c["check"] == "multiple_variants")
    assert check["values"]["multi_variant_units"] == 120
    assert check["status"] == "alarm"  # 120 of 2,000 is 6%, above 5%
    alert = Alert.objects.get(key="experiments:health:exp_multi:multiple_variants")
    assert alert.is_open and alert.severity == "alarm"
    assert any("more than one variant" in m.subject for m in mail.outbox)


def test_a_breached_guardrail_kills_only_an_experiment_that_opted_in(
    empty_lake, emails, django_capture_on_commit_callbacks
):
    opted = running("exp_auto", guardrail_metrics=["outcome_value"], guardrail_auto_kill=True)
    plain = running("exp_plain", guardrail_metrics=["outcome_value"])
    breach = {"control": 2_000, "treatment": 2_000}
    write_exposures(
        empty_lake,
        pd.concat(
            [
                exposures(opted.key, breach, lift={"treatment": -0.2}),
                exposures(plain.key, breach, lift={"treatment": -0.2}, first_id=10_000),
            ]
        ),
    )
    compute(opted, django_capture_on_commit_callbacks)
    compute(plain, django_capture_on_commit_callbacks)
    plain.refresh_from_db()
    assert plain.is_running
    assert not Alert.objects.filter(key="experiments:auto-kill:exp_plain").exists()
    opted.refresh_from_db()
    assert opted.status == "stopped" and opted.killed_by is None
    assert opted.kill_reason == ("Automatic guardrail kill: Activity value breached by treatment.")
    change = opted.changes.get(action="killed")
    assert change.by is None and change.note == opted.kill_reason
    assert change.changes["status"] == ["running", "stopped"]
    alert = Alert.objects.get(key="experiments:auto-kill:exp_auto")
    assert alert.severity == "alarm" and "Everyone now gets control" in alert.detail
    # Killed: the next computation leaves it as it is.
    compute(opted, django_capture_on_commit_callbacks)
    assert opted.changes.filter(action="killed").count() == 1
