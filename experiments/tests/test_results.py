"""The results job end to end on a copy of the demo lake, every number against an independent
computation: pandas over the lake's files, then scipy and statsmodels."""

import io

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from django.core.management import call_command
from django.test import Client
from scipy import stats as sps
from statsmodels.stats import proportion as sm_proportion

from experiments.models import Experiment, ResultComputation
from experiments.results import results_compute
from experiments.tests.builders import user
from experiments.tests.references import welch_on_ratios
from warehouse.lake import contract, storage
from warehouse.models import QueryRun

pytestmark = pytest.mark.django_db

EXPOSURES = contract.table("fact_experiment_exposures")
# The demo lake's crawlers, as its generator writes them (not the portal's list).
LAKE_CRAWLERS = "Googlebot|bingbot"


@pytest.fixture
def demo(exposure_lake, client):
    user("pm", "pm")
    call_command("demo_experiments", stdout=io.StringIO())
    client.force_login(user("analyst"))
    return exposure_lake


def first_exposures(root, experiment: Experiment, computation: ResultComputation) -> pd.DataFrame:
    frame = pd.read_parquet(storage.table_dir(root, EXPOSURES))
    frame["event_dt"] = pd.to_datetime(frame["event_dt"].astype(str)).dt.date
    frame = frame[
        (frame.experiment_key == experiment.key)
        & (frame.event_dt >= computation.window_start)
        & (frame.event_dt <= computation.window_end)
        & ~frame.user_agent.str.contains(LAKE_CRAWLERS)
    ]
    return frame.sort_values(["exposure_ts", "variant"]).drop_duplicates("identity_id")


def results(client, key):
    answer = client.get(f"/api/experiments/{key}/results")
    assert answer.status_code == 200
    return answer.json()


def by_variant(metric: dict) -> dict[str, dict]:
    return {c["variant"]: c for c in metric["comparisons"]}


@pytest.mark.parametrize("key", ["search_ranking_v2", "checkout_button_color", "pricing_page_3way"])
def test_split_and_conversion_match_the_references(demo, client, key):
    experiment = Experiment.objects.get(key=key)
    computation = experiment.computations.get()
    body = results(client, key)
    rows = first_exposures(demo, experiment, computation)
    counts = rows.groupby("variant").size()
    names, weights = experiment.variant_names, np.array(experiment.weights)
    assert body["units"] == {name: int(counts.get(name, 0)) for name in names}
    chi = sps.chisquare([counts[n] for n in names], counts.sum() * weights)
    assert body["srm"]["p_value"] == pytest.approx(chi.pvalue, rel=1e-9)
    conversion = next(m for m in body["metrics"] if m["metric"] == "conversion")
    control = rows[rows.variant == names[0]]
    assert conversion["control_mean"] == pytest.approx(control.converted.mean())
    rng = np.random.default_rng(1)
    draws_c = rng.beta(1 + control.converted.sum(), 1 + (~control.converted).sum(), 200_000)
    for name, c in by_variant(conversion).items():
        arm = rows[rows.variant == name]
        test = sm_proportion.test_proportions_2indep(
            arm.converted.sum(), len(arm), control.converted.sum(), len(control), method="wald"
        )
        interval = sm_proportion.confint_proportions_2indep(
            arm.converted.sum(), len(arm), control.converted.sum(), len(control), method="wald"
        )
        assert c["lift_abs"] == pytest.approx(arm.converted.mean() - control.converted.mean())
        assert c["p_value"] == pytest.approx(test.pvalue, rel=1e-9)
        assert c["ci_abs"] == pytest.approx(list(interval), rel=1e-9)
        draws = rng.beta(1 + arm.converted.sum(), 1 + (~arm.converted).sum(), 200_000)
        assert c["prob_beat_control"] == pytest.approx((draws > draws_c).mean(), abs=0.005)


