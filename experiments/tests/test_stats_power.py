import math

import pytest
from statsmodels.stats.power import NormalIndPower, tt_ind_solve_power, zt_ind_solve_power
from statsmodels.stats.proportion import proportion_effectsize

from experiments.stats.power import (
    days_needed,
    mde_mean,
    mde_proportion,
    required_sample_reachable,
    sample_size_mean,
    sample_size_proportion,
)
from experiments.stats.validation import InputError


def unpooled_effect_size(p_c, p_t, ratio):
    """The standardized effect for which NormalIndPower's statistic d·√(n₁/(1 + 1/ratio)) equals
    δ/se with the unpooled se² = (p_c q_c + p_t q_t/ratio)/n₁."""
    variance = (p_c * (1 - p_c) + p_t * (1 - p_t) / ratio) / (1 + 1 / ratio)
    return (p_t - p_c) / math.sqrt(variance)


@pytest.mark.parametrize(
    ("baseline", "mde_rel", "weights", "alpha", "power"),
    [
        (0.05, 0.10, [0.5, 0.5], 0.05, 0.8),
        (0.30, 0.05, [0.5, 0.5], 0.01, 0.9),
        (0.02, 0.20, [0.2, 0.8], 0.05, 0.8),
        (0.10, 0.10, [0.8, 0.2], 0.10, 0.8),
        (0.05, 0.10, [0.5, 0.25, 0.25], 0.05, 0.8),
        (0.50, 0.02, [0.4, 0.35, 0.25], 0.05, 0.95),
    ],
)
def test_proportion_sample_size_matches_statsmodels(baseline, mde_rel, weights, alpha, power):
    size = sample_size_proportion(baseline, mde_rel, weights, alpha, power)
    p_t = baseline * (1 + mde_rel)
    ratio = min(weights[1:]) / weights[0]
    # One tail at alpha/2 is the closed form; the two-sided solve differs only by the far tail.
    control = NormalIndPower().solve_power(
        effect_size=unpooled_effect_size(baseline, p_t, ratio),
        alpha=alpha / 2,
        power=power,
        ratio=ratio,
        alternative="larger",
    )
    assert abs(size.n_per_variant[0] - math.ceil(control)) <= 1
    assert size.n_total == sum(size.n_per_variant)
    # Every treatment gets at least the requested power; the smallest arm just about exactly.
    achieved = [
        NormalIndPower().power(
            unpooled_effect_size(baseline, p_t, n / size.n_per_variant[0]),
            nobs1=size.n_per_variant[0],
            alpha=alpha,
            ratio=n / size.n_per_variant[0],
        )
        for n in size.n_per_variant[1:]
    ]
    assert min(achieved) >= power
    assert min(achieved) == pytest.approx(power, abs=1e-3)


def test_unpooled_formula_is_close_to_the_arcsine_one_for_equal_allocation():
    """Cohen's h (arcsine) sizes a different test; for common rates they agree within a few %."""
    size = sample_size_proportion(0.05, 0.10, [0.5, 0.5])
    arcsine = NormalIndPower().solve_power(
        effect_size=proportion_effectsize(0.055, 0.05), alpha=0.05, power=0.8
    )
    assert size.n_per_variant[0] / arcsine == pytest.approx(1, abs=0.03)


@pytest.mark.parametrize(
    ("mean", "std", "mde_rel", "weights", "correlation"),
    [
        (10.0, 4.0, 0.02, [0.5, 0.5], 0.0),
        (-3.0, 9.0, 0.05, [0.5, 0.5], 0.6),
        (120.0, 300.0, 0.03, [0.2, 0.8], 0.0),
        (120.0, 300.0, 0.03, [0.5, 0.25, 0.25], -0.4),
    ],
)
def test_mean_sample_size_matches_statsmodels(mean, std, mde_rel, weights, correlation):
    size = sample_size_mean(mean, std, mde_rel, weights, correlation=correlation)
    ratio = min(weights[1:]) / weights[0]
    effect = mde_rel * abs(mean) / (std * math.sqrt(1 - correlation**2))
    control = zt_ind_solve_power(
        effect_size=effect, alpha=0.025, power=0.8, ratio=ratio, alternative="larger"
    )
    assert abs(size.n_per_variant[0] - math.ceil(control)) <= 1
    # The normal approximation stays within 1% of the t-test's n at these sizes.
    t_based = tt_ind_solve_power(effect_size=effect, alpha=0.05, power=0.8, ratio=ratio)
    assert size.n_per_variant[0] == pytest.approx(t_based, rel=0.01)


