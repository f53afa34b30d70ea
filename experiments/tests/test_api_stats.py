import json
import math
from pathlib import Path

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats as sps
from statsmodels.stats import proportion as sm_proportion
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower

from experiments.tests.builders import user
from experiments.tests.references import (
    ratio_cuped_on_units,
    relative_p_value,
    welch_on_ratios,
)
from experiments.tests.stats_examples import ISSUE_COMPARE, ISSUE_MDE, ratio_sums

pytestmark = pytest.mark.django_db
CASES = json.loads((Path(__file__).parent / "gbstats_cases.json").read_text())["cases"]
RATIO_CUPED = next(c for c in CASES if c["case"] == "ratio_cuped_strong")


def post(client, path, body):
    return client.post(path, body, content_type="application/json")


def test_compare_proportions_as_the_issue_shows(analyst):
    answer = post(analyst, "/api/stats/compare", ISSUE_COMPARE)
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert set(body) >= {"srm_p_value", "srm_alert", "theta", "comparisons"}
    assert body["srm_p_value"] == pytest.approx(1.0) and body["srm_alert"] is False
    assert body["theta"] is None
    (b,) = body["comparisons"]
    assert b["variant"] == "b"
    reference = sm_proportion.test_proportions_2indep(
        1090, 10000, 1000, 10000, method="wald", compare="diff"
    )
    interval = sm_proportion.confint_proportions_2indep(
        1090, 10000, 1000, 10000, method="wald", compare="diff"
    )
    assert b["lift_abs"] == pytest.approx(0.009)
    assert b["lift_rel"] == pytest.approx(0.09)
    assert reference.pvalue < 1  # the absolute test, reported by its interval
    assert b["ci_abs"] == pytest.approx(list(interval), rel=1e-9)
    # Decisions and p are on the relative lift (GrowthBook's default), read on the normal.
    relative = relative_p_value((0.1, 0.1 * 0.9, 10_000), (0.109, 0.109 * 0.891, 10_000), None)
    assert b["p_value"] == pytest.approx(relative, rel=1e-9)
    assert b["p_value_adjusted"] == b["p_value"]  # a single treatment: nothing to correct
    assert b["decision"] == ("increase" if b["ci_rel"][0] > 0 else "inconclusive")
    assert body["sequential"] is False and body["correction"] == "holm"
    # P(p_b > p_control) under uniform priors, by simulation.
    rng = np.random.default_rng(0)
    draws_c = rng.beta(1 + 1000, 1 + 9000, 400_000)
    draws_b = rng.beta(1 + 1090, 1 + 8910, 400_000)
    assert b["prob_beat_control"] == pytest.approx((draws_b > draws_c).mean(), abs=0.003)
    ratio = draws_b / draws_c - 1
    assert b["credible_interval_rel"] == pytest.approx(
        list(np.quantile(ratio, [0.025, 0.975])), abs=0.003
    )
    assert b["expected_loss"] == pytest.approx(np.maximum(draws_c - draws_b, 0).mean(), rel=0.03)
    assert b["variance_reduction"] is None


def test_compare_means_with_cuped_matches_ols_and_welch_on_raw_rows(analyst):
    rng = np.random.default_rng(7)
    arms = {}
    for name, shift, n in (("control", 0.0, 4_000), ("b", 0.3, 4_100), ("c", -0.1, 3_900)):
        x = rng.normal(20, 4, n)
        arms[name] = (0.7 * x + rng.normal(5 + shift, 3, n), x)
    body = {
        "metric_type": "mean",
        "weights": [1 / 3, 1 / 3, 1 / 3],
        "variants": [
            {
                "name": name,
                "n": len(y),
                "sum": float(y.sum()),
                "sum_squares": float(y @ y),
                "pre_sum": float(x.sum()),
                "pre_sum_squares": float(x @ x),
                "sum_products": float(x @ y),
            }
            for name, (y, x) in arms.items()
        ],
    }
    answer = post(analyst, "/api/stats/compare", body).json()
    y = np.concatenate([a[0] for a in arms.values()])
    x = np.concatenate([a[1] for a in arms.values()])
    groups = np.repeat(list(arms), [len(a[0]) for a in arms.values()])
    design = np.column_stack([np.ones_like(y), groups == "b", groups == "c", x - x.mean()])
    fit = sm.OLS(y, design.astype(float)).fit()
    assert answer["theta"] == pytest.approx(fit.params[3], rel=1e-9)
    adjusted = {name: yy - answer["theta"] * (xx - x.mean()) for name, (yy, xx) in arms.items()}
    for comparison, column in zip(answer["comparisons"], (1, 2), strict=True):
        name = comparison["variant"]
        assert comparison["lift_abs"] == pytest.approx(fit.params[column], rel=1e-8)
        welch = sps.ttest_ind(adjusted[name], adjusted["control"], equal_var=False)
        arms_moments = [
            (adjusted[k].mean(), np.var(adjusted[k], ddof=1), len(adjusted[k]))
            for k in ("control", name)
        ]
        raw_means = (arms["control"][0].mean(), arms[name][0].mean())
        expected = relative_p_value(*arms_moments, welch.df, base=raw_means)
        assert comparison["p_value"] == pytest.approx(expected, rel=1e-6)
        raw = np.var(arms[name][0], ddof=1) / len(arms[name][0]) + np.var(
            arms["control"][0], ddof=1
        ) / len(arms["control"][0])
        reduced = np.var(adjusted[name], ddof=1) / len(adjusted[name]) + np.var(
            adjusted["control"], ddof=1
        ) / len(adjusted["control"])
        assert comparison["variance_reduction"] == pytest.approx(1 - reduced / raw, rel=1e-6)
        assert comparison["prob_beat_control"] is None


