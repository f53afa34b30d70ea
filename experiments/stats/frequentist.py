"""Frequentist difference tests of a treatment arm against control, from summary statistics.

Absolute lift Δ = m_t - m_c with se² = v_t/n_t + v_c/n_c. Relative lift m_t/m_c - 1 with the
delta-method variance of a ratio of independent means, the control mean treated as random:
    se_rel² = v_t/(n_t m_c²) + m_t² v_c/(n_c m_c⁴).
Both intervals use the same quantile as the p-value (Welch's t for means, normal for
proportions), and the p-value tests the absolute difference.
"""

import math
from dataclasses import dataclass

from scipy import special

from experiments.stats.sufficient import Arm, ProportionStats
from experiments.stats.validation import InputError, require_alpha


@dataclass(frozen=True)
class DifferenceResult:
    """Treatment minus control; intervals are two-sided at level 1 - alpha."""

    lift_abs: float
    lift_rel: float
    ci_abs: tuple[float, float]
    ci_rel: tuple[float, float]
    p_value: float
    se_abs: float
    se_rel: float


def welch_test(
    control: Arm,
    treatment: Arm,
    alpha: float = 0.05,
    *,
    sum_field: str = "sum",
    squares_field: str = "sum_squares",
) -> DifferenceResult:
    """Welch's unequal-variance t-test (scipy's `ttest_ind(equal_var=False)`).

    Degrees of freedom by Welch-Satterthwaite: se⁴ / Σ (v/n)²/(n - 1). Errors name the arm's
    fields `sum_field` (a control mean of 0) and `squares_field` (no variance), as in
    `control.sum` and `treatment.sum_squares` for `MeanStats`.
    """
    alpha = require_alpha(alpha)
    share_c = control.variance / control.n
    share_t = treatment.variance / treatment.n
    se2 = share_c + share_t
    _require_spread(se2, f"treatment.{squares_field}")
    df = se2 * se2 / (share_c * share_c / (control.n - 1) + share_t * share_t / (treatment.n - 1))
    return _difference(control, treatment, se2, alpha, df, f"control.{sum_field}")


def proportion_z_test(
    control: ProportionStats, treatment: ProportionStats, alpha: float = 0.05
) -> DifferenceResult:
    """Two-proportion z-test with the unpooled (Wald) variance p(1 - p)/n per arm.

    The unpooled variance is used for the p-value as well as the interval (as statsmodels'
    `test_proportions_2indep(method="wald")` and `confint_proportions_2indep(method="wald")`),
    so p < alpha exactly when the absolute interval excludes 0.
    """
    alpha = require_alpha(alpha)
    control_arm = _BernoulliArm(control)
    treatment_arm = _BernoulliArm(treatment)
    se2 = control_arm.variance / control.n + treatment_arm.variance / treatment.n
    _require_spread(se2, "treatment.conversions")
    return _difference(control_arm, treatment_arm, se2, alpha, None, "control.conversions")


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


def _difference(
    control: Arm, treatment: Arm, se2: float, alpha: float, df: float | None, mean_field: str
) -> DifferenceResult:
    """Lifts, intervals and p-value from se²; `df` None means the normal distribution."""
    m_c, m_t = control.mean, treatment.mean
    if m_c == 0:
        raise InputError(mean_field, "gives a control mean of 0, so relative lift is undefined")
    lift = m_t - m_c
    se = math.sqrt(se2)
    lift_rel = m_t / m_c - 1
    se_rel = math.sqrt(
        treatment.variance / (treatment.n * m_c * m_c)
        + m_t * m_t * control.variance / (control.n * m_c**4)
    )
    statistic = -abs(lift) / se
    if df is None:
        quantile = float(special.ndtri(1 - alpha / 2))
        p_value = 2 * float(special.ndtr(statistic))
    else:
        quantile = float(special.stdtrit(df, 1 - alpha / 2))
        p_value = 2 * float(special.stdtr(df, statistic))
    return DifferenceResult(
        lift_abs=lift,
        lift_rel=lift_rel,
        ci_abs=(lift - quantile * se, lift + quantile * se),
        ci_rel=(lift_rel - quantile * se_rel, lift_rel + quantile * se_rel),
        p_value=p_value,
        se_abs=se,
        se_rel=se_rel,
    )
