"""CUPED for ratio metrics on simulated units: against a unit-level delta method written apart
from the sums (references.ratio_cuped_on_units), at theta = 0, at the optimal theta, in A/A
simulations, and on the inputs it must not adjust by."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from experiments.stats import RatioStats, compare
from experiments.stats.frequentist import welch_difference
from experiments.stats.ratio_cuped import adjusted_ratio, adjusted_ratio_difference, ratio_cuped
from experiments.stats.validation import InputError
from experiments.tests.references import ratio_cuped_on_units
from experiments.tests.stats_examples import ratio_sums

ALPHA = 0.05


def units(rng, n, persistence, lift=0.0, views=4.5):
    """(x, y, x', y') of n units: clicks and views after and before exposure. Each unit has an
    activity level and a click-through propensity; `persistence` of each carries over from the
    pre-period (the rest is drawn afresh), so it sets how much the periods' ratios correlate."""
    activity, propensity = rng.gamma(1.5, views / 1.5, n), rng.beta(3.0, 7.0, n)
    post_activity = persistence * activity + (1 - persistence) * rng.gamma(1.5, views / 1.5, n)
    post_propensity = persistence * propensity + (1 - persistence) * rng.beta(3.0, 7.0, n)
    y_pre = rng.poisson(activity)
    x_pre = rng.binomial(y_pre, propensity)
    y = rng.poisson(post_activity)
    x = rng.binomial(y, np.minimum(post_propensity * (1 + lift), 1.0))
    return tuple(v.astype(float) for v in (x, y, x_pre, y_pre))


def ratio_stats(x, y, x_pre=None, y_pre=None) -> RatioStats:
    return RatioStats(n=len(x), **ratio_sums(x, y, x_pre, y_pre))


def run(*arms, sequential=False):
    result = compare(
        "ratio",
        [(f"v{i}", ratio_stats(*arm)) for i, arm in enumerate(arms)],
        [1 / len(arms)] * len(arms),
        ALPHA,
        sequential=sequential,
        correction="none",
    )
    return result, result.comparisons


@pytest.mark.parametrize(
    ("seed", "n_c", "n_t", "persistence", "lift"),
    [(1, 3000, 5000, 0.9, 0.05), (2, 4000, 1500, 0.3, 0.0), (3, 2000, 2000, 0.7, -0.08)],
)
def test_the_sums_give_the_unit_level_delta_method(seed, n_c, n_t, persistence, lift):
    rng = np.random.default_rng(seed)
    control, treatment = units(rng, n_c, persistence), units(rng, n_t, persistence, lift)
    result, (ours,) = run(control, treatment)
    reference = ratio_cuped_on_units(control, treatment)
    assert result.cuped_applied
    # theta comes from a numerical minimiser, accurate to about 1e-8.
    assert result.theta == pytest.approx(reference.theta, rel=1e-6)
    assert ours.lift_abs == pytest.approx(reference.lift, rel=1e-6)
    assert ours.lift_rel == pytest.approx(reference.lift_rel, rel=1e-6)
    assert ours.difference.se_abs == pytest.approx(reference.se, rel=1e-9)
    assert ours.difference.se_rel == pytest.approx(reference.se_rel, rel=1e-9)
    assert ours.difference.df == pytest.approx(reference.df, rel=1e-6)
    assert ours.p_value == pytest.approx(reference.relative_p_value, rel=1e-5)


def test_theta_zero_is_the_unadjusted_ratio_exactly():
    rng = np.random.default_rng(4)
    arms = [units(rng, 2500, 0.8), units(rng, 3500, 0.8, 0.04)]
    adjusted = [adjusted_ratio(ratio_stats(*arm), 0.0) for arm in arms]
    plain = [ratio_stats(*arm[:2]) for arm in arms]
    for arm, stats in zip(adjusted, plain, strict=True):
        assert (arm.mean, arm.variance, arm.raw_mean) == (stats.mean, stats.variance, stats.mean)
    ours = adjusted_ratio_difference(*adjusted)
    unadjusted = welch_difference(*plain)
    assert (ours.lift_abs, ours.se_abs, ours.df, ours.lift_rel) == (
        unadjusted.lift_abs,
        unadjusted.se_abs,
        unadjusted.df,
        unadjusted.lift_rel,
    )
    # The relative standard error is written another way (module docstring): equal to rounding.
    assert ours.se_rel == pytest.approx(unadjusted.se_rel, rel=1e-12)