def test_compare_ratios_matches_the_linearised_welch_test(analyst):
    rng = np.random.default_rng(9)
    arms = {}
    for name, rate in (("control", 0.30), ("b", 0.33)):
        views = rng.negative_binomial(2, 0.4, 5_000).astype(float)
        arms[name] = (rng.binomial(views.astype(int), rate).astype(float), views)
    body = {
        "metric_type": "ratio",
        "weights": [0.5, 0.5],
        "variants": [
            {"name": name, "n": len(x), **ratio_sums(x, y)} for name, (x, y) in arms.items()
        ],
    }
    (comparison,) = post(analyst, "/api/stats/compare", body).json()["comparisons"]
    ratio = welch_on_ratios(arms["control"], arms["b"], 0.05)
    assert comparison["lift_abs"] == pytest.approx(ratio.lift, rel=1e-9)
    assert comparison["lift_rel"] == pytest.approx(ratio.lift / ratio.control_ratio, rel=1e-9)
    assert comparison["ci_abs"] == pytest.approx(list(ratio.interval), rel=1e-9)
    assert comparison["p_value"] == pytest.approx(ratio.relative_p_value, rel=1e-6)
    assert comparison["prob_beat_control"] is None


def test_compare_ratios_with_cuped_matches_the_unit_level_delta_method(analyst):
    # Each unit's activity and propensity carry over from the pre-period, so the periods'
    # ratios correlate.
    rng = np.random.default_rng(12)
    arms = {}
    for name, lift in (("control", 0.0), ("b", 0.05)):
        activity, propensity = rng.gamma(2.0, 2.0, 5_000), rng.beta(3.0, 7.0, 5_000)
        views, views_pre = rng.poisson(activity), rng.poisson(activity)
        arms[name] = tuple(
            v.astype(float)
            for v in (
                rng.binomial(views, np.minimum(propensity * (1 + lift), 1.0)),
                views,
                rng.binomial(views_pre, propensity),
                views_pre,
            )
        )
    body = {
        "metric_type": "ratio",
        "weights": [0.5, 0.5],
        "variants": [
            {"name": name, "n": len(x), **ratio_sums(x, y, x_pre, y_pre)}
            for name, (x, y, x_pre, y_pre) in arms.items()
        ],
    }
    answer = post(analyst, "/api/stats/compare", body)
    assert answer.status_code == 200, answer.json()
    (comparison,) = answer.json()["comparisons"]
    reference = ratio_cuped_on_units(arms["control"], arms["b"])
    plain = welch_on_ratios(arms["control"][:2], arms["b"][:2], 0.05)
    assert answer.json()["cuped_applied"] is True
    assert answer.json()["theta"] == pytest.approx(reference.theta, rel=1e-6)
    assert comparison["lift_abs"] == pytest.approx(reference.lift, rel=1e-6)
    assert comparison["lift_rel"] == pytest.approx(reference.lift_rel, rel=1e-6)
    assert comparison["p_value"] == pytest.approx(reference.relative_p_value, rel=1e-5)
    assert comparison["variance_reduction"] == pytest.approx(
        1 - reference.se**2 / plain.se**2, rel=1e-6
    )
    assert comparison["variance_reduction"] > 0.1  # the periods' ratios correlate


