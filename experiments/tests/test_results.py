"""The results job end to end on a copy of the demo lake, every number against an independent
computation: pandas over the lake's files, then scipy and statsmodels."""

import dataclasses
import datetime
import io

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from django.core.management import call_command
from django.test import Client
from scipy import stats as sps
from statsmodels.stats import proportion as sm_proportion
from statsmodels.stats.multitest import multipletests
from ua_parser import parse_os

from experiments import queries
from experiments import results as results_module
from experiments.models import Experiment, ResultComputation
from experiments.results import results_compute
from experiments.stats.compare import MIN_UNITS
from experiments.tests.builders import user
from experiments.tests.references import (
    confidence_sequence,
    exposed_units,
    per_unit_ratio,
    ratio_cuped_on_units,
    relative_se,
    sequential_p_value,
    welch_on_ratios,
)
from metrics.catalogue import load_catalogue
from warehouse.lake import contract, storage
from warehouse.models import QueryRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(exposure_lake, client):
    user("pm", "pm")
    call_command("demo_experiments", stdout=io.StringIO())
    client.force_login(user("analyst"))
    return exposure_lake


def first_exposures(root, experiment: Experiment, computation: ResultComputation) -> pd.DataFrame:
    return exposed_units(root, experiment.key, computation.window_start, computation.window_end)


def matured(rows: pd.DataFrame, computation: ResultComputation) -> pd.DataFrame:
    """The units whose 28 days after first exposure have passed by the window's end."""
    return rows[rows.event_dt <= computation.window_end - datetime.timedelta(days=28)]


def tuning(experiment: Experiment) -> int:
    """The sequential tuning the docs promise: the planned units of control and the largest
    treatment."""
    planned = experiment.planned_n_per_variant
    return max(100, planned[0] + max(planned[1:]))


def results(client, key):
    answer = client.get(f"/api/experiments/{key}/results")
    assert answer.status_code == 200
    return answer.json()


def by_variant(metric: dict) -> dict[str, dict]:
    return {c["variant"]: c for c in metric["comparisons"]}


def conversion_references(
    rows: pd.DataFrame, names: list[str], alpha: float, n_tuning: int
) -> dict[str, tuple[float, float, int, float]]:
    """Per treatment of matured units: the lift, the se of the absolute lift, the units of
    both arms and the sequential p of the relative lift. CUPED with the units' pre-period
    conversion: theta is the slope of `converted` on `pre_converted` within the variants (OLS
    with one intercept per variant), then Welch's test of the adjusted values; the Wald test
    of two proportions where the covariate varies in no variant; Fisher's exact test (of the
    raw counts) below MIN_UNITS per arm."""
    y, x = rows.converted.astype(float), rows.pre_converted.astype(float)
    within = x - x.groupby(rows.variant).transform("mean")
    adjustable = bool((within**2).sum() > 0)
    if adjustable:
        intercepts = pd.get_dummies(rows.variant).astype(float).to_numpy()
        fit = sm.OLS(y.to_numpy(), np.column_stack([intercepts, x.to_numpy()])).fit()
        adjusted = y - fit.params[-1] * (x - x.mean())
    control = rows[rows.variant == names[0]]
    references = {}
    for name in names[1:]:
        arm = rows[rows.variant == name]
        counts = (arm.converted.sum(), len(arm), control.converted.sum(), len(control))
        p_c, p_t = control.converted.mean(), arm.converted.mean()
        n_total = len(arm) + len(control)
        low, high = sm_proportion.confint_proportions_2indep(*counts, method="wald", alpha=alpha)
        lift, se = p_t - p_c, (high - low) / (2 * sps.norm.ppf(1 - alpha / 2))
        if min(len(arm), len(control)) < MIN_UNITS:  # Fisher's exact test, and no verdict
            table = [[counts[0], counts[1] - counts[0]], [counts[2], counts[3] - counts[2]]]
            references[name] = (lift, se, n_total, sps.fisher_exact(table).pvalue)
            continue
        if adjustable:
            a_c, a_t = adjusted[control.index], adjusted[arm.index]
            lift = a_t.mean() - a_c.mean()
            se = float(np.sqrt(a_c.var(ddof=1) / len(a_c) + a_t.var(ddof=1) / len(a_t)))
            se_rel = relative_se(
                (a_c.mean(), a_c.var(ddof=1), len(a_c)),
                (a_t.mean(), a_t.var(ddof=1), len(a_t)),
                (p_c, p_t),
            )
        else:
            se_rel = relative_se(
                (p_c, p_c * (1 - p_c), len(control)), (p_t, p_t * (1 - p_t), len(arm))
            )
        p_value = sequential_p_value(lift / p_c, se_rel, n_total, alpha, n_tuning)
        references[name] = (lift, se, n_total, p_value)
    return references


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
    rows = matured(rows, computation)
    control = rows[rows.variant == names[0]]
    assert conversion["control_mean"] == pytest.approx(control.converted.mean())
    alpha, n_tuning = experiment.alpha, tuning(experiment)
    rng = np.random.default_rng(1)
    draws_c = rng.beta(1 + control.converted.sum(), 1 + (~control.converted).sum(), 200_000)
    references = conversion_references(rows, names, alpha, n_tuning)
    # Holm over the treatments on the primary metric.
    holm = multipletests([r[3] for r in references.values()], method="holm")[1]
    adjusted = dict(zip(references, holm, strict=True))
    for name, c in by_variant(conversion).items():
        lift, se, n_total, p_value = references[name]
        level = alpha * p_value / adjusted[name]
        assert c["lift_abs"] == pytest.approx(lift)
        assert c["p_value"] == pytest.approx(p_value, rel=1e-6)
        assert c["p_value_adjusted"] == pytest.approx(adjusted[name], rel=1e-6)
        assert c["ci_abs"] == pytest.approx(
            list(confidence_sequence(lift, se, n_total, alpha, n_tuning, level)), rel=1e-6
        )
        arm = rows[rows.variant == name]
        draws = rng.beta(1 + arm.converted.sum(), 1 + (~arm.converted).sum(), 200_000)
        assert c["prob_beat_control"] == pytest.approx((draws > draws_c).mean(), abs=0.005)
        # The outcome is read off the printed relative interval.
        low, high = c["ci_rel"]
        expected = "better" if low > 0 else "worse" if high < 0 else "inconclusive"
        few = min(len(arm), len(control)) < MIN_UNITS
        assert c["outcome"] == ("too_few_units" if few else expected)