@pytest.mark.parametrize(
    ("seed", "n_c", "n_t", "persistence"),
    [(5, 3000, 5000, 0.0), (6, 3000, 5000, 0.5), (7, 6000, 1000, 0.9), (8, 2000, 2000, 1.0)],
)
def test_the_optimal_theta_never_widens_the_interval(seed, n_c, n_t, persistence):
    rng = np.random.default_rng(seed)
    control, treatment = units(rng, n_c, persistence), units(rng, n_t, persistence, 0.03)
    result, (ours,) = run(control, treatment)
    assert result.cuped_applied
    assert ours.variance_reduction >= 0
    assert ours.ci_abs[1] - ours.ci_abs[0] <= _unadjusted_width(control, treatment)
    # theta is where the variance of the difference is least: a step either way adds to it.
    stats = [ratio_stats(*control), ratio_stats(*treatment)]

    def variance(theta):
        return sum(a.variance / a.n for a in (adjusted_ratio(s, theta) for s in stats))

    least = variance(result.theta)
    assert least == pytest.approx(ours.difference.se_abs**2, rel=1e-12)
    for step in (1e-3, 1e-2, 0.1):
        assert variance(result.theta - step) > least < variance(result.theta + step)


def _unadjusted_width(control, treatment):
    _, (plain,) = run(control[:2], treatment[:2])
    return plain.ci_abs[1] - plain.ci_abs[0]


def test_variance_reduction_is_the_squared_correlation_of_the_periods_ratios():
    rng = np.random.default_rng(9)
    arms = [units(rng, 20_000, 0.9, views=30), units(rng, 20_000, 0.9, views=30)]
    _, (ours,) = run(*arms)

    def linearised(x, y, x_pre, y_pre):
        return x - x.sum() / y.sum() * y, x_pre - x_pre.sum() / y_pre.sum() * y_pre

    rho = np.mean([np.corrcoef(*linearised(*arm))[0, 1] for arm in arms])
    assert rho > 0.7  # a strong covariate, so the check below is not vacuous
    assert ours.variance_reduction == pytest.approx(rho * rho, abs=0.01)


def test_a_a_false_positive_rate_stays_at_alpha():
    runs, n_c, n_t = 400, 300, 500
    rng = np.random.default_rng(10)
    fixed, sequential, lifts, variances = [], [], [], []
    for _ in range(runs):
        control, treatment = units(rng, n_c, 0.8), units(rng, n_t, 0.8)
        result, (ours,) = run(control, treatment)
        assert result.cuped_applied
        fixed.append(ours.p_value)
        sequential.append(run(control, treatment, sequential=True)[1][0].p_value)
        lifts.append(ours.lift_abs)
        variances.append(ours.difference.se_abs**2)
    fixed, sequential = np.array(fixed), np.array(sequential)
    # The count of rejections of a calibrated test is Binomial(runs, alpha).
    low, high = sps.binom.interval(0.999, runs, ALPHA)
    assert low <= np.sum(fixed < ALPHA) <= high
    assert sps.kstest(fixed, "uniform").pvalue > 0.001
    # Always-valid p-values are conservative: no more rejections than alpha allows.
    assert np.sum(sequential < ALPHA) <= high
    # The predicted variance of the adjusted lift is the variance its draws have.
    assert np.var(lifts, ddof=1) == pytest.approx(np.mean(variances), rel=0.2)


