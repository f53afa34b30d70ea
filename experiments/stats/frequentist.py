"""Frequentist differences of a treatment arm against control, from summary statistics.

A `Difference` holds the estimates: absolute lift Δ = m_t - m_c with se² = v_t/n_t + v_c/n_c,
and relative lift Δ / m_c with the delta-method variance of a ratio of independent means, the
control mean treated as random (as gbstats' `frequentist_variance`):
    se_rel² = v_t/(n_t m_c²) + m_t² v_c/(n_c m_c⁴).
With CUPED the lifts use the adjusted means and variances, and the relative lift divides by
the control's unadjusted mean (as gbstats). A control mean of 0 leaves the relative lift
undefined (None); the absolute one still stands.

How an estimate is turned into a p-value and an interval (fixed horizon or sequential) is
`experiments.stats.reading`; `welch_test` and `proportion_z_test` are the classic fixed-horizon
tests of the absolute difference, as scipy and statsmodels compute them.
"""

import math
from dataclasses import dataclass

from experiments.stats.reading import FIXED
from experiments.stats.sufficient import Arm, ProportionStats
from experiments.stats.validation import InputError, require_alpha


@dataclass(frozen=True)
class Difference:
    """Treatment minus control: lifts, their standard errors, and Welch's degrees of freedom
    (None: the normal distribution, for proportions)."""

    n_control: int
    n_treatment: int
    lift_abs: float
    se_abs: float
    lift_rel: float | None
    se_rel: float | None
    df: float | None

    @property
    def n_total(self) -> int:
        return self.n_control + self.n_treatment

    @property
    def relative(self) -> bool:
        """Whether the relative lift is defined: the scale decisions are read on."""
        return self.lift_rel is not None


@dataclass(frozen=True)
class DifferenceResult:
    """A fixed-horizon test of the absolute difference; intervals two-sided at 1 - alpha."""

    lift_abs: float
    lift_rel: float | None
    ci_abs: tuple[float, float]
    ci_rel: tuple[float, float] | None
    p_value: float
    se_abs: float
    se_rel: float | None


def welch_difference(
    control: Arm, treatment: Arm, *, squares_field: str = "sum_squares"
) -> Difference:
    """Welch's unequal-variance difference (scipy's `ttest_ind(equal_var=False)`), degrees of
    freedom by Welch-Satterthwaite: se⁴ / Σ (v/n)²/(n - 1). An error names the treatment's
    `squares_field` when neither arm varies."""
    share_c = control.variance / control.n
    share_t = treatment.variance / treatment.n
    se2 = share_c + share_t
    _require_spread(se2, f"treatment.{squares_field}")
    df = se2 * se2 / (share_c * share_c / (control.n - 1) + share_t * share_t / (treatment.n - 1))
    return _difference(control, treatment, se2, df)


def proportion_difference(control: ProportionStats, treatment: ProportionStats) -> Difference:
    """Two proportions with the unpooled (Wald) variance p(1 - p)/n per arm, read on the normal
    distribution (statsmodels' `test_proportions_2indep(method="wald")`)."""
    control_arm = _BernoulliArm(control)
    treatment_arm = _BernoulliArm(treatment)
    se2 = control_arm.variance / control.n + treatment_arm.variance / treatment.n
    _require_spread(se2, "treatment.conversions")
    return _difference(control_arm, treatment_arm, se2, None)


def welch_test(
    control: Arm,
    treatment: Arm,
    alpha: float = 0.05,
    *,
    squares_field: str = "sum_squares",
) -> DifferenceResult:
    """Welch's t-test of the absolute difference at fixed horizon."""
    alpha = require_alpha(alpha)
    return _fixed(welch_difference(control, treatment, squares_field=squares_field), alpha)


def proportion_z_test(
    control: ProportionStats, treatment: ProportionStats, alpha: float = 0.05
) -> DifferenceResult:
    """The two-proportion Wald z-test of the absolute difference at fixed horizon: p < alpha
    exactly when the absolute interval excludes 0."""
    alpha = require_alpha(alpha)
    return _fixed(proportion_difference(control, treatment), alpha)


@dataclass(frozen=True)
class _BernoulliArm:
    stats: ProportionStats

    @property
    def n(self) -> int:
        return self.stats.n

    @property
    def mean(self) -> float:
        return self.stats.mean

    @property
    def variance(self) -> float:
        return self.stats.bernoulli_variance


def _require_spread(se2: float, field: str) -> None:
    if not se2 > 0:
        raise InputError(
            field, "has no variance in either arm, so the difference has no standard error"
        )


_ROUNDING = 1e-9


def _difference(control: Arm, treatment: Arm, se2: float, df: float | None) -> Difference:
    # After CUPED an arm also carries its unadjusted mean, which the relative lift divides by.
    base_c = getattr(control, "raw_mean", control.mean)
    base_t = getattr(treatment, "raw_mean", treatment.mean)
    lift = treatment.mean - control.mean
    lift_rel = se_rel = None
    # A control mean within rounding of 0 (a sum of scaled values that should cancel) is 0:
    # dividing by its residue would give a meaningless relative lift of order 1e16.
    if abs(base_c) > _ROUNDING * math.sqrt(control.variance):
        spread = math.sqrt(
            treatment.variance / (treatment.n * base_c * base_c)
            + base_t * base_t * control.variance / (control.n * base_c**4)
        )
        # A treatment at 0 without spread leaves the delta method no spread either: read
        # such a difference on the absolute scale, like one whose control is 0.
        if spread > 0:
            lift_rel, se_rel = lift / base_c, spread
    return Difference(
        n_control=control.n,
        n_treatment=treatment.n,
        lift_abs=lift,
        se_abs=math.sqrt(se2),
        lift_rel=lift_rel,
        se_rel=se_rel,
        df=df,
    )


def _fixed(difference: Difference, alpha: float) -> DifferenceResult:
    def interval(estimate: float, se: float) -> tuple[float, float]:
        width = FIXED.half_width(se, difference.df, difference.n_total, alpha)
        return (estimate - width, estimate + width)

    rel = difference.relative
    return DifferenceResult(
        lift_abs=difference.lift_abs,
        lift_rel=difference.lift_rel,
        ci_abs=interval(difference.lift_abs, difference.se_abs),
        ci_rel=interval(difference.lift_rel, difference.se_rel) if rel else None,
        p_value=FIXED.p_value(
            difference.lift_abs, difference.se_abs, difference.df, difference.n_total
        ),
        se_abs=difference.se_abs,
        se_rel=difference.se_rel,
    )