def test_cuped_outcome_value_matches_ols_and_welch(demo, client):
    experiment = Experiment.objects.get(key="search_ranking_v2")
    computation = experiment.computations.get()
    rows = matured(first_exposures(demo, experiment, computation), computation)
    metric = next(
        m for m in results(client, experiment.key)["metrics"] if m["metric"] == "outcome_value"
    )
    (c,) = metric["comparisons"]
    assert c["p_value_adjusted"] == c["p_value"]  # one comparison: Holm changes nothing
    y, x = rows.outcome_value.to_numpy(), rows.pre_value.to_numpy()
    treated = (rows.variant == "treatment").to_numpy(dtype=float)
    fit = sm.OLS(y, np.column_stack([np.ones_like(y), treated, x - x.mean()])).fit()
    assert metric["theta"] == pytest.approx(fit.params[2], rel=1e-9)
    assert c["lift_abs"] == pytest.approx(fit.params[1], rel=1e-8)
    adjusted = y - metric["theta"] * (x - x.mean())
    a_t, a_c = adjusted[treated == 1], adjusted[treated == 0]
    welch = sps.ttest_ind(a_t, a_c, equal_var=False)
    fixed = welch.confidence_interval(0.95)
    se = (fixed.high - fixed.low) / (2 * sps.t.ppf(0.975, welch.df))
    n_total, n_tuning = len(y), tuning(experiment)
    assert c["ci_abs"] == pytest.approx(
        list(confidence_sequence(c["lift_abs"], se, n_total, 0.05, n_tuning)), rel=1e-6
    )
    # The relative lift is over the unadjusted control mean, its se by the delta method.
    base = (y[treated == 0].mean(), y[treated == 1].mean())
    se_rel = relative_se(
        (a_c.mean(), a_c.var(ddof=1), len(a_c)), (a_t.mean(), a_t.var(ddof=1), len(a_t)), base
    )
    assert c["lift_rel"] == pytest.approx(c["lift_abs"] / base[0], rel=1e-9)
    assert c["p_value"] == pytest.approx(
        sequential_p_value(c["lift_rel"], se_rel, n_total, 0.05, n_tuning), rel=1e-6
    )
    assert c["variant_mean"] == pytest.approx(y[treated == 1].mean())
    raw = sps.ttest_ind(y[treated == 1], y[treated == 0], equal_var=False)
    se_raw = raw.confidence_interval(0.95).high - raw.confidence_interval(0.95).low
    se_adj = fixed.high - fixed.low
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
    # Health: every check with its status; the method and what it allows.
    for check in body["health"]:
        assert f'data-check="{check["check"]}"' in page
    assert "Sequential testing: the intervals are always valid" in page
    assert "P-values and intervals are Holm-adjusted across the treatments" in page
    # The outcome column and the forest plot read the same outcome.
    outcome = {"better": "Better", "worse": "Worse", "inconclusive": "Inconclusive"}
    assert f'class="outcome {c["outcome"]}">{outcome.get(c["outcome"], "Too few units")}' in page
    assert 'data-figure="lift-figure"' in page and body["lift_over_time"]


