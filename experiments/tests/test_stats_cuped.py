import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from experiments.stats import ProportionStats, compare
from experiments.stats.cuped import cuped
from experiments.stats.frequentist import welch_test
from experiments.stats.validation import InputError
from experiments.tests.factories import correlated, mean_stats


def _ols(ys, xs):
    """OLS of y on an intercept, treatment dummies and the centred covariate, on raw rows."""
    y = np.concatenate(ys)
    x = np.concatenate(xs)
    dummies = [
        np.concatenate([np.full(len(v), float(g == k)) for g, v in enumerate(ys)])
        for k in range(1, len(ys))
    ]
    design = np.column_stack([np.ones_like(y), *dummies, x - x.mean()])
    return sm.OLS(y, design).fit()


def test_adjusted_effect_and_standard_error_match_ols_on_raw_data():
    rng = np.random.default_rng(3)
    y_c, x_c = correlated(rng, 20_000, 0.7)
    y_t, x_t = correlated(rng, 20_000, 0.7, shift=0.05)
    adjusted = cuped([mean_stats(y_c, x_c), mean_stats(y_t, x_t)])
    result = welch_test(adjusted.arms[0], adjusted.arms[1])
    fit = _ols([y_c, y_t], [x_c, x_t])
    assert adjusted.cuped_applied
    assert adjusted.theta == pytest.approx(fit.params[2], rel=1e-9)
    assert result.lift_abs == pytest.approx(fit.params[1], rel=1e-8)
    assert result.se_abs == pytest.approx(fit.bse[1], rel=0.01)


def test_theta_is_pooled_over_all_variants_like_ols_with_variant_dummies():
    rng = np.random.default_rng(4)
    arms = [
        correlated(rng, n, rho, shift)
        for n, rho, shift in [(3000, 0.2, 0.0), (5000, 0.8, 1.0), (4000, 0.5, -2.0)]
    ]
    adjusted = cuped([mean_stats(y, x) for y, x in arms])
    fit = _ols([y for y, _ in arms], [x for _, x in arms])
    assert adjusted.theta == pytest.approx(fit.params[3], rel=1e-9)
    for k in (1, 2):
        effect = adjusted.arms[k].mean - adjusted.arms[0].mean
        assert effect == pytest.approx(fit.params[k], rel=1e-8)


@pytest.mark.parametrize("rho", [0.3, 0.6, 0.9])
def test_variance_reduction_is_about_rho_squared(rho):
    rng = np.random.default_rng(int(rho * 10))
    adjusted = cuped([mean_stats(*correlated(rng, 50_000, rho)) for _ in range(2)])
    for arm in adjusted.arms:
        assert arm.variance_reduction == pytest.approx(rho * rho, abs=0.01)
        assert arm.raw_variance == pytest.approx(4.0, rel=0.03)


def test_covariate_without_variance_falls_back_to_the_raw_metric():
    rng = np.random.default_rng(8)
    ys = [rng.normal(10, 2, 1000), rng.normal(10.3, 2, 1000)]
    adjusted = cuped([mean_stats(y, np.full(len(y), 3.7)) for y in ys])
    assert adjusted.theta == 0
    assert not adjusted.cuped_applied
    for arm, y in zip(adjusted.arms, ys, strict=True):
        assert arm.mean == pytest.approx(y.mean(), rel=1e-12)
        assert arm.variance == pytest.approx(np.var(y, ddof=1), rel=1e-9)
        assert arm.variance_reduction == 0
    raw = welch_test(mean_stats(ys[0]), mean_stats(ys[1]))
    assert welch_test(*adjusted.arms).p_value == pytest.approx(raw.p_value, rel=1e-9)


def test_a_variant_without_the_covariate_is_named():
    rng = np.random.default_rng(1)
    y, x = correlated(rng, 100, 0.5)
    with pytest.raises(InputError) as caught:
        cuped([mean_stats(y, x), mean_stats(y)])
    assert caught.value.field == "variants[1].pre_sum"


pairs = st.lists(
    st.tuples(st.integers(-100, 100), st.integers(-100, 100)), min_size=3, max_size=30
).map(lambda rows: (np.array([r[0] for r in rows], float), np.array([r[1] for r in rows], float)))