def test_cuped_correlation_shrinks_the_sample_by_one_minus_rho_squared():
    plain = sample_size_mean(50.0, 20.0, 0.01, [0.5, 0.5])
    adjusted = sample_size_mean(50.0, 20.0, 0.01, [0.5, 0.5], correlation=0.8)
    assert adjusted.n_total / plain.n_total == pytest.approx(1 - 0.64, rel=1e-4)


@pytest.mark.parametrize("weights", [[0.5, 0.5], [0.3, 0.7], [0.5, 0.3, 0.2]])
def test_mean_mde_matches_statsmodels_and_round_trips(weights):
    n_total = 40_000
    mde = mde_mean(25.0, 10.0, n_total, weights, alpha=0.05, power=0.8, correlation=0.5)
    ratio = min(weights[1:]) / weights[0]
    effect = mde * 25.0 / (10.0 * math.sqrt(0.75))
    achieved = NormalIndPower().power(
        effect, nobs1=n_total * weights[0], alpha=0.025, ratio=ratio, alternative="larger"
    )
    assert achieved == pytest.approx(0.8, abs=1e-9)
    again = sample_size_mean(25.0, 10.0, mde, weights, correlation=0.5)
    assert n_total <= again.n_total <= n_total + len(weights)


@pytest.mark.parametrize(
    ("baseline", "weights"), [(0.05, [0.5, 0.5]), (0.6, [0.2, 0.8]), (0.01, [0.4, 0.3, 0.3])]
)
def test_proportion_mde_reaches_the_requested_power_and_round_trips(baseline, weights):
    n_total = 60_000
    mde = mde_proportion(baseline, n_total, weights, alpha=0.05, power=0.8)
    p_t = baseline * (1 + mde)
    ratio = min(weights[1:]) / weights[0]
    achieved = NormalIndPower().power(
        unpooled_effect_size(baseline, p_t, ratio),
        nobs1=n_total * weights[0],
        alpha=0.025,
        ratio=ratio,
        alternative="larger",
    )
    assert achieved == pytest.approx(0.8, abs=1e-6)
    again = sample_size_proportion(baseline, mde, weights)
    assert n_total <= again.n_total <= n_total + len(weights)
    assert mde_proportion(baseline, again.n_total, weights) == pytest.approx(mde, rel=1e-3)


def test_days_and_the_sample_size_gate():
    assert days_needed(100_000, 7_000) == 15
    assert days_needed(70_000, 7_000) == 10
    assert required_sample_reachable(70_000, 7_000, max_duration_days=10)
    assert not required_sample_reachable(70_001, 7_000, max_duration_days=10)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: sample_size_proportion(0.05, 0.1, [0.5, 0.5], alpha=0), "alpha"),
        (lambda: sample_size_proportion(0.05, 0.1, [0.5, 0.5], power=1), "power"),
        (lambda: sample_size_proportion(0.05, 0.1, [0.5, 0.6]), "weights"),
        (lambda: sample_size_proportion(0.05, 0.1, [1.0]), "weights"),
        (lambda: sample_size_proportion(0.05, 0.1, [0.5, 0.0, 0.5]), "weights[1]"),
        (lambda: sample_size_proportion(1.0, 0.1, [0.5, 0.5]), "baseline"),
        (lambda: sample_size_proportion(0.05, 0.0, [0.5, 0.5]), "mde_rel"),
        (lambda: sample_size_proportion(0.6, 0.7, [0.5, 0.5]), "mde_rel"),
        (lambda: sample_size_mean(0.0, 1.0, 0.1, [0.5, 0.5]), "baseline_mean"),
        (lambda: sample_size_mean(1.0, -1.0, 0.1, [0.5, 0.5]), "std"),
        (lambda: sample_size_mean(1.0, 1.0, 0.1, [0.5, 0.5], correlation=1.0), "correlation"),
        (lambda: mde_proportion(0.5, 10, [0.5, 0.5]), "n_total"),
        (lambda: mde_mean(1.0, 1.0, 0, [0.5, 0.5]), "n_total"),
        (lambda: days_needed(100, 0), "daily_units"),
        (lambda: required_sample_reachable(100, 10, 0), "max_duration_days"),
    ],
)
def test_invalid_input_names_the_field(call, field):
    with pytest.raises(InputError) as caught:
        call()
    assert caught.value.field == field