def test_a_fixed_horizon_experiment_says_its_results_hold_only_at_the_end(demo, client):
    experiment = Experiment.objects.get(key="checkout_button_color")
    Experiment.objects.filter(pk=experiment.pk).update(sequential=False)
    results_compute(experiment_id=experiment.pk)
    body = results(client, experiment.key)
    assert body["method"]["sequential"] is False and body["method"]["tuning"] is None
    page = client.get(f"/experiments/{experiment.key}/results/").content.decode()
    assert "Fixed horizon: these intervals hold only once, at the planned sample" in page
    assert "which is valid only at the last point" in page


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
    # One more run per catalogue metric an experiment names (one per dimension of its own for a
    # primary or secondary metric), reading the metric's table and the identities (visitor
    # kinds) too, one for the outcome metrics by dimension, and one for the health checks.
    catalogue = {run.label: sorted(run.tables) for run in runs.filter(label__contains=" / ")}
    segments = ["dim_identities", "fact_experiment_exposures"]
    funnel = [*segments, "fact_funnel_events"]
    bookings = ["dim_identities", "fact_bookings", "fact_experiment_exposures"]
    assert catalogue == {
        f"experiment results: {key} / by dimension": segments
        for key in ("search_ranking_v2", "checkout_button_color", "pricing_page_3way")
    } | {
        "experiment results: search_ranking_v2 / search_to_view_ctr": funnel,
        # Guardrails: read whole.
        "experiment results: search_ranking_v2 / view_to_message_rate": funnel,
        "experiment results: checkout_button_color / refund_rate": bookings,
        "experiment results: checkout_button_color / checkout_completion_rate by listing_kind": (
            funnel
        ),
    }
    health = QueryRun.objects.filter(label__startswith="experiment health: ")
    assert [run.tables for run in health] == [["fact_experiment_exposures"]] * 3
    assert set((runs | health).values_list("status", flat=True)) == {QueryRun.Status.SUCCEEDED}


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


FUNNEL = contract.table("fact_funnel_events")
BOOKINGS = contract.table("fact_bookings")


@pytest.mark.parametrize(
    ("key", "slug", "table", "numerator", "denominator", "searched_before"),
    [
        (
            "search_ranking_v2",
            "search_to_view_ctr",
            FUNNEL,
            lambda e: (e.step == "profile_view").astype(float),
            lambda e: (e.step == "search").astype(float),
            True,
        ),
        (
            # The lake's bookings reach back before its events: a pre-period, CUPED.
            "checkout_button_color",
            "refund_rate",
            BOOKINGS,
            lambda e: e.is_refunded.astype(float),
            lambda e: pd.Series(1.0, index=e.index),
            True,
        ),
        (
            # Exposed from the first day of the lake's events: no pre-period, no CUPED.
            "checkout_button_color",
            "checkout_completion_rate",
            FUNNEL,
            lambda e: (e.step == "checkout_complete").astype(float),
            lambda e: (e.step == "checkout_start").astype(float),
            False,
        ),
    ],
)
def test_catalogue_metrics_per_variant_match_pandas(
    demo, client, key, slug, table, numerator, denominator, searched_before
):
    experiment = Experiment.objects.get(key=key)
    computation = experiment.computations.get()
    units = first_exposures(demo, experiment, computation)
    per_unit = per_unit_ratio(units, read_events(demo, table, computation), numerator, denominator)
    assert per_unit.x.sum() > 0 and per_unit.y.sum() > 20  # something to compare
    metric = next(m for m in results(client, key)["metrics"] if m["metric"] == slug)
    assert metric["metric_type"] == "ratio"
    assert metric["error"] is None
    control = per_unit[per_unit.variant == experiment.variant_names[0]]
    assert control.x.sum() / control.y.sum() == pytest.approx(metric["control_mean"], rel=1e-9)
    # Both arms have a pre-period to adjust with, or one does not and nothing is adjusted.
    assert bool(per_unit.groupby("variant").y_pre.sum().min() > 0) == searched_before
    alpha, n_tuning = experiment.alpha, tuning(experiment)
    for name, c in by_variant(metric).items():
        lift, se, _ = ratio_reference(control, per_unit[per_unit.variant == name], alpha)
        n_total = (per_unit.variant == name).sum() + len(control)
        # A secondary metric's interval is widened to its corrected level (the corrections
        # themselves are checked against multipletests below).
        level = alpha * c["p_value"] / c["p_value_adjusted"]
        assert c["lift_abs"] == pytest.approx(lift, rel=1e-9)
        assert c["ci_abs"] == pytest.approx(
            list(confidence_sequence(lift, se, n_total, alpha, n_tuning, level)), rel=1e-6
        )
        assert (c["variance_reduction"] > 0) == searched_before


