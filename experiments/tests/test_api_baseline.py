"""GET /api/stats/baseline: the MDE calculator's one-click fill, against pandas over the lake."""

import numpy as np
import pandas as pd
import pytest
from django.test import Client

from experiments.tests.builders import user
from experiments.tests.references import baseline_reference, exposed_units, per_unit_ratio
from warehouse.lake import contract, storage

EXPOSURES = contract.table("fact_experiment_exposures")
FUNNEL = contract.table("fact_funnel_events")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_fill_from_the_lake(celery_worker, lake_settings, settings):
    settings.QUERY_WAIT_SECONDS = 30
    client = Client()
    client.force_login(user("pm"))
    answer = client.get(
        "/api/stats/baseline", {"experiment_key": "checkout_button_color", "days": 7}
    )
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert body["window"] == {"start": "2026-01-25", "end": "2026-01-31", "days": 7}
    expected = baseline_reference(
        lake_settings, "checkout_button_color", "2026-01-25", "2026-01-31"
    )
    for name, value in expected.items():
        assert body["baseline"][name] == pytest.approx(value, rel=1e-9), name
    again = client.get(
        "/api/stats/baseline", {"experiment_key": "checkout_button_color", "days": 7}
    )
    assert again.json()["run_id"] == body["run_id"]  # served from the cache


@pytest.mark.django_db
def test_a_slow_query_answers_202_with_its_run(client, lake_settings, settings):
    settings.QUERY_WAIT_SECONDS = 0
    client.force_login(user("analyst"))
    answer = client.get("/api/stats/baseline", {"days": 3})
    assert answer.status_code == 202
    assert answer.json()["status"] in ("queued", "running") and answer.json()["run_id"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"days": 0}, "days"),
        ({"days": "x"}, "days"),
        ({"days": 91}, "days"),
        ({"experiment_key": "Bad Key"}, "experiment_key"),
    ],
)
def test_bad_input(client, lake_settings, params, field):
    client.force_login(user("analyst"))
    answer = client.get("/api/stats/baseline", params)
    assert answer.status_code == 400 and field in answer.json()


@pytest.mark.django_db
def test_roles(client, lake_settings):
    client.force_login(user("support"))
    assert client.get("/api/stats/baseline").status_code == 403


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("key", ["search_ranking_v2", ""])
def test_fill_a_catalogue_ratio_from_the_lake(celery_worker, lake_settings, settings, key):
    """A catalogue metric's ratio, the spread of its per-unit linearisation and that
    linearisation's correlation with the pre-period's, from pandas over the lake's files; of
    one experiment, or of every one (a unit is an identity in one experiment: an identity in
    two is two units)."""
    settings.QUERY_WAIT_SECONDS = 30
    client = Client()
    client.force_login(user("pm"))
    params = {"experiment_key": key, "days": 14, "metric": "search_to_view_ctr"}
    answer = client.get("/api/stats/baseline", params)
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert body["metric"] == "search_to_view_ctr"
    window = body["window"]
    exposures = pd.read_parquet(storage.table_dir(lake_settings, EXPOSURES))
    keys = [key] if key else sorted(exposures.experiment_key.unique())
    funnel = pd.read_parquet(storage.table_dir(lake_settings, FUNNEL))
    each = [exposed_units(lake_settings, k, window["start"], window["end"]) for k in keys]
    units = pd.concat(each, ignore_index=True)
    if not key:  # some identities are units of several experiments
        assert units.identity_id.duplicated().any()
    per_unit = pd.concat(
        [
            per_unit_ratio(
                one[one.variant == "control"],
                funnel,
                lambda e: (e.step == "profile_view").astype(float),
                lambda e: (e.step == "search").astype(float),
            )
            for one in each
        ],
        ignore_index=True,
    )
    assert per_unit.y.sum() > 0 and per_unit.y_pre.sum() > 0  # both periods have searches

    def linearised(x, y):
        return (x - x.sum() / y.sum() * y) / y.mean()

    after = linearised(per_unit.x, per_unit.y)
    before = linearised(per_unit.x_pre, per_unit.y_pre)
    found = body["baseline"]
    assert found["control_units"] == len(per_unit)
    assert found["daily_units"] == pytest.approx(len(units) / units.event_dt.nunique())
    assert found["conversion_rate"] is None
    assert found["mean"] == pytest.approx(per_unit.x.sum() / per_unit.y.sum(), rel=1e-9)
    assert found["std"] == pytest.approx(after.std(ddof=1), rel=1e-9)
    assert found["correlation"] == pytest.approx(np.corrcoef(after, before)[0, 1], rel=1e-6)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("metric", "message"),
    [
        ("supply_freshness", "measured for the whole marketplace"),
        ("no_such_metric", "unknown metric"),
    ],
)
def test_a_metric_that_cannot_be_split_by_variant_is_refused(
    client, lake_settings, metric, message
):
    client.force_login(user("analyst"))
    answer = client.get("/api/stats/baseline", {"metric": metric})
    assert answer.status_code == 400
    assert message in answer.json()["metric"][0]
