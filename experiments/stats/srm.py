"""Sample ratio mismatch: do the observed unit counts fit the configured allocation?"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import special

from experiments.stats.validation import (
    InputError,
    normalized_weights,
    require_int,
    require_open_unit,
)

SRM_THRESHOLD = 0.001


@dataclass(frozen=True)
class SrmResult:
    chi2: float
    p_value: float
    srm_alert: bool


def srm_check(
    counts: Sequence[int], weights: Sequence[float], threshold: float = SRM_THRESHOLD
) -> SrmResult:
    """Pearson's chi-square goodness of fit, Σ (O - E)²/E with E = N·wᵢ, on k - 1 degrees of
    freedom (scipy's `chisquare`). The alert fires below `threshold`: the usual 0.001 keeps false
    alarms rare when SRM is checked on every refresh of a dashboard."""
    threshold = require_open_unit(threshold, "srm_threshold")
    observed = [require_int(c, f"counts[{i}]", 0) for i, c in enumerate(counts)]
    if len(observed) < 2:
        raise InputError("counts", "needs at least two variants")
    shares = normalized_weights(weights, len(observed))
    total = sum(observed)
    if total == 0:
        raise InputError("counts", "has no units at all")
    chi2 = math.fsum(
        (o - total * w) ** 2 / (total * w) for o, w in zip(observed, shares, strict=True)
    )
    p_value = float(special.chdtrc(len(observed) - 1, chi2))
    return SrmResult(chi2=chi2, p_value=p_value, srm_alert=p_value < threshold)