def read_events(root, table, computation: ResultComputation) -> pd.DataFrame:
    """The table's events of the window and of the 28 days before it (the pre-period)."""
    events = pd.read_parquet(storage.table_dir(root, table))
    events["event_dt"] = pd.to_datetime(events["event_dt"].astype(str)).dt.date
    first = computation.window_start - datetime.timedelta(days=28)
    return events[(events.event_dt >= first) & (events.event_dt <= computation.window_end)]


def ratio_reference(
    control: pd.DataFrame, arm: pd.DataFrame, alpha: float = 0.05
) -> tuple[float, float, float]:
    """The lift of a catalogue ratio, its standard error and the relative lift: CUPED with the
    pre-period ratio when both arms have one, else the plain delta-method ratios."""
    if min(control.y_pre.sum(), arm.y_pre.sum()) > 0:
        columns = ["x", "y", "x_pre", "y_pre"]
        found = ratio_cuped_on_units(
            tuple(control[columns].to_numpy().T), tuple(arm[columns].to_numpy().T)
        )
        return found.lift, found.se, found.lift_rel
    plain = welch_on_ratios(
        (control.x.to_numpy(), control.y.to_numpy()), (arm.x.to_numpy(), arm.y.to_numpy()), alpha
    )
    return plain.lift, plain.se, plain.lift / plain.control_ratio


SEARCH_VIEWS = {
    "numerator": lambda e: (e.step == "profile_view").astype(float),
    "denominator": lambda e: (e.step == "search").astype(float),
}
CHECKOUTS = {
    "numerator": lambda e: (e.step == "checkout_complete").astype(float),
    "denominator": lambda e: (e.step == "checkout_start").astype(float),
}


def with_segments(root, units: pd.DataFrame) -> pd.DataFrame:
    """The units with their segments: platform (ua-parser's operating system of the first
    exposure's agent), visitor kind (first seen before the day of first exposure) and country;
    a dimension with more than five values keeps its four largest (by units) and calls the
    rest Other."""
    identities = pd.read_parquet(storage.table_dir(root, contract.table("dim_identities")))
    first_seen = units.identity_id.map(identities.set_index("identity_id").first_seen_ts)
    units = units.assign(
        platform=units.user_agent.map(lambda ua: getattr(parse_os(ua), "family", "Other")),
        visitor=np.where(first_seen < pd.to_datetime(units.event_dt), "returning", "new"),
        country_found=units.country.fillna("").replace("", "Other"),
    )

    def largest(values: pd.Series) -> pd.Series:
        counts = values.value_counts()
        named = sorted((v for v in counts.index if v != "Other"), key=lambda v: (-counts[v], v))
        if len(named) + ("Other" in counts.index) <= 5:
            return values
        return values.where(values.isin(named[:4]), "Other")

    return units.assign(
        platform=largest(units.platform),
        visitor=largest(units.visitor),
        country=largest(units.country_found),
    )


