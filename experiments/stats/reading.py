"""How an estimate with its standard error becomes a p-value and an interval.

* Fixed horizon: Welch's t (or the normal distribution when there are no degrees of freedom).
  Valid only when the data are read once, at the planned end.
* Sequential: the asymptotic confidence sequence of Howard et al., in the form of Waudby-Smith
  et al. (2023, arXiv:2103.06476v7, eq. 9 and 155) that GrowthBook's `SequentialTwoSidedTTest`
  uses. With N units in the two arms and ŝ² = N·se²,
      half-width = ŝ·√( 2(Nr² + 1) · ln(√(Nr² + 1) / alpha) / (Nr)² ),
      r = √( (-2 ln alpha + ln(-2 ln alpha + 1)) / tuning ),
  and the p-value is min(1, 1/e) with the e-value e = exp(Nr²z² / (2(Nr² + 1))) / √(Nr² + 1),
  z = estimate / se. The interval holds at every look at once, so the results can be read at
  any time; it is tightest near N = tuning.

Both readings are dual: the interval at level a' excludes 0 exactly when p < a'. That is what
lets a multiple-comparison correction widen an interval to match an adjusted p-value (r stays
that of the nominal alpha, so the duality holds at any a').
"""

import math
from dataclasses import dataclass

from scipy import special

from experiments.stats.validation import InputError, require_alpha, require_real

DEFAULT_TUNING = 5000
MIN_TUNING = 100


@dataclass(frozen=True)
class Reading:
    """`sequential` with its `tuning` (units of both arms where the sequence is tightest) and
    the nominal `alpha` its r is computed from; fixed horizon otherwise."""

    sequential: bool = False
    tuning: float = DEFAULT_TUNING
    alpha: float = 0.05

    def __post_init__(self) -> None:
        if self.sequential:
            tuning = require_real(self.tuning, "sequential_tuning")
            if tuning < MIN_TUNING:
                raise InputError("sequential_tuning", f"must be at least {MIN_TUNING}")
            require_alpha(self.alpha)

    @property
    def rho(self) -> float:
        log_alpha = -2 * math.log(self.alpha)
        return math.sqrt((log_alpha + math.log(log_alpha + 1)) / self.tuning)

    def p_value(self, estimate: float, se: float, df: float | None, n_total: int) -> float:
        """Two-sided p-value of `estimate` against 0."""
        if not self.sequential:
            statistic = -abs(estimate) / se
            if df is None:
                return 2 * float(special.ndtr(statistic))
            return 2 * float(special.stdtr(df, statistic))
        # Waudby-Smith et al. eq. 155: the e-value of the mixture, p = min(1, 1/e).
        spread = n_total * self.rho**2 + 1
        log_e = n_total * self.rho**2 * (estimate / se) ** 2 / (2 * spread) - 0.5 * math.log(spread)
        return min(1.0, math.exp(-log_e))

    def half_width(self, se: float, df: float | None, n_total: int, alpha: float) -> float:
        """Half the width of the two-sided interval at level 1 - alpha."""
        if not self.sequential:
            if df is None:
                return float(special.ndtri(1 - alpha / 2)) * se
            return float(special.stdtrit(df, 1 - alpha / 2)) * se
        n_rho2 = n_total * self.rho**2
        # ŝ² = N·se², so ŝ·√(…/(Nr)²) = se·√(…·N/(Nr)²) = se·√(…/(Nr²)).
        return se * math.sqrt(2 * (n_rho2 + 1) * math.log(math.sqrt(n_rho2 + 1) / alpha) / n_rho2)


FIXED = Reading()
