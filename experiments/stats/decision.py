"""Time to decision: when will every arm have the sample it was sized for?"""

import datetime
import math
from collections.abc import Sequence
from dataclasses import dataclass

from experiments.stats.validation import (
    InputError,
    normalized_weights,
    require_int,
    require_positive,
)


@dataclass(frozen=True)
class TimeToDecision:
    days_remaining: int
    decision_date: datetime.date
    reached: bool


def time_to_decision(
    current: Sequence[int],
    required: Sequence[int],
    weights: Sequence[float],
    daily_units: float,
    today: datetime.date,
) -> TimeToDecision:
    """Arm i gains daily_units·wᵢ units a day and the decision waits for the slowest arm:
    days = maxᵢ ⌈(requiredᵢ - currentᵢ)/(daily_units·wᵢ)⌉, zero once every arm is complete."""
    have = [require_int(c, f"current[{i}]", 0) for i, c in enumerate(current)]
    need = [require_int(r, f"required[{i}]", 0) for i, r in enumerate(required)]
    if len(need) != len(have):
        raise InputError("required", f"needs one entry per variant ({len(have)})")
    shares = normalized_weights(weights, len(have))
    rate = require_positive(daily_units, "daily_units")
    if not isinstance(today, datetime.date):
        raise InputError("today", "must be a date")
    # The 1e-9 keeps rounding in rate·share from adding a day to an exact quotient.
    days = max(
        math.ceil(max(0, n - c) / (rate * share) - 1e-9)
        for c, n, share in zip(have, need, shares, strict=True)
    )
    return TimeToDecision(
        days_remaining=days,
        decision_date=today + datetime.timedelta(days=days),
        reached=days == 0,
    )