def test_a_catalogue_primary_end_to_end(demo, client):
    """search_ranking_v2 read on search_to_view_ctr: its comparison, its lift over time and
    its results by platform and visitor kind, against pandas over the lake."""
    experiment = Experiment.objects.get(key="search_ranking_v2")
    Experiment.objects.filter(pk=experiment.pk).update(
        primary_metric="search_to_view_ctr", secondary_metrics=["conversion"]
    )
    computation = results_compute(experiment_id=experiment.pk)
    assert computation.status == "succeeded"
    units = with_segments(demo, first_exposures(demo, experiment, computation))
    per_unit = per_unit_ratio(units, read_events(demo, FUNNEL, computation), **SEARCH_VIEWS)
    per_unit = per_unit.merge(
        units[["identity_id", "platform", "visitor", "country"]], on="identity_id"
    )
    body = results(client, experiment.key)
    primary = body["metrics"][0]
    assert (primary["metric"], primary["role"], primary["error"]) == (
        "search_to_view_ctr",
        "primary",
        None,
    )
    control_name, name = experiment.variant_names
    (c,) = primary["comparisons"]
    control, arm = (per_unit[per_unit.variant == v] for v in (control_name, name))
    lift, _, lift_rel = ratio_reference(control, arm)
    assert c["lift_abs"] == pytest.approx(lift, rel=1e-9)
    # The lift over time: the units first exposed up to each day, the last day the result.
    series = body["lift_over_time"][name]
    assert len(series["days"]) > 5
    for day, point in zip(series["days"], series["lift_rel"], strict=True):
        upto = per_unit[per_unit.event_dt <= datetime.date.fromisoformat(day)]
        expected = ratio_reference(*(upto[upto.variant == v] for v in (control_name, name)))
        assert point == pytest.approx(expected[2], rel=1e-9), day
    assert series["lift_rel"][-1] == pytest.approx(lift_rel, rel=1e-9)
    assert [series["low"][-1], series["high"][-1]] == pytest.approx(c["ci_rel"])
    # By dimension: the primary's own segments (the secondary conversion has its own).
    breakdowns = {
        b["dimension"]: b for b in body["breakdowns"] if b["metric"] == "search_to_view_ctr"
    }
    assert set(breakdowns) == {"platform", "visitor", "country"}
    for dimension, breakdown in breakdowns.items():
        assert {s["value"] for s in breakdown["segments"]} == set(per_unit[dimension])
        for segment in breakdown["segments"]:
            members = per_unit[per_unit[dimension] == segment["value"]]
            counts = members.groupby("variant").size()
            assert segment["units"] == {v: int(counts.get(v, 0)) for v in (control_name, name)}
            if segment["error"]:
                continue
            (found,) = segment["comparisons"]
            expected = ratio_reference(
                *(members[members.variant == v] for v in (control_name, name))
            )
            assert found["lift_abs"] == pytest.approx(expected[0], rel=1e-9), segment["value"]
    assert {b["metric"] for b in body["breakdowns"]} == {"search_to_view_ctr", "conversion"}
    page = client.get(f"/experiments/{experiment.key}/results/").content.decode()
    assert 'data-metric="search_to_view_ctr" data-dimension="platform"' in page
    assert "Lift over time" in page


def test_a_catalogue_metric_by_its_own_dimension(demo, client):
    """checkout_completion_rate (a secondary of checkout_button_color) by listing kind: in each
    value every unit counts, with the checkouts of that kind only (0 / 0 without any)."""
    experiment = Experiment.objects.get(key="checkout_button_color")
    computation = experiment.computations.get()
    units = first_exposures(demo, experiment, computation)
    events = read_events(demo, FUNNEL, computation)
    kinds = events.listing_kind.fillna("unknown")
    body = results(client, experiment.key)
    (breakdown,) = [
        b
        for b in body["breakdowns"]
        if (b["metric"], b["dimension"]) == ("checkout_completion_rate", "listing_kind")
    ]
    assert breakdown["title"] == "Listing kind"
    values = {s["value"]: s for s in breakdown["segments"]}
    checkouts = events[
        (events.step == "checkout_start") & (events.event_dt >= computation.window_start)
    ]
    assert set(values) == set(kinds[checkouts.index])
    names = experiment.variant_names
    counts = units.groupby("variant").size()
    raw, adjusted = [], []
    for value, segment in values.items():
        assert segment["units"] == {v: int(counts[v]) for v in names}, value
        per_unit = per_unit_ratio(units, events[kinds == value], **CHECKOUTS)
        (found,) = segment["comparisons"]
        expected = ratio_reference(*(per_unit[per_unit.variant == v] for v in names))
        assert found["lift_abs"] == pytest.approx(expected[0], rel=1e-9), value
        raw.append(found["p_value"])
        adjusted.append(found["p_value_adjusted"])
    assert adjusted == pytest.approx(list(multipletests(raw, method="holm")[1]), rel=1e-9)


