import io

import pytest
from django.core.management import CommandError, call_command

from demo_lake.exposures import EXPERIMENTS
from experiments.models import Experiment, ResultComputation
from experiments.tests.builders import user

pytestmark = pytest.mark.django_db


def test_registers_the_lake_experiments_once(exposure_lake):
    user("pm", "pm")
    call_command("demo_experiments", stdout=io.StringIO())
    for spec in EXPERIMENTS:
        e = Experiment.objects.get(key=spec.key)
        assert e.status == "running"
        assert e.variant_names == spec.variants and e.weights == spec.weights
        assert e.computations.get().status == "succeeded"
    # The small lake is 14 days up to 2026-01-31: search_ranking_v2 starts a quarter in.
    assert str(Experiment.objects.get(key="search_ranking_v2").started_at.date()) == "2026-01-21"
    out = io.StringIO()
    call_command("demo_experiments", stdout=out)
    assert out.getvalue().count("already registered") == 3
    assert Experiment.objects.count() == 3 and ResultComputation.objects.count() == 3


def test_needs_its_owner_and_a_lake(empty_lake):
    with pytest.raises(CommandError, match="no user 'pm'"):
        call_command("demo_experiments", stdout=io.StringIO())
    user("pm", "pm")
    with pytest.raises(CommandError, match="no demo lake"):
        call_command("demo_experiments", stdout=io.StringIO())
