"""Sample size and minimum detectable effect (MDE) for two-sided tests against control.

Normal approximation: a comparison with standard error se detects an absolute difference δ
with power 1 - β at two-sided level alpha when δ = (z_{1-alpha/2} + z_{1-β})·se; rejections in
the far tail are ignored (statsmodels' `NormalIndPower` counts them; they move n by far less
than one unit).
N units split by `weights` (control first, share w₀) give treatment i the comparison
    se² = (v_c/w₀ + v_t/w_i)/N,
so the treatment with the smallest share needs the most units: N is sized for it, and every
other comparison then has at least the requested power. No multiple-comparison correction.

* Proportions: v = p(1 - p) in each arm, unpooled, the variance of the Wald z-test in
  `frequentist` (Cohen's arcsine h sizes a different test), with p_t = p_c(1 + mde_rel).
* Means: v = sigma²(1 - rho²) in both arms, rho the correlation with the CUPED covariate.
Both size for an increase of mde_rel (for proportions a decrease needs slightly fewer units).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import optimize, special

from experiments.stats.validation import (
    MAX_DAYS,
    MAX_UNITS,
    InputError,
    normalized_weights,
    require_alpha,
    require_daily_units,
    require_int,
    require_open_unit,
    require_positive,
    require_power,
    require_real,
)

# A relative MDE beyond this (a million-fold change) says the baseline mean is next to zero.
MAX_LIFT = 1e6


@dataclass(frozen=True)
class SampleSize:
    """Units per variant (in the order of the weights) and their total."""

    n_per_variant: tuple[int, ...]
    n_total: int


def sample_size_proportion(
    baseline: float,
    mde_rel: float,
    weights: Sequence[float],
    alpha: float = 0.05,
    power: float = 0.8,
) -> SampleSize:
    """Units to detect a conversion rate moving from `baseline` to baseline·(1 + mde_rel):
    N = z²·(p_c q_c/w₀ + p_t q_t/w_min)/δ², z = z_{1-alpha/2} + z_{power}, δ = p_t - p_c."""
    p_c = require_open_unit(baseline, "baseline")
    lift = require_positive(mde_rel, "mde_rel")
    p_t = p_c * (1 + lift)
    if p_t >= 1:
        raise InputError("mde_rel", "would lift the conversion rate to 1 or beyond")
    control_share, smallest_share, shares = _shares(weights)
    z = _z_sum(alpha, power)
    variance = p_c * (1 - p_c) / control_share + p_t * (1 - p_t) / smallest_share
    return _split(_units(z * z * variance, p_t - p_c), shares)


def sample_size_mean(
    baseline_mean: float,
    std: float,
    mde_rel: float,
    weights: Sequence[float],
    alpha: float = 0.05,
    power: float = 0.8,
    correlation: float = 0.0,
) -> SampleSize:
    """Units to detect the mean moving by mde_rel·|baseline_mean|:
    N = z²·sigma²(1 - rho²)(1/w₀ + 1/w_min)/δ²."""
    delta = require_positive(mde_rel, "mde_rel") * _nonzero_mean(baseline_mean)
    variance = _residual_variance(std, correlation)
    control_share, smallest_share, shares = _shares(weights)
    z = _z_sum(alpha, power)
    return _split(
        _units(z * z * variance * (1 / control_share + 1 / smallest_share), delta), shares
    )


def mde_proportion(
    baseline: float,
    n_total: int,
    weights: Sequence[float],
    alpha: float = 0.05,
    power: float = 0.8,
) -> float:
    """The relative lift `n_total` units detect: the root δ of δ = z·se(δ), where se depends on
    δ through p_t(1 - p_t). Squared, the condition is a quadratic in δ with one positive root,
    found by Brent's method on (0, 1 - p_c]."""
    p_c = require_open_unit(baseline, "baseline")
    units = require_int(n_total, "n_total", 1)
    control_share, smallest_share, _ = _shares(weights)
    z = _z_sum(alpha, power)

    def shortfall(delta: float) -> float:
        p_t = p_c + delta
        se2 = (p_c * (1 - p_c) / control_share + p_t * (1 - p_t) / smallest_share) / units
        return delta - z * math.sqrt(se2)

    if shortfall(1 - p_c) <= 0:
        raise InputError("n_total", "is too small to detect even a rise to a rate of 1")
    return optimize.brentq(shortfall, 0.0, 1 - p_c, xtol=1e-15, rtol=1e-12) / p_c


def mde_mean(
    baseline_mean: float,
    std: float,
    n_total: int,
    weights: Sequence[float],
    alpha: float = 0.05,
    power: float = 0.8,
    correlation: float = 0.0,
) -> float:
    """The relative lift `n_total` units detect: z·sigma√((1 - rho²)(1/w₀ + 1/w_min)/N) / |mean|."""
    mean = _nonzero_mean(baseline_mean)
    variance = _residual_variance(std, correlation)
    units = require_int(n_total, "n_total", 1)
    control_share, smallest_share, _ = _shares(weights)
    se = math.sqrt(variance * (1 / control_share + 1 / smallest_share) / units)
    lift = _z_sum(alpha, power) * se / mean
    if not lift <= MAX_LIFT:  # also NaN and inf
        raise InputError("baseline_mean", "is too close to zero for a relative effect")
    return lift