def test_corrections_follow_multipletests_per_family(demo, client):
    """Holm across the treatments on the primary metric, and across every secondary metric's
    treatments together; guardrails are read alone."""
    for key in ("search_ranking_v2", "checkout_button_color", "pricing_page_3way"):
        metrics = results(client, key)["metrics"]
        for role in ("primary", "secondary"):
            family = [c for m in metrics if m["role"] == role for c in m["comparisons"]]
            if not family:
                continue
            expected = multipletests([c["p_value"] for c in family], method="holm")[1]
            got = [c["p_value_adjusted"] for c in family]
            assert got == pytest.approx(list(expected), rel=1e-9), (key, role)
        for c in (c for m in metrics if m["role"] == "guardrail" for c in m["comparisons"]):
            assert c["p_value_adjusted"] == pytest.approx(c["p_value"]), key


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


def test_breakdowns_match_pandas_per_segment(demo, client):
    """The primary metric per platform (the first exposure's operating system, as ua-parser
    reads it), per new or returning visitor (first seen before the day of exposure) and per
    country (the four largest, the rest as Other), Holm across every segment and treatment of
    a dimension."""
    experiment = Experiment.objects.get(key="checkout_button_color")
    computation = experiment.computations.get()
    rows = with_segments(demo, first_exposures(demo, experiment, computation))
    names, alpha, n_tuning = experiment.variant_names, experiment.alpha, tuning(experiment)
    body = results(client, experiment.key)
    primary = experiment.primary_metric
    found = {b["dimension"]: b for b in body["breakdowns"] if b["metric"] == primary}
    assert set(found) == {"platform", "visitor", "country"}
    assert set(rows.platform) >= {"iOS", "Android"}  # something to break down
    assert rows.country_found.nunique() > 5 and "Other" in set(rows.country)  # merged
    for dimension, breakdown in found.items():
        segments = {s["value"]: s for s in breakdown["segments"]}
        assert set(segments) == set(rows[dimension])
        family, got = [], []
        for value, segment in segments.items():
            units = rows[rows[dimension] == value]
            counts = units.groupby("variant").size()
            assert segment["units"] == {n: int(counts.get(n, 0)) for n in names}, value
            references = conversion_references(matured(units, computation), names, alpha, n_tuning)
            for c in segment["comparisons"]:
                lift, _, _, p_value = references[c["variant"]]
                assert c["lift_abs"] == pytest.approx(lift), (value, c["variant"])
                assert c["p_value"] == pytest.approx(p_value, rel=1e-6), (value, c["variant"])
                family.append(p_value)
                got.append(c["p_value_adjusted"])
        assert got == pytest.approx(list(multipletests(family, method="holm")[1]), rel=1e-6)
    page = client.get(f"/experiments/{experiment.key}/results/").content.decode()
    assert 'data-dimension="platform"' in page and 'data-dimension="visitor"' in page


def test_a_failed_query_of_a_later_dimension_leaves_out_only_that_dimension(
    demo, client, monkeypatch
):
    """A metric with two dimensions of its own runs once per dimension: when the second query
    fails, its results and the first dimension's stand, and the page says what is missing."""
    catalogue = load_catalogue()
    metric = catalogue.metrics["checkout_completion_rate"]
    two = dataclasses.replace(metric, dimensions=(*metric.dimensions, "surface"))
    monkeypatch.setattr(
        results_module,
        "load_catalogue",
        lambda: dataclasses.replace(
            catalogue, metrics=catalogue.metrics | {"checkout_completion_rate": two}
        ),
    )
    real = queries.metric_unit_stats

    def failing(metric, key, start, end, split_by=None):
        sql, params = real(metric, key, start, end, split_by)
        if split_by == "surface":  # fails as it runs: a variant's name is no number
            sql = sql.replace("COUNT(*) AS units", "COUNT(*) + CAST(variant AS INT) AS units")
        return sql, params

    monkeypatch.setattr(queries, "metric_unit_stats", failing)
    experiment = Experiment.objects.get(key="checkout_button_color")
    computation = results_compute(experiment_id=experiment.pk)
    assert computation.status == "succeeded"
    failed = QueryRun.objects.filter(label__endswith="/ checkout_completion_rate by surface").get()
    assert computation.warnings[-1] == (
        f"{metric.title} by surface could not be computed (query run {failed.pk})"
    )
    body = results(client, experiment.key)
    metric_result = next(m for m in body["metrics"] if m["metric"] == "checkout_completion_rate")
    assert metric_result["error"] is None and metric_result["comparisons"]
    dimensions = {b["dimension"] for b in body["breakdowns"] if b["metric"] == metric.slug}
    assert dimensions == {"platform", "visitor", "country", "listing_kind"}
