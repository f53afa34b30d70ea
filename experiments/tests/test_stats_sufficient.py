import math

import numpy as np
import pytest

from experiments.stats.sufficient import MeanStats, ProportionStats, RatioStats
from experiments.stats.validation import InputError
from experiments.tests.factories import mean_stats
from experiments.tests.stats_examples import ratio_sums


def test_moments_match_numpy_on_raw_data():
    rng = np.random.default_rng(7)
    y = rng.lognormal(1, 1, 5000)
    x = y * 0.3 + rng.gamma(2, 2, 5000)
    stats = mean_stats(y, x)
    assert stats.mean == pytest.approx(y.mean(), rel=1e-12)
    assert stats.variance == pytest.approx(np.var(y, ddof=1), rel=1e-9)
    assert stats.pre_mean == pytest.approx(x.mean(), rel=1e-12)
    assert stats.pre_variance == pytest.approx(np.var(x, ddof=1), rel=1e-9)
    assert stats.covariance == pytest.approx(np.cov(x, y, ddof=1)[0, 1], rel=1e-9)
    assert stats.has_covariate
    assert not mean_stats(y).has_covariate


def test_proportion_rate_and_bernoulli_variance():
    stats = ProportionStats(n=400, conversions=100)
    assert stats.mean == 0.25
    assert stats.bernoulli_variance == pytest.approx(0.25 * 0.75)


def test_constant_metric_rounding_reads_as_zero_variance():
    # Σy² - (Σy)²/n of a constant is pure rounding noise; it must clamp to 0, not be rejected.
    y = np.full(100_001, 0.1)
    stats = MeanStats(n=len(y), sum=math.fsum(y), sum_squares=float(sum(v * v for v in y)))
    assert stats.variance == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n": 1, "conversions": 0}, "n"),
        ({"n": 10.0, "conversions": 1}, "n"),
        ({"n": True, "conversions": 1}, "n"),
        ({"n": 10, "conversions": 11}, "conversions"),
        ({"n": 10, "conversions": -1}, "conversions"),
        ({"n": 10, "conversions": 2.5}, "conversions"),
    ],
)
def test_proportion_validation_names_the_field(kwargs, field):
    with pytest.raises(InputError) as caught:
        ProportionStats(**kwargs)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n": 1, "sum": 1.0, "sum_squares": 1.0}, "n"),
        ({"n": 10, "sum": float("nan"), "sum_squares": 1.0}, "sum"),
        ({"n": 10, "sum": 1.0, "sum_squares": float("inf")}, "sum_squares"),
        ({"n": 10, "sum": 100.0, "sum_squares": 999.0}, "sum_squares"),
        ({"n": 10, "sum": 1.0, "sum_squares": 1.0, "pre_sum": 1.0}, "pre_sum_squares"),
        (
            {"n": 10, "sum": 1.0, "sum_squares": 1.0, "pre_sum": 1.0, "pre_sum_squares": 1.0},
            "sum_products",
        ),
        (
            {
                "n": 10,
                "sum": 10.0,
                "sum_squares": 20.0,
                "pre_sum": 10.0,
                "pre_sum_squares": 5.0,
                "sum_products": 10.0,
            },
            "pre_sum_squares",
        ),
        (
            # var(y) = var(x) = 10/9 but Σ(x-x̄)(y-ȳ) = 30: a correlation of 3.
            {
                "n": 10,
                "sum": 10.0,
                "sum_squares": 20.0,
                "pre_sum": 10.0,
                "pre_sum_squares": 20.0,
                "sum_products": 40.0,
            },
            "sum_products",
        ),
    ],
)
def test_mean_validation_names_the_field(kwargs, field):
    with pytest.raises(InputError) as caught:
        MeanStats(**kwargs)
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)


def ratio_stats(x: np.ndarray, y: np.ndarray) -> RatioStats:
    return RatioStats(
        n=len(x),
        numerator_sum=float(x.sum()),
        numerator_sum_squares=float(x @ x),
        denominator_sum=float(y.sum()),
        denominator_sum_squares=float(y @ y),
        sum_products=float(x @ y),
    )


def test_ratio_variance_is_the_linearised_variance():
    # Delta method written another way: Var(Σx/Σy) ≈ var((x - R·y) / ȳ) / n over units.
    rng = np.random.default_rng(11)
    y = rng.poisson(4, 3000).astype(float)
    x = rng.binomial(y.astype(int), 0.3).astype(float)
    stats = ratio_stats(x, y)
    ratio = x.sum() / y.sum()
    assert stats.mean == pytest.approx(ratio, rel=1e-12)
    linear = (x - ratio * y) / y.mean()
    assert stats.variance == pytest.approx(np.var(linear, ddof=1), rel=1e-9)


