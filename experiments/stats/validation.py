"""The checks shared between the statistics modules. Every rejection is a core.errors.InputError
(plain Python: the statistics stay free of Django) naming the field as the API's request spells it:
`alpha`, `weights[2]`, `variants[1].conversions`."""

import math
from collections.abc import Sequence
from numbers import Integral, Real

from core.errors import InputError

WEIGHT_SUM_TOLERANCE = 1e-6
# The limits of what the statistics answer (as gbstats does, degenerate input gets a clear
# refusal, never an arithmetic error). Within them every square and product stays finite.
MAX_UNITS = 10**12  # units in a variant or a sample: far beyond any real experiment
MAX_MAGNITUDE = 1e100  # of any real input: sums, sums of squares, means, std
MAX_VARIANTS = 20
ALPHA_RANGE = (1e-4, 0.5)  # the experiment form's ranges
POWER_RANGE = (0.5, 0.9999)
# The limits of a plan (docs/experiments.md, "Sizing and launch"): beyond them an answer would be
# arithmetic, not a plan. A billion units a day is more identities than any site sees; a sample
# that takes over ten years to arrive is out of reach whatever the maximum duration.
MAX_DAILY_UNITS = 10**9
MAX_DAYS = 3_650


def require_int(value: object, field: str, minimum: int, maximum: int = MAX_UNITS) -> int:
    """An integer (not a bool, not a float) from `minimum` to `maximum`."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise InputError(field, "must be an integer")
    if value < minimum:
        raise InputError(field, f"must be at least {minimum}")
    if value > maximum:
        raise InputError(field, f"must be at most {maximum:,}")
    return int(value)


def require_real(value: object, field: str) -> float:
    """A finite real number (not a bool) of magnitude at most `MAX_MAGNITUDE`."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise InputError(field, "must be a finite number")
    try:
        number = float(value)
    except OverflowError:  # an int beyond any float
        number = math.inf
    if not math.isfinite(number):
        raise InputError(field, "must be a finite number")
    if abs(number) > MAX_MAGNITUDE:
        raise InputError(field, f"must be at most {MAX_MAGNITUDE:g} in magnitude")
    return number


def require_positive(value: object, field: str) -> float:
    """A finite number strictly above zero."""
    number = require_real(value, field)
    if number <= 0:
        raise InputError(field, "must be positive")
    return number


def require_open_unit(value: object, field: str) -> float:
    """A probability strictly between 0 and 1 (alpha, power, a baseline rate)."""
    number = require_real(value, field)
    if not 0 < number < 1:
        raise InputError(field, "must be strictly between 0 and 1")
    return number


def require_daily_units(value: object, field: str = "daily_units") -> float:
    """Units a day: positive, at most `MAX_DAILY_UNITS` (1e308 gets that limit, not the
    general one of any number)."""
    if isinstance(value, Real) and not isinstance(value, bool) and value > MAX_DAILY_UNITS:
        raise InputError(field, f"must be at most {MAX_DAILY_UNITS:,} a day")
    return require_positive(value, field)


def require_alpha(value: object, field: str = "alpha") -> float:
    return _require_range(require_open_unit(value, field), field, *ALPHA_RANGE)


def require_power(value: object, field: str = "power") -> float:
    return _require_range(require_open_unit(value, field), field, *POWER_RANGE)


def _require_range(number: float, field: str, low: float, high: float) -> float:
    if not low <= number <= high:
        raise InputError(field, f"must be between {low:g} and {high:g}")
    return number


def require_variant_count(count: int, field: str) -> None:
    if count > MAX_VARIANTS:
        raise InputError(field, f"at most {MAX_VARIANTS} variants")


def normalized_weights(weights: Sequence[object], count: int) -> tuple[float, ...]:
    """Allocation weights, one per variant, positive, summing to 1 within 1e-6; rescaled to 1."""
    if isinstance(weights, str | bytes) or not isinstance(weights, Sequence):
        raise InputError("weights", "must be a list of numbers")
    require_variant_count(len(weights), "weights")
    if len(weights) != count:
        raise InputError("weights", f"needs one weight per variant ({count}), got {len(weights)}")
    values = [require_positive(w, f"weights[{i}]") for i, w in enumerate(weights)]
    total = math.fsum(values)
    if abs(total - 1) > WEIGHT_SUM_TOLERANCE:
        raise InputError("weights", f"must sum to 1, got {total:.9g}")
    return tuple(w / total for w in values)
