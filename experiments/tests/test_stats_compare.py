import dataclasses

import numpy as np
import pytest
from scipy import stats as sps

from experiments.stats import (
    CompareResult,
    Comparison,
    InputError,
    MeanStats,
    ProportionStats,
    compare,
    mde,
)
from experiments.stats.bayesian import BetaPrior
from experiments.tests.factories import correlated, mean_stats

PROPORTIONS = [
    ("control", {"n": 10_000, "conversions": 500}),
    ("b", {"n": 10_050, "conversions": 560}),
    ("c", {"n": 9_980, "conversions": 470}),
]


def test_result_fields_are_the_documented_ones():
    assert [f.name for f in dataclasses.fields(Comparison)] == [
        "variant",
        "lift_abs",
        "lift_rel",
        "ci_abs",
        "ci_rel",
        "p_value",
        "p_value_adjusted",
        "decision",
        "test",
        "variance_reduction",
        "prob_beat_control",
        "credible_interval_rel",
        "expected_loss",
        "difference",
    ]
    names = {f.name for f in dataclasses.fields(CompareResult)}
    assert {"srm_p_value", "srm_alert", "theta", "comparisons"} <= names


def test_proportions_compare_every_treatment_with_the_first_variant():
    result = compare("proportion", PROPORTIONS, [1 / 3, 1 / 3, 1 / 3], alpha=0.05)
    assert [c.variant for c in result.comparisons] == ["b", "c"]
    assert result.theta is None
    counts = [10_000, 10_050, 9_980]
    assert result.srm_p_value == pytest.approx(sps.chisquare(counts).pvalue, rel=1e-9)
    assert not result.srm_alert
    b = result.comparisons[0]
    assert b.lift_abs == pytest.approx(560 / 10_050 - 0.05)
    assert b.variance_reduction is None
    assert 0.5 < b.prob_beat_control < 1
    assert b.credible_interval_rel[0] < b.lift_rel < b.credible_interval_rel[1]
    assert b.expected_loss > 0
    c = result.comparisons[1]
    assert c.lift_abs < 0 and c.prob_beat_control < 0.5


def test_dataclass_and_mapping_inputs_agree():
    as_mappings = compare("proportion", PROPORTIONS, [0.4, 0.3, 0.3])
    as_stats = compare(
        "proportion",
        [(name, ProportionStats(**fields)) for name, fields in PROPORTIONS],
        [0.4, 0.3, 0.3],
    )
    assert as_mappings == as_stats
    assert as_mappings.srm_alert  # 40/30/30 configured, a third each observed


def test_means_with_covariate_use_cuped_and_report_the_reduction():
    rng = np.random.default_rng(12)
    arms = [correlated(rng, 8_000, 0.6, shift) for shift in (0.0, 0.1, 0.0)]
    result = compare(
        "mean", [(str(i), mean_stats(y, x)) for i, (y, x) in enumerate(arms)], [1 / 3] * 3
    )
    plain = compare("mean", [(str(i), mean_stats(y)) for i, (y, _) in enumerate(arms)], [1 / 3] * 3)
    assert result.cuped_applied and result.theta is not None
    assert plain.theta is None and not plain.cuped_applied
    for adjusted, raw in zip(result.comparisons, plain.comparisons, strict=True):
        assert adjusted.variance_reduction == pytest.approx(0.36, abs=0.04)
        assert raw.variance_reduction is None
        width = adjusted.ci_abs[1] - adjusted.ci_abs[0]
        assert width == pytest.approx((raw.ci_abs[1] - raw.ci_abs[0]) * 0.8, rel=0.04)
        assert adjusted.prob_beat_control is None and adjusted.expected_loss is None


def test_constant_covariate_falls_back_through_the_facade():
    rng = np.random.default_rng(13)
    ys = [rng.normal(5, 1, 500), rng.normal(5.2, 1, 500)]
    with_constant = compare(
        "mean", [(str(i), mean_stats(y, np.ones_like(y))) for i, y in enumerate(ys)], [0.5, 0.5]
    )
    plain = compare("mean", [(str(i), mean_stats(y)) for i, y in enumerate(ys)], [0.5, 0.5])
    assert with_constant.theta == 0 and not with_constant.cuped_applied
    assert with_constant.comparisons[0].variance_reduction == 0
    assert with_constant.comparisons[0].p_value == pytest.approx(plain.comparisons[0].p_value)


def test_prior_reaches_the_bayesian_comparison():
    variants = PROPORTIONS[:2]
    uniform = compare("proportion", variants, [0.5, 0.5])
    strong = compare("proportion", variants, [0.5, 0.5], prior=BetaPrior(5_000, 95_000))
    assert strong.comparisons[0].prob_beat_control < uniform.comparisons[0].prob_beat_control


GOOD_MEAN = {"n": 100, "sum": 500.0, "sum_squares": 2_600.0}