def ratio_cuped_body(changes=None, drop=()):
    """gbstats' strong ratio case, the treatment's sums changed or dropped."""
    control, treatment = RATIO_CUPED["variants"]
    treatment = {k: v for k, v in (treatment | (changes or {})).items() if k not in drop}
    return {"metric_type": "ratio", "weights": [0.5, 0.5], "variants": [control, treatment]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (ratio_cuped_body(drop=("pre_sum_products",)), "variants[1].pre_sum_products"),
        (
            ratio_cuped_body(drop=("denominator_pre_denominator_products",)),
            "variants[1].denominator_pre_denominator_products",
        ),
        (
            # Control with the covariate, treatment without: named, not silently unadjusted.
            ratio_cuped_body(drop=[k for k in RATIO_CUPED["variants"][1] if "pre" in k]),
            "variants[1].pre_numerator_sum",
        ),
        (ratio_cuped_body({"pre_sum_products": 1e12}), "variants[1].pre_sum_products"),
        (
            ratio_cuped_body({"numerator_pre_numerator_products": -1e9}),
            "variants[1].numerator_pre_numerator_products",
        ),
        (
            ratio_cuped_body({"pre_numerator_sum_squares": 0.0}),
            "variants[1].pre_numerator_sum_squares",
        ),
        (ratio_cuped_body({"pre_denominator_sum": -1.0}), "variants[1].pre_denominator_sum"),
        (ratio_cuped_body({"pre_numerator_sum": "many"}), "variants[1].pre_numerator_sum"),
        (ratio_cuped_body({"pre_ratio": 0.3}), "variants[1].pre_ratio"),
    ],
)
def test_a_bad_ratio_covariate_is_a_400_naming_the_field(analyst, body, field):
    answer = post(analyst, "/api/stats/compare", body)
    assert answer.status_code == 400
    assert field in answer.json(), answer.json()


def test_mde_as_the_issue_shows(analyst):
    answer = post(analyst, "/api/stats/mde", ISSUE_MDE)
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    # Unpooled two-proportion power (statsmodels, one tail at alpha/2) for 0.10 -> 0.11.
    variance = (0.1 * 0.9 + 0.11 * 0.89) / 2
    control = NormalIndPower().solve_power(
        effect_size=0.01 / math.sqrt(variance), alpha=0.025, power=0.8, alternative="larger"
    )
    assert abs(body["n_per_variant"][0] - math.ceil(control)) <= 1
    assert body["n_total"] == sum(body["n_per_variant"])
    assert body["days"] == math.ceil(body["n_total"] / 2000)
    assert body["mde_rel"] == pytest.approx(0.1)
    sizes = [p["n_total"] for p in body["curve"]]
    assert len(sizes) >= 10 and sizes == sorted(sizes, reverse=True)


def test_mde_from_a_sample_round_trips(analyst):
    forward = post(analyst, "/api/stats/mde", ISSUE_MDE).json()
    backward = {k: v for k, v in ISSUE_MDE.items() if k != "mde_rel"}
    answer = post(analyst, "/api/stats/mde", backward | {"n_per_variant": forward["n_per_variant"]})
    assert answer.json()["mde_rel"] == pytest.approx(0.1, rel=1e-3)
    single = post(
        analyst, "/api/stats/mde", backward | {"n_per_variant": forward["n_per_variant"][0]}
    )
    assert single.json()["mde_rel"] == pytest.approx(0.1, rel=1e-3)


def test_mde_of_a_mean_with_cuped(analyst):
    body = {
        "metric_type": "mean",
        "baseline": 25.0,
        "std": 16.0,
        "correlation": 0.6,
        "weights": [0.5, 0.5],
        "mde_rel": 0.03,
        "daily_units": 1000,
    }
    answer = post(analyst, "/api/stats/mde", body).json()
    effect = 0.03 * 25 / (16 * math.sqrt(1 - 0.36))
    n = NormalIndPower().solve_power(
        effect_size=effect, alpha=0.025, power=0.8, alternative="larger"
    )
    assert abs(answer["n_per_variant"][0] - math.ceil(n)) <= 1