def test_cuped_outcome_value_matches_ols_and_welch(demo, client):
    experiment = Experiment.objects.get(key="search_ranking_v2")
    computation = experiment.computations.get()
    rows = first_exposures(demo, experiment, computation)
    metric = next(
        m for m in results(client, experiment.key)["metrics"] if m["metric"] == "outcome_value"
    )
    (c,) = metric["comparisons"]
    y, x = rows.outcome_value.to_numpy(), rows.pre_value.to_numpy()
    treated = (rows.variant == "treatment").to_numpy(dtype=float)
    fit = sm.OLS(y, np.column_stack([np.ones_like(y), treated, x - x.mean()])).fit()
    assert metric["theta"] == pytest.approx(fit.params[2], rel=1e-9)
    assert c["lift_abs"] == pytest.approx(fit.params[1], rel=1e-8)
    adjusted = y - metric["theta"] * (x - x.mean())
    welch = sps.ttest_ind(adjusted[treated == 1], adjusted[treated == 0], equal_var=False)
    assert c["p_value"] == pytest.approx(welch.pvalue, rel=1e-6)
    assert c["ci_abs"] == pytest.approx(list(welch.confidence_interval(0.95)), rel=1e-6)
    assert c["variant_mean"] == pytest.approx(y[treated == 1].mean())
    raw = sps.ttest_ind(y[treated == 1], y[treated == 0], equal_var=False)
    se_raw = raw.confidence_interval(0.95).high - raw.confidence_interval(0.95).low
    se_adj = c["ci_abs"][1] - c["ci_abs"][0]
    # Interval widths differ by the t quantiles' degrees of freedom only (thousands of units).
    assert c["variance_reduction"] == pytest.approx(1 - (se_adj / se_raw) ** 2, abs=1e-3)
    assert 0.2 < c["variance_reduction"] < 0.5


def test_the_page_shows_the_same_numbers(demo, client):
    body = results(client, "checkout_button_color")
    page = client.get("/experiments/checkout_button_color/results/").content.decode()
    c = body["metrics"][0]["comparisons"][0]
    assert f"{c['lift_rel'] * 100:+.1f}%" in page
    assert f"{c['p_value']:.4f}" in page
    assert body["decision"][0] in page.replace("&#x27;", "'")
    assert "plotly.min.js" in page and 'data-figure="posterior-figure"' in page
    # A catalogue guardrail, lower-is-better, shown with its title and as a percentage.
    refund = next(m for m in body["metrics"] if m["metric"] == "refund_rate")
    assert refund["role"] == "guardrail" and refund["title"] == "Refund rate"
    assert f"{refund['control_mean'] * 100:.2f}%" in page


def test_results_are_written_to_the_lake(demo, client):
    frame = pd.read_parquet(storage.table_dir(demo, contract.table("fact_experiment_result")))
    assert set(frame.experiment_key) == {
        "search_ranking_v2",
        "checkout_button_color",
        "pricing_page_3way",
    }
    body = results(client, "pricing_page_3way")
    for metric in body["metrics"]:
        for c in metric["comparisons"]:
            row = frame[
                (frame.experiment_key == "pricing_page_3way")
                & (frame.metric == metric["metric"])
                & (frame.variant == c["variant"])
            ]
            assert len(row) == 1
            assert row.lift_abs.iloc[0] == pytest.approx(c["lift_abs"])
            assert row.ci_low.iloc[0] == pytest.approx(c["ci_abs"][0])
            assert row.p_value.iloc[0] == pytest.approx(c["p_value"])


def test_every_computation_is_a_recorded_query_run(demo):
    runs = QueryRun.objects.filter(label__startswith="experiment results")
    exposures = runs.exclude(label__contains=" / ")
    assert exposures.count() == 3
    assert [run.tables for run in exposures] == [["fact_experiment_exposures"]] * 3
    assert {c.query_run_id for c in ResultComputation.objects.all()} == set(
        exposures.values_list("pk", flat=True)
    )
    # One more run per catalogue metric an experiment names, reading the metric's table too.
    catalogue = {run.label: sorted(run.tables) for run in runs.filter(label__contains=" / ")}
    funnel = ["fact_experiment_exposures", "fact_funnel_events"]
    assert catalogue == {
        "experiment results: search_ranking_v2 / search_to_view_ctr": funnel,
        "experiment results: search_ranking_v2 / view_to_message_rate": funnel,
        "experiment results: checkout_button_color / checkout_completion_rate": funnel,
        "experiment results: checkout_button_color / refund_rate": [
            "fact_bookings",
            "fact_experiment_exposures",
        ],
    }
    assert set(runs.values_list("status", flat=True)) == {QueryRun.Status.SUCCEEDED}


def test_an_unchanged_rerun_the_same_day_leaves_the_lake_alone(demo):
    experiment = Experiment.objects.get(key="checkout_button_color")
    mark = storage.read_watermark(demo)
    again = results_compute(experiment_id=experiment.pk)
    assert again.lake_status == "written (unchanged since the last write today)"
    assert storage.read_watermark(demo) == mark
    assert experiment.computations.count() == 2