@pytest.mark.parametrize(
    ("metric_type", "variants", "weights", "alpha", "field"),
    [
        ("median", PROPORTIONS[:2], [0.5, 0.5], 0.05, "metric_type"),
        ({}, PROPORTIONS[:2], [0.5, 0.5], 0.05, "metric_type"),  # unhashable: found by schemathesis
        (["mean"], PROPORTIONS[:2], [0.5, 0.5], 0.05, "metric_type"),
        ("proportion", PROPORTIONS[:1], [1.0], 0.05, "variants"),
        ("proportion", "control", [0.5, 0.5], 0.05, "variants"),
        (
            "proportion",
            [PROPORTIONS[0], ("b", {"n": 100, "conversions": 101})],
            [0.5, 0.5],
            0.05,
            "variants[1].conversions",
        ),
        (
            "proportion",
            [PROPORTIONS[0], ("b", {"n": 1, "conversions": 0})],
            [0.5, 0.5],
            0.05,
            "variants[1].n",
        ),
        (
            "proportion",
            [PROPORTIONS[0], ("b", {"n": 100})],
            [0.5, 0.5],
            0.05,
            "variants[1].conversions",
        ),
        (
            "proportion",
            [PROPORTIONS[0], ("b", {"n": 100, "conversions": 1, "x": 1})],
            [0.5, 0.5],
            0.05,
            "variants[1].x",
        ),
        (
            "proportion",
            [PROPORTIONS[0], ("control", {"n": 100, "conversions": 1})],
            [0.5, 0.5],
            0.05,
            "variants[1].name",
        ),
        (
            "proportion",
            [PROPORTIONS[0], ("b", MeanStats(**GOOD_MEAN))],
            [0.5, 0.5],
            0.05,
            "variants[1]",
        ),
        ("proportion", PROPORTIONS[:2], [0.5, 0.4], 0.05, "weights"),
        ("proportion", PROPORTIONS[:2], [1 / 3] * 3, 0.05, "weights"),
        ("proportion", PROPORTIONS[:2], [0.5, 0.5], 1.0, "alpha"),
        (
            "mean",
            [("a", GOOD_MEAN), ("b", {"n": 100, "sum": 500.0, "sum_squares": 2_000.0})],
            [0.5, 0.5],
            0.05,
            "variants[1].sum_squares",
        ),
        (
            "mean",
            [("a", GOOD_MEAN), ("b", GOOD_MEAN | {"pre_sum": 1.0})],
            [0.5, 0.5],
            0.05,
            "variants[1].pre_sum_squares",
        ),
        (
            "mean",
            [
                ("a", GOOD_MEAN),
                ("b", GOOD_MEAN | {"pre_sum": 1.0, "pre_sum_squares": 1.0, "sum_products": 5.0}),
            ],
            [0.5, 0.5],
            0.05,
            "variants[0].pre_sum",
        ),
        (
            "mean",
            [
                ("a", {"n": 10, "sum": 20.0, "sum_squares": 40.0}),
                ("b", {"n": 10, "sum": 30.0, "sum_squares": 90.0}),
            ],
            [0.5, 0.5],
            0.05,
            "variants[1].sum_squares",
        ),
    ],
)
def test_invalid_requests_name_the_field(metric_type, variants, weights, alpha, field):
    with pytest.raises(InputError) as caught:
        compare(metric_type, variants, weights, alpha)
    assert caught.value.field == field


def test_mde_facade_both_directions():
    forward = mde("proportion", 0.05, [0.5, 0.5], daily_units=10_000, mde_rel=0.05)
    assert forward.n_total == sum(forward.n_per_variant)
    assert forward.days == -(-forward.n_total // 10_000)
    backward = mde("proportion", 0.05, [0.5, 0.5], daily_units=10_000, n_total=forward.n_total)
    assert backward.mde_rel == pytest.approx(0.05, rel=1e-4)
    means = mde(
        "mean", 20.0, [0.5, 0.5], daily_units=1_000, n_total=20_000, std=8.0, correlation=0.5
    )
    assert means.n_total == 20_000 and means.days == 20
    again = mde(
        "mean", 20.0, [0.5, 0.5], daily_units=1_000, mde_rel=means.mde_rel, std=8.0, correlation=0.5
    )
    assert again.n_total == 20_000


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"metric_type": "ratio", "mde_rel": 0.1}, "metric_type"),
        ({}, "mde_rel"),
        ({"mde_rel": 0.1, "n_total": 1000}, "mde_rel"),
        ({"mde_rel": 0.1, "std": 1.0}, "std"),
        ({"mde_rel": 0.1, "correlation": 0.3}, "correlation"),
        ({"metric_type": "mean", "mde_rel": 0.1}, "std"),
        ({"mde_rel": 0.1, "daily_units": -5}, "daily_units"),
        ({"mde_rel": 0.1, "power": 0}, "power"),
    ],
)
def test_mde_facade_names_the_field(kwargs, field):
    arguments = {
        "metric_type": "proportion",
        "baseline": 0.05,
        "weights": [0.5, 0.5],
        "daily_units": 100,
    } | kwargs
    with pytest.raises(InputError) as caught:
        mde(**arguments)
    assert caught.value.field == field