def test_an_arm_without_pre_period_activity_falls_back_to_the_plain_ratio():
    rng = np.random.default_rng(11)
    control, treatment = units(rng, 2000, 0.8), units(rng, 2000, 0.8, 0.05)
    newcomers = (*treatment[:2], np.zeros(2000), np.zeros(2000))
    result, (ours,) = run(control, newcomers)
    _, (plain,) = run(control[:2], treatment[:2])
    assert (result.theta, result.cuped_applied, ours.variance_reduction) == (0.0, False, 0.0)
    assert (ours.ci_abs, ours.ci_rel, ours.p_value) == (plain.ci_abs, plain.ci_rel, plain.p_value)


@pytest.mark.parametrize(
    "pre_ratio",
    [
        lambda y_pre: np.zeros_like(y_pre),  # views but never a click before
        lambda y_pre: y_pre,  # every view clicked
        lambda y_pre: 0.1 * y_pre,  # the same ratio for every unit, up to rounding
    ],
)
def test_a_pre_period_ratio_without_variance_falls_back(pre_ratio):
    rng = np.random.default_rng(12)
    arms = []
    for lift in (0.0, 0.05):
        x, y, _, y_pre = units(rng, 2000, 0.8, lift)
        arms.append((x, y, pre_ratio(y_pre), y_pre))
    result, (ours,) = run(*arms)
    _, (plain,) = run(arms[0][:2], arms[1][:2])
    assert (result.theta, result.cuped_applied) == (0.0, False)
    assert (ours.ci_rel, ours.p_value) == (plain.ci_rel, plain.p_value)


def test_a_pre_period_ratio_beyond_floating_point_is_no_covariate_and_no_error():
    # Consistent sums within every input limit whose pre-period ratio (about 1e195) squares
    # past the largest float.
    rng = np.random.default_rng(13)
    control, treatment = units(rng, 500, 0.8), units(rng, 500, 0.8)
    x, y, x_pre, y_pre = treatment
    huge = ratio_stats(x, y, x_pre * 1e45, y_pre * 1e-150)
    result = ratio_cuped([ratio_stats(*control), huge])
    assert (result.theta, result.cuped_applied) == (0.0, False)
    assert all(np.isfinite([a.mean, a.variance]).all() for a in result.arms)


def test_one_theta_for_every_treatment_and_a_variant_without_the_covariate_is_named():
    rng = np.random.default_rng(14)
    arms = [units(rng, n, 0.8, lift) for n, lift in ((3000, 0.0), (2000, 0.05), (2500, -0.05))]
    result, comparisons = run(*arms)
    stats = [ratio_stats(*arm) for arm in arms]
    means = [a.mean for a in ratio_cuped(stats).arms]
    assert result.cuped_applied and len(comparisons) == 2
    for k, comparison in enumerate(comparisons, start=1):
        assert comparison.lift_abs == pytest.approx(means[k] - means[0], rel=1e-12)
    with pytest.raises(InputError) as caught:
        ratio_cuped([*stats[:2], ratio_stats(*arms[2][:2])])
    assert caught.value.field == "variants[2].pre_numerator_sum"


# Small counts make every degenerate arm likely: no pre-period views, a constant ratio, one unit
# with all the activity; the scales push the pre-period ratio towards the ends of floating point.
unit_rows = st.lists(st.tuples(*[st.integers(0, 6)] * 4), min_size=2, max_size=25)


@settings(max_examples=300, deadline=None, database=None)
@given(unit_rows, unit_rows, st.sampled_from([(1.0, 1.0), (1e40, 1.0), (1.0, 1e-100)]))
def test_any_units_give_finite_numbers_or_a_named_refusal(a, b, scales):
    arms = []
    for rows in (a, b):
        x, y, x_pre, y_pre = (np.array(column, dtype=float) for column in zip(*rows, strict=True))
        arms.append((x, y, x_pre * scales[0], y_pre * scales[1]))
    try:
        result, (ours,) = run(*arms)
    except InputError:
        return  # e.g. no views at all after exposure, or no variance in either arm
    numbers = [result.theta, ours.lift_abs, *ours.ci_abs, ours.p_value, ours.variance_reduction]
    numbers += list(ours.ci_rel or ())
    assert all(math.isfinite(v) for v in numbers), (result, ours)
    assert result.cuped_applied or result.theta == 0