def days_needed(n_total: int, daily_units: float) -> int:
    """⌈n_total / daily_units⌉ days of traffic; refused beyond `MAX_DAYS`, naming the daily
    units (the answer's time scale, an input in both directions of the MDE calculator)."""
    units = require_int(n_total, "n_total", 0)
    per_day = require_daily_units(daily_units)
    days = units / per_day
    if days > MAX_DAYS:
        took = f"{math.ceil(days):,} days" if days <= MAX_UNITS else f"over {MAX_UNITS:,} days"
        rate = f"{per_day:,.0f}" if per_day >= 1 else f"{per_day:.3g}"
        raise InputError(
            "daily_units",
            f"too few for this sample: {units:,} units take {took} at {rate} a day, more than "
            f"ten years ({MAX_DAYS:,} days). Plan for a larger effect or more units a day.",
        )
    return math.ceil(days)


def required_sample_reachable(n_total: int, daily_units: float, max_duration_days: int) -> bool:
    """The sample-size gate: can `n_total` units arrive within `max_duration_days`?"""
    limit = require_int(max_duration_days, "max_duration_days", 1)
    return days_needed(n_total, daily_units) <= limit


def plan_problems(
    metric_type: str,
    *,
    baseline: float,
    mde_rel: float,
    daily_units: float,
    alpha: float = 0.05,
    power: float = 0.8,
    std: float | None = None,
    correlation: float = 0.0,
) -> list[InputError]:
    """Every refused input of a sample-size plan at once, each naming its field as `mde` does
    (a form shows them side by side); [] when each input alone is acceptable. The inputs
    together may still be refused (an MDE too small for the baseline, a sample out of reach):
    sizing the plan says so."""
    checks = (
        [lambda: require_open_unit(baseline, "baseline")]
        if metric_type == "proportion"
        else [lambda: _nonzero_mean(baseline), lambda: _std(std), lambda: _correlation(correlation)]
    )
    checks += [
        lambda: require_positive(mde_rel, "mde_rel"),
        lambda: require_alpha(alpha),
        lambda: require_power(power),
        lambda: require_daily_units(daily_units),
    ]
    problems = []
    for check in checks:
        try:
            check()
        except InputError as err:
            problems.append(err)
    return problems


def _z_sum(alpha: float, power: float) -> float:
    alpha = require_alpha(alpha)
    power = require_power(power)
    return float(special.ndtri(1 - alpha / 2) + special.ndtri(power))


def _units(numerator: float, delta: float) -> float:
    """numerator / δ²: the sample a difference δ needs, refused beyond `MAX_UNITS` (a tiny
    lift, a tiny baseline or a huge spread), where δ² may even round to 0."""
    square = delta * delta
    if square == 0 or not numerator / square <= MAX_UNITS:
        raise InputError(
            "mde_rel",
            f"is too small to detect at this baseline with at most {MAX_UNITS:,} units",
        )
    return numerator / square


def _shares(weights: Sequence[float]) -> tuple[float, float, tuple[float, ...]]:
    """(control share, smallest treatment share, all shares)."""
    if isinstance(weights, Sequence) and len(weights) < 2:
        raise InputError("weights", "needs a control and at least one treatment")
    shares = normalized_weights(weights, len(weights))
    return shares[0], min(shares[1:]), shares


def _split(units: float, shares: tuple[float, ...]) -> SampleSize:
    """Round every arm up (the 1e-9 absorbs rounding in N·w) so each keeps its power."""
    per_variant = tuple(math.ceil(units * share - 1e-9) for share in shares)
    return SampleSize(n_per_variant=per_variant, n_total=sum(per_variant))


def _nonzero_mean(baseline_mean: float) -> float:
    mean = abs(require_real(baseline_mean, "baseline_mean"))
    if mean == 0:
        raise InputError("baseline_mean", "must be non-zero for a relative effect")
    return mean


def _residual_variance(std: float, correlation: float) -> float:
    """sigma²(1 - rho²): the variance CUPED leaves with a covariate of correlation rho."""
    sigma = require_positive(std, "std")
    rho = _correlation(correlation)
    return sigma * sigma * (1 - rho * rho)


def _correlation(correlation: float) -> float:
    rho = require_real(correlation, "correlation")
    if not -1 < rho < 1:
        raise InputError("correlation", "must be strictly between -1 and 1")
    return rho


def _std(std: float | None) -> float:
    if std is None:
        raise InputError("std", "is required for mean metrics")
    return require_positive(std, "std")
