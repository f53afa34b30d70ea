"""A/A simulations: with no true difference, each test must reject about alpha of the time."""

import numpy as np
import pytest
from scipy import stats as sps

from experiments.stats import MeanStats, ProportionStats, compare
from experiments.stats.frequentist import proportion_z_test

RUNS = 2000
ALPHA = 0.05


def _assert_calibrated(p_values, uniform=True):
    p_values = np.asarray(p_values)
    low, high = sps.binom.interval(0.999, RUNS, ALPHA)
    assert low <= np.sum(p_values < ALPHA) <= high
    if uniform:
        assert sps.kstest(p_values, "uniform").pvalue > 0.001


def _sums(values):
    return values.sum(axis=1), np.einsum("ij,ij->i", values, values)


def test_welch_false_positive_rate():
    rng = np.random.default_rng(101)
    n_c, n_t = 300, 200  # unequal sizes and skewed data: Welch's regime
    control, treatment = rng.exponential(3.0, (RUNS, n_c)), rng.exponential(3.0, (RUNS, n_t))
    (s_c, q_c), (s_t, q_t) = _sums(control), _sums(treatment)
    p_values = [
        compare(
            "mean",
            [("a", MeanStats(n_c, s_c[i], q_c[i])), ("b", MeanStats(n_t, s_t[i], q_t[i]))],
            [0.6, 0.4],
            ALPHA,
        )
        .comparisons[0]
        .p_value
        for i in range(RUNS)
    ]
    _assert_calibrated(p_values)


def test_cuped_false_positive_rate():
    rng = np.random.default_rng(202)
    n = 250
    pre = rng.gamma(2.0, 2.0, (RUNS, 2, n))
    post = 0.8 * pre + rng.normal(0, 1.5, (RUNS, 2, n))
    p_values = []
    for run in range(RUNS):
        arms = [
            (
                name,
                MeanStats(
                    n=n,
                    sum=post[run, k].sum(),
                    sum_squares=post[run, k] @ post[run, k],
                    pre_sum=pre[run, k].sum(),
                    pre_sum_squares=pre[run, k] @ pre[run, k],
                    sum_products=pre[run, k] @ post[run, k],
                ),
            )
            for k, name in enumerate(("a", "b"))
        ]
        result = compare("mean", arms, [0.5, 0.5], ALPHA)
        assert result.cuped_applied
        p_values.append(result.comparisons[0].p_value)
    _assert_calibrated(p_values)


@pytest.mark.parametrize(("rate", "n"), [(0.1, 1000), (0.02, 5000)])
def test_proportion_false_positive_rate(rate, n):
    rng = np.random.default_rng(int(rate * 1000) + n)
    conversions = rng.binomial(n, rate, (RUNS, 2))
    p_values = [
        proportion_z_test(ProportionStats(n, int(c)), ProportionStats(n, int(t)), ALPHA).p_value
        for c, t in conversions
    ]
    _assert_calibrated(p_values, uniform=False)  # counts are discrete, so p is not uniform


def test_ratio_false_positive_rate():
    # Units with clustered events (a unit's clicks depend on its own views): the delta method
    # must still reject about alpha of the time.
    rng = np.random.default_rng(303)
    n = 400
    views = rng.negative_binomial(2, 0.4, (RUNS, 2, n)).astype(float)
    propensity = rng.beta(2, 5, (RUNS, 2, n))
    clicks = rng.binomial(views.astype(int), propensity).astype(float)
    p_values = []
    for run in range(RUNS):
        arms = []
        for k, name in enumerate(("control", "treatment")):
            x, y = clicks[run, k], views[run, k]
            arms.append(
                (
                    name,
                    {
                        "n": n,
                        "numerator_sum": x.sum(),
                        "numerator_sum_squares": x @ x,
                        "denominator_sum": y.sum(),
                        "denominator_sum_squares": y @ y,
                        "sum_products": x @ y,
                    },
                )
            )
        p_values.append(compare("ratio", arms, [0.5, 0.5], ALPHA).comparisons[0].p_value)
    _assert_calibrated(p_values)


def test_sequential_intervals_hold_across_thirty_looks():
    """Peeking: read an A/A experiment 30 times as data arrive and stop at the first interval
    that excludes 0. Fixed-horizon intervals declare far more than alpha of the runs; the
    confidence sequence at most alpha (it bounds the error over every look at once)."""
    rng = np.random.default_rng(404)
    runs, looks, batch = 1000, 30, 200
    data = rng.exponential(3.0, (runs, 2, looks * batch))  # skewed, like revenue
    sums = np.cumsum(data.reshape(runs, 2, looks, batch).sum(axis=3), axis=2)
    squares = np.cumsum((data**2).reshape(runs, 2, looks, batch).sum(axis=3), axis=2)
    declared = {False: 0, True: 0}
    for sequential in (False, True):
        for run in range(runs):
            for look in range(looks):
                n = (look + 1) * batch
                variants = [
                    (
                        name,
                        {"n": n, "sum": sums[run, k, look], "sum_squares": squares[run, k, look]},
                    )
                    for k, name in enumerate(("a", "b"))
                ]
                result = compare(
                    "mean",
                    variants,
                    [0.5, 0.5],
                    ALPHA,
                    sequential=sequential,
                    sequential_tuning=2 * looks * batch,
                )
                if result.comparisons[0].decision != "inconclusive":
                    declared[sequential] += 1
                    break
    assert declared[True] <= ALPHA * runs
    low, _ = sps.binom.interval(0.999, runs, 2 * ALPHA)
    assert declared[False] > low  # peeking at fixed-horizon intervals: well above alpha


def test_cuped_conversion_false_positive_rate():
    """Conversions adjusted by the same units' pre-period conversions (0/1 both, correlated
    through each unit's own propensity): still about alpha."""
    rng = np.random.default_rng(303)
    n = 2000
    propensity = rng.beta(0.5, 6.0, (RUNS, 2, n))
    pre = rng.random((RUNS, 2, n)) < propensity
    post = rng.random((RUNS, 2, n)) < propensity
    p_values = []
    for run in range(RUNS):
        arms = [
            (
                name,
                ProportionStats(
                    n=n,
                    conversions=int(post[run, k].sum()),
                    pre_conversions=int(pre[run, k].sum()),
                    conversion_products=int((pre[run, k] & post[run, k]).sum()),
                ),
            )
            for k, name in enumerate(("a", "b"))
        ]
        result = compare("proportion", arms, [0.5, 0.5], ALPHA)
        assert result.cuped_applied
        p_values.append(result.comparisons[0].p_value)
    _assert_calibrated(p_values, uniform=False)
