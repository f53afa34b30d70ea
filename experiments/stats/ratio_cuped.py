"""CUPED for ratio metrics: the ratio R = x̄/ȳ adjusted by the same metric's pre-period ratio
R' = x̄'/ȳ', from sufficient statistics, as GrowthBook's RegressionAdjustedRatioStatistic.

Each arm's adjusted ratio is R - theta R' (as gbstats: only differences of it are read). Its
variance is the delta method over the arm's four means (x̄, ȳ, x̄', ȳ'), theta treated as known:
    v_adj = v - 2 theta c + theta² v',
with v = n Var(R), v' = n Var(R') and c = n Cov(R, R') (`RatioStats`). One theta for all arms,
    theta = sum_g Cov(R_g, R'_g) / sum_g Var(R'_g) = sum_g (c_g / n_g) / sum_g (v'_g / n_g),
minimises sum_g Var(adjusted ratio_g): with two arms the variance of their difference, so the
adjustment never widens it. gbstats sums c_g and v'_g without the 1/n_g, which is the same
theta for arms of equal size and, with unequal ones, not the minimiser: it can widen the
interval a little.

No adjustment (theta = 0, `cuped_applied` False, the plain ratio test) when an arm has no
pre-period ratio (Σy' = 0) or the pre-period ratio varies in no arm.
"""

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

from experiments.stats.cuped import AdjustedArm, CupedResult
from experiments.stats.frequentist import Difference, welch_difference
from experiments.stats.sufficient import RatioStats
from experiments.stats.validation import InputError


@dataclass(frozen=True)
class AdjustedRatio(AdjustedArm):
    """An arm's ratio after CUPED, with n Cov(adjusted ratio, R): the relative lift divides by
    the control's R, so its standard error needs how R moves with the adjusted ratio."""

    covariance_with_raw: float


def ratio_cuped(variants: Sequence[RatioStats]) -> CupedResult:
    """Every variant adjusted with the pooled theta (module docstring), or none of them."""
    for i, stats in enumerate(variants):
        if not stats.has_covariate:
            raise InputError(f"variants[{i}].pre_numerator_sum", "CUPED needs the pre-period sums")
    # An arm without pre-period activity (or so little that its mean rounds to 0) has no
    # pre-period ratio to adjust by.
    if not all(s.pre_denominator_sum / s.n > 0 for s in variants):
        return _unadjusted(variants)
    # Plain sums: one that overflows is refused below (math.fsum would raise).
    pre_variance = sum(s.pre_variance / s.n for s in variants)
    covariance = sum(s.covariance / s.n for s in variants)
    if not 0 < pre_variance < math.inf or not math.isfinite(covariance):
        return _unadjusted(variants)
    theta = covariance / pre_variance
    arms = tuple(adjusted_ratio(s, theta) for s in variants)
    # Pre-period sums of extreme sizes can still overflow an arm: no covariate then either.
    if not all(math.isfinite(v) for a in arms for v in (a.mean, a.variance, a.covariance_with_raw)):
        return _unadjusted(variants)
    return CupedResult(theta=theta, cuped_applied=True, arms=arms)


def adjusted_ratio_difference(control: AdjustedRatio, treatment: AdjustedRatio) -> Difference:
    """Welch's test of the adjusted ratios; the relative lift L = (A_t - A_c) / R_c divides by
    the control's observed ratio R_c (as for means), and its standard error is the delta method
    over both arms' four means, as gbstats': the control enters L through both A_c and R_c, so
        se_rel² = (v_t/n_t + (v_c + 2L k_c + L² r_c)/n_c) / R_c²,
    v the adjusted variances, r_c = n Var(R_c), k_c = n Cov(A_c, R_c). With theta = 0 it is the
    unadjusted ratio's se_rel."""
    difference = welch_difference(control, treatment, squares_field="numerator_sum_squares")
    if difference.lift_rel is None:
        return difference
    lift = difference.lift_rel
    control_spread = (
        control.variance
        + 2 * lift * control.covariance_with_raw
        + lift * lift * control.raw_variance
    )
    se2 = (treatment.variance / treatment.n + max(control_spread, 0.0) / control.n) / (
        control.raw_mean * control.raw_mean
    )
    if not se2 > 0:  # no spread on the relative scale: read the absolute one, as frequentist
        return dataclasses.replace(difference, lift_rel=None, se_rel=None)
    return dataclasses.replace(difference, se_rel=math.sqrt(se2))


def adjusted_ratio(stats: RatioStats, theta: float) -> AdjustedRatio:
    """One arm adjusted with a given theta; theta = 0 is the unadjusted ratio exactly."""
    raw = stats.variance
    if theta == 0:  # the arm's pre-period ratio may be undefined
        return AdjustedRatio(stats.n, stats.mean, raw, stats.mean, raw, covariance_with_raw=raw)
    covariance = stats.covariance
    return AdjustedRatio(
        n=stats.n,
        mean=stats.mean - theta * stats.pre_mean,
        variance=max(0.0, raw - 2 * theta * covariance + theta * theta * stats.pre_variance),
        raw_mean=stats.mean,
        raw_variance=raw,
        covariance_with_raw=raw - theta * covariance,
    )


def _unadjusted(variants: Sequence[RatioStats]) -> CupedResult:
    arms = tuple(adjusted_ratio(s, 0.0) for s in variants)
    return CupedResult(theta=0.0, cuped_applied=False, arms=arms)