@settings(max_examples=100, deadline=None, database=None)
@given(pairs, pairs, st.floats(0.01, 100), st.floats(0.01, 100))
# Found by this test: a control mean of 0 scaled to a rounding residue of 1e-13 once gave a
# relative lift of 5e15 where the unscaled data had none.
@example(
    a=(np.array([-85.0, 84.0, 1.0]), np.array([100.0, -40.0, 100.0])),
    b=(np.array([2.0, 35.0, 30.0]), np.array([-99.0, -77.0, 51.0])),
    y_scale=52.28565008678879,
    x_scale=49.102567626504445,
)
def test_scaling_metric_and_covariate_leaves_the_p_value_unchanged(a, b, y_scale, x_scale):
    def run(ys, xs):
        adjusted = cuped([mean_stats(ys[0], xs[0]), mean_stats(ys[1], xs[1])])
        return welch_test(*adjusted.arms)

    try:
        plain = run((a[0], b[0]), (a[1], b[1]))
        scaled = run((a[0] * y_scale, b[0] * y_scale), (a[1] * x_scale, b[1] * x_scale))
    except InputError:
        assume(False)
    assert scaled.p_value == pytest.approx(plain.p_value, rel=1e-6, abs=1e-9)
    assert scaled.lift_rel == pytest.approx(plain.lift_rel, rel=1e-6, abs=1e-9)


def conversions_with_history(rng, n: int, lift: float = 0.0):
    """0/1 conversions before and after exposure, correlated through each unit's propensity."""
    propensity = rng.beta(0.5, 6.0, n)
    pre = (rng.random(n) < propensity).astype(float)
    post = (rng.random(n) < np.minimum(propensity * (1 + lift), 1.0)).astype(float)
    return post, pre


def proportion_stats(post, pre) -> ProportionStats:
    return ProportionStats(
        n=len(post),
        conversions=int(post.sum()),
        pre_conversions=int(pre.sum()),
        conversion_products=int(post @ pre),
    )


def test_conversion_cuped_is_ols_on_the_zero_one_values_with_the_raw_posterior():
    rng = np.random.default_rng(8)
    (y_c, x_c), (y_t, x_t) = (conversions_with_history(rng, 30_000, lift) for lift in (0, 0.06))
    with_history = compare(
        "proportion",
        [("c", proportion_stats(y_c, x_c)), ("t", proportion_stats(y_t, x_t))],
        [0.5, 0.5],
    )
    raw = compare(
        "proportion",
        [
            ("c", ProportionStats(30_000, int(y_c.sum()))),
            ("t", ProportionStats(30_000, int(y_t.sum()))),
        ],
        [0.5, 0.5],
    )
    fit = _ols([y_c, y_t], [x_c, x_t])
    (c,), (r,) = with_history.comparisons, raw.comparisons
    assert with_history.cuped_applied and with_history.theta == pytest.approx(fit.params[2])
    assert c.lift_abs == pytest.approx(fit.params[1], rel=1e-8)
    assert c.test == "welch" and r.test == "z"
    # Welch's se of the adjusted values: OLS's, and smaller than the raw rates'.
    assert c.difference.se_abs == pytest.approx(fit.bse[1], rel=0.01)
    assert c.difference.se_abs < r.difference.se_abs
    assert c.variance_reduction == pytest.approx(
        1 - c.difference.se_abs**2 / r.difference.se_abs**2, rel=0.01
    )
    # The posterior is of the raw rates, with or without the covariate.
    assert c.prob_beat_control == r.prob_beat_control
    assert c.credible_interval_rel == r.credible_interval_rel


def test_conversion_cuped_below_the_minimum_units_is_fishers_exact_test_of_the_counts():
    rng = np.random.default_rng(9)
    (y_c, x_c), (y_t, x_t) = (conversions_with_history(rng, 60) for _ in range(2))
    arms = [("c", proportion_stats(y_c, x_c)), ("t", proportion_stats(y_t, x_t))]
    result = compare("proportion", arms, [0.5, 0.5])
    (c,) = result.comparisons
    table = [[y_t.sum(), 60 - y_t.sum()], [y_c.sum(), 60 - y_c.sum()]]
    assert c.test == "fisher_exact" and c.decision == "too_few_units"
    assert not result.cuped_applied  # the exact test read the raw counts
    assert c.p_value == pytest.approx(sps.fisher_exact(table).pvalue)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"pre_conversions": 30}, "conversion_products"),  # one without the other
        ({"conversion_products": 5}, "pre_conversions"),
        ({"pre_conversions": 101, "conversion_products": 5}, "pre_conversions"),
        # 40 before and 70 after of 100 units: at least 10 in both, at most 40.
        ({"pre_conversions": 40, "conversion_products": 41}, "conversion_products"),
        ({"pre_conversions": 40, "conversion_products": 9}, "conversion_products"),
    ],
)
def test_conversion_covariates_that_cannot_be_are_refused(changes, field):
    with pytest.raises(InputError) as refused:
        ProportionStats(**({"n": 100, "conversions": 70} | changes))
    assert refused.value.field == field


def test_a_variant_without_the_conversion_covariate_is_named():
    arms = [
        ("c", ProportionStats(500, 40, 30, 5)),
        ("t", ProportionStats(500, 45)),
    ]
    with pytest.raises(InputError) as refused:
        compare("proportion", arms, [0.5, 0.5])
    assert refused.value.field == "variants[1].pre_conversions"
