"""CUPED: variance reduction with a pre-period covariate, from sufficient statistics.

θ is the within-variant pooled slope over all variants,
    θ = Σ_g Σ(x - x̄_g)(y - ȳ_g) / Σ_g Σ(x - x̄_g)²,
which is exactly the covariate coefficient of the OLS fit y ~ variant dummies + x, so the
adjusted difference equals the regression's treatment effect. Each variant's adjusted mean is
ȳ_g - θ(x̄_g - x̄) with x̄ the grand covariate mean, and its variance (θ treated as known)
    v_adj = v_y - 2θ c_xy + θ² v_x.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from experiments.stats.sufficient import MeanStats
from experiments.stats.validation import InputError


@dataclass(frozen=True)
class AdjustedArm:
    """A variant after CUPED; `mean` and `variance` are the adjusted ones the tests read."""

    n: int
    mean: float
    variance: float
    raw_mean: float
    raw_variance: float

    @property
    def variance_reduction(self) -> float:
        """1 - v_adj/v (0 for a metric without variance, where there is nothing to reduce)."""
        return 1 - self.variance / self.raw_variance if self.raw_variance > 0 else 0.0


@dataclass(frozen=True)
class CupedResult:
    theta: float
    cuped_applied: bool
    arms: tuple[AdjustedArm, ...]


def cuped(variants: Sequence[MeanStats]) -> CupedResult:
    """Adjust every variant with the pooled θ; θ = 0 and `cuped_applied` False when the
    covariate does not vary within any variant (the adjustment would divide by zero)."""
    for i, stats in enumerate(variants):
        if not stats.has_covariate:
            raise InputError(f"variants[{i}].pre_sum", "CUPED needs the covariate sums")
    pooled_xx = math.fsum(s.pre_centred_squares for s in variants)
    applied = pooled_xx > 0
    theta = math.fsum(s.centred_products for s in variants) / pooled_xx if applied else 0.0
    grand_pre_mean = math.fsum(s.pre_mean * s.n for s in variants) / sum(s.n for s in variants)
    arms = tuple(
        AdjustedArm(
            n=s.n,
            mean=s.mean - theta * (s.pre_mean - grand_pre_mean),
            variance=max(
                0.0, s.variance - 2 * theta * s.covariance + theta * theta * s.pre_variance
            ),
            raw_mean=s.mean,
            raw_variance=s.variance,
        )
        for s in variants
    )
    return CupedResult(theta=theta, cuped_applied=applied, arms=arms)