def test_a_failed_query_is_recorded_and_can_be_rerun(demo, client, settings):
    experiment = Experiment.objects.get(key="checkout_button_color")
    settings.LAKE_ROOT = demo / "missing"
    failed = results_compute(experiment_id=experiment.pk)
    assert failed.status == "failed" and "no data in the lake" in failed.error
    body = results(client, experiment.key)
    assert "no data in the lake" in body["last_failure"]["error"]
    assert body["computed_at"] is not None  # the last good numbers are still served
    settings.LAKE_ROOT = demo
    assert results_compute(experiment_id=experiment.pk).status == "succeeded"


def per_unit_ratio(
    units: pd.DataFrame, events: pd.DataFrame, numerator, denominator
) -> pd.DataFrame:
    """Each exposed unit's numerator and denominator from the day of its first exposure on,
    0 / 0 for a unit without events: the metric's definition, re-derived in pandas."""
    events = events.merge(
        units[["identity_id", "event_dt"]], on="identity_id", suffixes=("", "_exposed")
    )
    events = events[events.event_dt >= events.event_dt_exposed]
    sums = events.assign(x=numerator(events), y=denominator(events)).groupby("identity_id")
    sums = sums[["x", "y"]].sum()
    joined = units[["identity_id", "variant"]].merge(sums, on="identity_id", how="left")
    return joined.fillna({"x": 0.0, "y": 0.0})


FUNNEL = contract.table("fact_funnel_events")
BOOKINGS = contract.table("fact_bookings")


@pytest.mark.parametrize(
    ("key", "slug", "table", "numerator", "denominator"),
    [
        (
            "search_ranking_v2",
            "search_to_view_ctr",
            FUNNEL,
            lambda e: (e.step == "profile_view").astype(float),
            lambda e: (e.step == "search").astype(float),
        ),
        (
            "checkout_button_color",
            "refund_rate",
            BOOKINGS,
            lambda e: e.is_refunded.astype(float),
            lambda e: pd.Series(1.0, index=e.index),
        ),
    ],
)
def test_catalogue_metrics_per_variant_match_pandas(
    demo, client, key, slug, table, numerator, denominator
):
    experiment = Experiment.objects.get(key=key)
    computation = experiment.computations.get()
    units = first_exposures(demo, experiment, computation)
    events = pd.read_parquet(storage.table_dir(demo, table))
    events["event_dt"] = pd.to_datetime(events["event_dt"].astype(str)).dt.date
    events = events[
        (events.event_dt >= computation.window_start) & (events.event_dt <= computation.window_end)
    ]
    per_unit = per_unit_ratio(units, events, numerator, denominator)
    assert per_unit.x.sum() > 0 and per_unit.y.sum() > 20  # something to compare
    metric = next(m for m in results(client, key)["metrics"] if m["metric"] == slug)
    assert metric["metric_type"] == "ratio"
    assert metric["error"] is None
    control = per_unit[per_unit.variant == experiment.variant_names[0]]
    for name, c in by_variant(metric).items():
        arm = per_unit[per_unit.variant == name]
        ratio_c, lift, interval, p_value = welch_on_ratios(
            (control.x.to_numpy(), control.y.to_numpy()),
            (arm.x.to_numpy(), arm.y.to_numpy()),
            experiment.alpha,
        )
        assert metric["control_mean"] == pytest.approx(ratio_c, rel=1e-9)
        assert c["lift_abs"] == pytest.approx(lift, rel=1e-9)
        assert c["ci_abs"] == pytest.approx(list(interval), rel=1e-9)
        assert c["p_value"] == pytest.approx(p_value, rel=1e-6)


def test_the_results_file_is_named_relative_to_the_lake_and_only_to_data_roles(demo, settings):
    # The review found the server's absolute path of the file on the results page.
    experiment = Experiment.objects.get(key="checkout_button_color")
    computation = experiment.computations.get()
    relative = f"gold/fact_experiment_result/event_dt={computation.computed_at.date()}"
    assert computation.lake_status.startswith(f"written to lake {relative}")
    # A status stored before the path was relative is shown without the server's part too.
    ResultComputation.objects.filter(pk=computation.pk).update(
        lake_status=f"written to {demo}/{relative}/{experiment.key}.parquet"
    )
    root = str(settings.LAKE_ROOT)
    for role, shown in (("analyst", True), ("admin", True), ("pm", False)):
        client = Client()
        client.force_login(user(role, f"lake-{role}"))
        page = client.get(f"/experiments/{experiment.key}/results/").content.decode()
        api = client.get(f"/api/experiments/{experiment.key}/results").json()
        assert root not in page and root not in str(api), role
        assert (relative in page) is shown, role
        assert api["lake"] == (
            f"written to lake {relative}/{experiment.key}.parquet" if shown else None
        )
