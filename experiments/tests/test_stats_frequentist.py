import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats import proportion as sm_proportion

from experiments.stats.frequentist import proportion_z_test, welch_test
from experiments.stats.sufficient import MeanStats, ProportionStats
from experiments.stats.validation import InputError
from experiments.tests.factories import mean_stats


@pytest.mark.parametrize(
    ("seed", "n_c", "n_t", "scale_t", "alpha"),
    [
        (1, 30, 45, 1.0, 0.05),
        (2, 500, 80, 3.0, 0.10),
        (3, 2000, 2500, 0.4, 0.01),
        (4, 5, 9, 8.0, 0.2),
    ],
)
def test_welch_matches_scipy_on_the_raw_data(seed, n_c, n_t, scale_t, alpha):
    rng = np.random.default_rng(seed)
    control = rng.gamma(2.0, 3.0, n_c)
    treatment = rng.gamma(2.0, 3.0 * scale_t, n_t) + 0.5
    result = welch_test(mean_stats(control), mean_stats(treatment), alpha)
    reference = sps.ttest_ind(treatment, control, equal_var=False)
    interval = reference.confidence_interval(1 - alpha)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-7)
    assert result.ci_abs == pytest.approx((interval.low, interval.high), rel=1e-7)
    assert result.lift_abs == pytest.approx(treatment.mean() - control.mean(), rel=1e-9)
    assert result.lift_rel == pytest.approx(treatment.mean() / control.mean() - 1, rel=1e-9)


def test_relative_lift_delta_method_against_brute_force_simulation():
    """Across many replicated experiments the spread of m_t/m_c - 1 must match the delta-method
    standard error, and the relative interval must cover the true lift about 95% of the time."""
    rng = np.random.default_rng(11)
    replicates, n_c, n_t = 2000, 1500, 1000
    mu_c, mu_t = 4.0, 4.6  # exponential metrics: sd = mean, skewed like revenue
    control = rng.exponential(mu_c, (replicates, n_c))
    treatment = rng.exponential(mu_t, (replicates, n_t))
    results = [
        welch_test(
            MeanStats(n=n_c, sum=float(c.sum()), sum_squares=float(c @ c)),
            MeanStats(n=n_t, sum=float(t.sum()), sum_squares=float(t @ t)),
        )
        for c, t in zip(control, treatment, strict=True)
    ]
    simulated_sd = np.std([r.lift_rel for r in results], ddof=1)
    mean_se = np.mean([r.se_rel for r in results])
    assert mean_se == pytest.approx(simulated_sd, rel=0.05)
    true_lift = mu_t / mu_c - 1
    covered = sum(lo <= true_lift <= hi for lo, hi in (r.ci_rel for r in results))
    lo, hi = sps.binom.interval(0.999, replicates, 0.95)
    assert lo <= covered <= hi


@pytest.mark.parametrize(
    ("c_conv", "c_n", "t_conv", "t_n", "alpha"),
    [
        (500, 10_000, 560, 10_100, 0.05),
        (30, 200, 18, 240, 0.1),
        (9_000, 10_000, 8_800, 9_000, 0.01),
    ],
)
def test_proportions_match_statsmodels_wald(c_conv, c_n, t_conv, t_n, alpha):
    result = proportion_z_test(
        ProportionStats(n=c_n, conversions=c_conv),
        ProportionStats(n=t_n, conversions=t_conv),
        alpha,
    )
    test = sm_proportion.test_proportions_2indep(
        t_conv, t_n, c_conv, c_n, method="wald", compare="diff"
    )
    interval = sm_proportion.confint_proportions_2indep(
        t_conv, t_n, c_conv, c_n, method="wald", compare="diff", alpha=alpha
    )
    assert result.p_value == pytest.approx(test.pvalue, rel=1e-9)
    assert result.ci_abs == pytest.approx(interval, rel=1e-9)
    assert (result.p_value < alpha) == (result.ci_abs[0] > 0 or result.ci_abs[1] < 0)