def variants(second):
    return [{"name": "control", "n": 100, "conversions": 10}, {"name": "b"} | second]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/stats/compare", ISSUE_COMPARE | {"weights": [0.5, 0.6]}, "weights"),
        (
            "/api/stats/compare",
            ISSUE_COMPARE | {"variants": variants({"n": 1, "conversions": 0})},
            "variants[1].n",
        ),
        (
            "/api/stats/compare",
            ISSUE_COMPARE | {"variants": variants({"n": 100, "conversions": 101})},
            "variants[1].conversions",
        ),
        (
            # Half a covariate: the other half is named.
            "/api/stats/compare",
            ISSUE_COMPARE
            | {
                "variants": [
                    {"name": "control", "n": 100, "conversions": 10},
                    {"name": "b", "n": 100, "conversions": 12, "pre_conversions": 5},
                ]
            },
            "variants[1].conversion_products",
        ),
        (
            "/api/stats/compare",
            {
                "metric_type": "mean",
                "weights": [0.5, 0.5],
                "variants": [
                    {"name": "control", "n": 10, "sum": 20.0, "sum_squares": 50.0},
                    {"name": "b", "n": 10, "sum": 30.0, "sum_squares": 80.0},
                ],
            },
            "variants[1].sum_squares",
        ),
        ("/api/stats/compare", ISSUE_COMPARE | {"alpha": 1.5}, "alpha"),
        ("/api/stats/compare", ISSUE_COMPARE | {"alpha": 0}, "alpha"),
        ("/api/stats/compare", ISSUE_COMPARE | {"metric_type": "median"}, "metric_type"),
        (
            "/api/stats/compare",
            ISSUE_COMPARE | {"variants": [{"n": 5, "conversions": 1}] * 2},
            "variants[0].name",
        ),
        ("/api/stats/compare", ISSUE_COMPARE | {"extra": 1}, "extra"),
        ("/api/stats/compare", [1, 2], "body"),
        ("/api/stats/mde", ISSUE_MDE | {"weights": [0.7, 0.7]}, "weights"),
        ("/api/stats/mde", ISSUE_MDE | {"alpha": 1}, "alpha"),
        ("/api/stats/mde", ISSUE_MDE | {"power": 0}, "power"),
        ("/api/stats/mde", ISSUE_MDE | {"power": 1.2}, "power"),
        ("/api/stats/mde", ISSUE_MDE | {"baseline": 1.2}, "baseline"),
        ("/api/stats/mde", ISSUE_MDE | {"daily_units": 0}, "daily_units"),
        ("/api/stats/mde", ISSUE_MDE | {"n_per_variant": 100}, "mde_rel"),
        (
            "/api/stats/mde",
            {k: v for k, v in ISSUE_MDE.items() if k != "mde_rel"} | {"n_per_variant": 0},
            "n_per_variant",
        ),
        (
            "/api/stats/mde",
            {k: v for k, v in ISSUE_MDE.items() if k != "mde_rel"} | {"n_per_variant": [100, 300]},
            "n_per_variant[0]",
        ),
        (
            "/api/stats/mde",
            ISSUE_MDE | {"metric_type": "mean", "baseline": 0.0, "std": 1.0},
            "baseline",
        ),
        ("/api/stats/mde", ISSUE_MDE | {"metric_type": "mean", "baseline": 3.0}, "std"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(analyst, path, body, field):
    answer = post(analyst, path, body)
    assert answer.status_code == 400
    assert field in answer.json(), answer.json()


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("analyst", 200),
        ("pm", 200),
        ("admin", 200),
        ("support", 403),
        ("finance", 403),
        ("privacy", 403),
    ],
)
def test_roles(client, role, status):
    client.force_login(user(role))
    assert post(client, "/api/stats/compare", ISSUE_COMPARE).status_code == status
    assert post(client, "/api/stats/mde", ISSUE_MDE).status_code == status


def test_anonymous_callers_are_refused(client):
    assert post(client, "/api/stats/compare", ISSUE_COMPARE).status_code in (401, 403)


def test_compare_reads_sequentially_and_corrects_as_asked(analyst):
    case = next(c for c in CASES if c["case"] == "mean_small_lift" and c["tuning"] == 20000)
    body = {
        "metric_type": "mean",
        "alpha": case["alpha"],
        "weights": [0.5, 0.5],
        "variants": case["variants"],
        "sequential": True,
        "sequential_tuning": case["tuning"],
    }
    answer = post(analyst, "/api/stats/compare", body)
    assert answer.status_code == 200, answer.json()
    (b,) = answer.json()["comparisons"]
    reference = case["gbstats"]["sequential_relative"]
    assert b["ci_rel"] == pytest.approx(reference["ci"], rel=1e-7)
    assert b["p_value"] == pytest.approx(reference["p_value"], rel=1e-7)
    assert answer.json()["sequential"] is True
    assert answer.json()["sequential_tuning"] == case["tuning"]


def test_compare_applies_benjamini_hochberg_across_treatments(analyst):
    variants = [
        {"name": name, "n": 10_000, "conversions": c}
        for name, c in (("control", 500), ("b", 560), ("c", 510), ("d", 590))
    ]
    body = {"metric_type": "proportion", "weights": [0.25] * 4, "variants": variants}
    raw = post(analyst, "/api/stats/compare", body | {"correction": "none"}).json()
    bh = post(analyst, "/api/stats/compare", body | {"correction": "bh"}).json()
    p_values = [c["p_value"] for c in raw["comparisons"]]
    expected = multipletests(p_values, method="fdr_bh")[1]
    assert [c["p_value_adjusted"] for c in bh["comparisons"]] == pytest.approx(list(expected))
    assert bh["correction"] == "bh"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"correction": "sidak"}, "correction"),
        ({"sequential": "sometimes"}, "sequential"),
        ({"sequential": True, "sequential_tuning": 5}, "sequential_tuning"),
    ],
)
def test_compare_names_a_bad_reading_option(analyst, extra, field):
    answer = post(analyst, "/api/stats/compare", ISSUE_COMPARE | extra)
    assert answer.status_code == 400
    assert field in answer.json()