def test_ratio_variance_matches_the_spread_of_simulated_ratios():
    # Against the sampling distribution itself: 4000 ratios of fresh samples.
    rng = np.random.default_rng(12)
    n = 2000
    y = rng.poisson(3, (4000, n)).astype(float)
    x = rng.binomial(y.astype(int), 0.25).astype(float)
    ratios = x.sum(axis=1) / y.sum(axis=1)
    predicted = ratio_stats(x[0], y[0]).variance / n
    assert predicted == pytest.approx(np.var(ratios, ddof=1), rel=0.1)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"n": 1}, "n"),
        ({"denominator_sum": 0.0}, "denominator_sum"),
        ({"numerator_sum_squares": 1.0}, "numerator_sum_squares"),
        ({"sum_products": 10_000.0}, "sum_products"),
        ({"numerator_sum": float("nan")}, "numerator_sum"),
    ],
)
def test_inconsistent_ratio_sums_are_rejected(changes, field):
    values = {
        "n": 100,
        "numerator_sum": 30.0,
        "numerator_sum_squares": 40.0,
        "denominator_sum": 100.0,
        "denominator_sum_squares": 150.0,
        "sum_products": 45.0,
    }
    with pytest.raises(InputError) as err:
        RatioStats(**(values | changes))
    assert err.value.field == field


def ratio_cuped_sums(x, y, x_pre, y_pre) -> dict:
    """RatioStats' fields for units with numerators and denominators after (x, y) and before
    (x', y') exposure."""
    return {"n": len(x), **ratio_sums(x, y, x_pre, y_pre)}


def _clicks_and_views(seed: int, n: int = 3000):
    rng = np.random.default_rng(seed)
    propensity = rng.beta(3, 7, n)
    views_pre, views = rng.poisson(4, n), rng.poisson(4, n)
    clicks, clicks_pre = rng.binomial(views, propensity), rng.binomial(views_pre, propensity)
    return tuple(v.astype(float) for v in (clicks, views, clicks_pre, views_pre))


def test_ratio_covariate_moments_are_the_linearised_ones():
    x, y, x_pre, y_pre = _clicks_and_views(21)
    stats = RatioStats(**ratio_cuped_sums(x, y, x_pre, y_pre))
    pre_ratio = x_pre.sum() / y_pre.sum()
    u = (x - x.sum() / y.sum() * y) / y.mean()
    w = (x_pre - pre_ratio * y_pre) / y_pre.mean()
    assert stats.has_covariate
    assert not ratio_stats(x, y).has_covariate
    assert stats.pre_mean == pytest.approx(pre_ratio, rel=1e-12)
    assert stats.pre_variance == pytest.approx(np.var(w, ddof=1), rel=1e-9)
    assert stats.covariance == pytest.approx(np.cov(u, w)[0, 1], rel=1e-9)
    assert stats.variance == ratio_stats(x, y).variance  # the covariate leaves it alone


RATIO_CUPED_SUMS = ratio_cuped_sums(*_clicks_and_views(22, 500))
RATIO_COVARIATE = [k for k in RATIO_CUPED_SUMS if "pre" in k]


@pytest.mark.parametrize("missing", RATIO_COVARIATE)
def test_a_partial_ratio_covariate_names_the_missing_sum(missing):
    assert len(RATIO_COVARIATE) == 9
    with pytest.raises(InputError) as caught:
        RatioStats(**{k: v for k, v in RATIO_CUPED_SUMS.items() if k != missing})
    assert caught.value.field == missing


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"pre_numerator_sum": float("nan")}, "pre_numerator_sum"),
        ({"pre_denominator_sum": -1.0}, "pre_denominator_sum"),
        ({"pre_numerator_sum_squares": 1.0}, "pre_numerator_sum_squares"),
        ({"pre_denominator_sum_squares": 1.0}, "pre_denominator_sum_squares"),
        # Each sum of products beyond Cauchy-Schwarz's bound with the sums of squares.
        ({"pre_sum_products": 1e9}, "pre_sum_products"),
        ({"numerator_pre_numerator_products": -1e9}, "numerator_pre_numerator_products"),
        ({"numerator_pre_denominator_products": 1e9}, "numerator_pre_denominator_products"),
        ({"denominator_pre_numerator_products": 1e9}, "denominator_pre_numerator_products"),
        ({"denominator_pre_denominator_products": -1e9}, "denominator_pre_denominator_products"),
    ],
)
def test_contradicting_ratio_covariate_sums_are_rejected(changes, field):
    with pytest.raises(InputError) as caught:
        RatioStats(**(RATIO_CUPED_SUMS | changes))
    assert caught.value.field == field


def test_sums_within_every_pairwise_bound_that_fit_no_data_are_rejected():
    # The pre-period the same as the post-period: the two ratios correlate exactly 1. Lowering
    # Σyx' keeps every pair of x, y, x', y' possible but pushes the ratios' correlation past 1.
    x, y, _, _ = _clicks_and_views(23)
    sums = ratio_cuped_sums(x, y, x, y)
    lowered = sums | {"denominator_pre_numerator_products": sums["sum_products"] - 20.0}
    assert abs(np.corrcoef(y, x)[0, 1]) < 0.9  # y and x' = x: far from their pairwise bound
    with pytest.raises(InputError) as caught:
        RatioStats(**lowered)
    assert caught.value.field == "numerator_pre_numerator_products"
    assert "two periods' ratios" in caught.value.message
    RatioStats(**sums)  # the boundary itself is data: pre-period = post-period