def test_proportion_relative_interval_against_simulation():
    rng = np.random.default_rng(5)
    replicates, n, p_c, p_t = 3000, 4000, 0.08, 0.09
    c_conv = rng.binomial(n, p_c, replicates)
    t_conv = rng.binomial(n, p_t, replicates)
    results = [
        proportion_z_test(ProportionStats(n, int(c)), ProportionStats(n, int(t)))
        for c, t in zip(c_conv, t_conv, strict=True)
    ]
    simulated_sd = np.std([r.lift_rel for r in results], ddof=1)
    assert np.mean([r.se_rel for r in results]) == pytest.approx(simulated_sd, rel=0.05)


samples = st.lists(st.integers(-1000, 1000), min_size=2, max_size=40).map(
    lambda v: np.array(v, dtype=float)
)


def _welch_or_reject(control, treatment):
    try:
        return welch_test(mean_stats(control), mean_stats(treatment))
    except InputError:
        assume(False)


@settings(max_examples=150, deadline=None, database=None)
@given(samples, samples)
def test_swapping_arms_flips_the_lift_and_keeps_the_p_value(a, b):
    assume(a.mean() != 0 and b.mean() != 0)
    forward = _welch_or_reject(a, b)
    backward = _welch_or_reject(b, a)
    assert backward.lift_abs == pytest.approx(-forward.lift_abs, rel=1e-9, abs=1e-12)
    assert backward.p_value == pytest.approx(forward.p_value, rel=1e-9, abs=1e-300)


@settings(max_examples=150, deadline=None, database=None)
@given(samples, samples, st.floats(1e-3, 1e3))
def test_scaling_both_arms_leaves_the_p_value_unchanged(a, b, scale):
    assume(a.mean() != 0)
    plain = _welch_or_reject(a, b)
    scaled = _welch_or_reject(a * scale, b * scale)
    assert scaled.p_value == pytest.approx(plain.p_value, rel=1e-6, abs=1e-12)
    assert scaled.lift_abs == pytest.approx(plain.lift_abs * scale, rel=1e-6, abs=1e-9)
    assert scaled.lift_rel == pytest.approx(plain.lift_rel, rel=1e-6, abs=1e-9)


@settings(max_examples=150, deadline=None, database=None)
@given(
    st.integers(2, 10_000).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, n - 1))),
    st.integers(2, 10_000).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, n - 1))),
)
def test_swapping_proportion_arms_keeps_the_p_value(first, second):
    a, b = ProportionStats(*first), ProportionStats(*second)
    forward, backward = proportion_z_test(a, b), proportion_z_test(b, a)
    assert backward.lift_abs == pytest.approx(-forward.lift_abs, abs=1e-15)
    assert backward.p_value == pytest.approx(forward.p_value, rel=1e-12, abs=1e-300)
    assert 0 <= forward.p_value <= 1


@pytest.mark.parametrize(
    ("control", "treatment", "field"),
    [
        (MeanStats(3, 6.0, 12.0), MeanStats(3, 9.0, 27.0), "treatment.sum_squares"),
    ],
)
def test_welch_degenerate_input_names_the_field(control, treatment, field):
    with pytest.raises(InputError) as caught:
        welch_test(control, treatment)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("control", "treatment", "alpha", "field"),
    [
        (ProportionStats(10, 10), ProportionStats(10, 10), 0.05, "treatment.conversions"),
        (ProportionStats(10, 2), ProportionStats(10, 3), 1.0, "alpha"),
        (ProportionStats(10, 2), ProportionStats(10, 3), 0, "alpha"),
    ],
)
def test_proportion_degenerate_input_names_the_field(control, treatment, alpha, field):
    with pytest.raises(InputError) as caught:
        proportion_z_test(control, treatment, alpha)
    assert caught.value.field == field


def test_a_control_mean_of_zero_leaves_only_the_relative_lift_undefined():
    control, treatment = np.array([-1.0, 1.0, 0.0]), np.array([1.0, 3.0, 2.0])
    result = welch_test(mean_stats(control), mean_stats(treatment))
    reference = sps.ttest_ind(treatment, control, equal_var=False)
    assert result.lift_rel is None and result.ci_rel is None and result.se_rel is None
    assert result.lift_abs == pytest.approx(2.0)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-9)
