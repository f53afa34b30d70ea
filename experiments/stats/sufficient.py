"""Sufficient statistics of one variant: what a warehouse query returns, validated on creation.

Variances come from sums as Σx² - (Σx)²/n. Summation in a warehouse rounds, so a centred sum
within `ROUNDING_TOLERANCE` of the raw sum of squares is read as rounding (and clamped at zero);
a more negative one means the sums contradict each other and is rejected.
"""

import math
from dataclasses import dataclass
from typing import Protocol

from experiments.stats.validation import InputError, require_int, require_real

ROUNDING_TOLERANCE = 1e-9
COVARIATE_FIELDS = ("pre_sum", "pre_sum_squares", "sum_products")


class Arm(Protocol):
    """What a difference-in-means test reads from an arm: size, mean, sample variance."""

    @property
    def n(self) -> int: ...

    @property
    def mean(self) -> float: ...

    @property
    def variance(self) -> float: ...


def centred_sum_of_squares(sum_squares: float, total: float, n: int, field: str) -> float:
    """Σ(x - x̄)² from Σx² and Σx; rounding-sized negatives clamp to 0, larger ones are rejected."""
    centred = sum_squares - total * total / n
    rounding = ROUNDING_TOLERANCE * abs(sum_squares)
    if centred < -rounding:
        raise InputError(field, "is smaller than sum²/n, so the variance would be negative")
    return centred if centred > rounding else 0.0


@dataclass(frozen=True)
class ProportionStats:
    """Units exposed (`n`) and units that converted (`conversions`)."""

    n: int
    conversions: int

    def __post_init__(self) -> None:
        require_int(self.n, "n", 2)
        require_int(self.conversions, "conversions", 0)
        if self.conversions > self.n:
            raise InputError("conversions", f"cannot exceed n ({self.n})")

    @property
    def mean(self) -> float:
        """The conversion rate."""
        return self.conversions / self.n

    @property
    def bernoulli_variance(self) -> float:
        """p(1 - p): the per-unit variance the two-proportion (Wald) z-test uses."""
        return self.mean * (1 - self.mean)


@dataclass(frozen=True)
class MeanStats:
    """Σy and Σy² of a metric over `n` units, optionally with a pre-period covariate x for CUPED.

    The covariate needs all three of Σx (`pre_sum`), Σx² (`pre_sum_squares`) and Σxy
    (`sum_products`), or none of them.
    """

    n: int
    sum: float
    sum_squares: float
    pre_sum: float | None = None
    pre_sum_squares: float | None = None
    sum_products: float | None = None

    def __post_init__(self) -> None:
        require_int(self.n, "n", 2)
        require_real(self.sum, "sum")
        require_real(self.sum_squares, "sum_squares")
        centred_sum_of_squares(self.sum_squares, self.sum, self.n, "sum_squares")
        given = [name for name in COVARIATE_FIELDS if getattr(self, name) is not None]
        if given and len(given) < len(COVARIATE_FIELDS):
            missing = next(name for name in COVARIATE_FIELDS if name not in given)
            raise InputError(
                missing, "the covariate needs pre_sum, pre_sum_squares and sum_products together"
            )
        if given:
            for name in COVARIATE_FIELDS:
                require_real(getattr(self, name), name)
            # Cauchy-Schwarz: |Σ(x-x̄)(y-ȳ)| ≤ √(Σ(x-x̄)² Σ(y-ȳ)²) for any consistent sums.
            bound = math.sqrt(self.centred_squares * self.pre_centred_squares)
            slack = ROUNDING_TOLERANCE * math.sqrt(abs(self.sum_squares * self.pre_sum_squares))
            if abs(self.centred_products) > bound + slack:
                raise InputError(
                    "sum_products", "implies a correlation beyond ±1 with the other sums"
                )

    @property
    def has_covariate(self) -> bool:
        return self.pre_sum is not None

    @property
    def mean(self) -> float:
        return self.sum / self.n

    @property
    def centred_squares(self) -> float:
        """Σ(y - ȳ)²."""
        return centred_sum_of_squares(self.sum_squares, self.sum, self.n, "sum_squares")

    @property
    def variance(self) -> float:
        """Sample variance of y (ddof = 1)."""
        return self.centred_squares / (self.n - 1)

    @property
    def pre_mean(self) -> float:
        return self._covariate("pre_sum") / self.n

    @property
    def pre_centred_squares(self) -> float:
        """Σ(x - x̄)²."""
        return centred_sum_of_squares(
            self._covariate("pre_sum_squares"),
            self._covariate("pre_sum"),
            self.n,
            "pre_sum_squares",
        )

    @property
    def pre_variance(self) -> float:
        """Sample variance of the covariate (ddof = 1)."""
        return self.pre_centred_squares / (self.n - 1)

    @property
    def centred_products(self) -> float:
        """Σ(x - x̄)(y - ȳ) = Σxy - ΣxΣy/n."""
        return self._covariate("sum_products") - self._covariate("pre_sum") * self.sum / self.n

    @property
    def covariance(self) -> float:
        """Sample covariance of y and the covariate (ddof = 1)."""
        return self.centred_products / (self.n - 1)

    def _covariate(self, name: str) -> float:
        value = getattr(self, name)
        if value is None:
            raise InputError(name, "is required for the covariate")
        return value


@dataclass(frozen=True)
class RatioStats:
    """A ratio metric Σx / Σy over `n` units, each with a numerator x and a denominator y
    (a unit's clicks and views, say): Σx, Σx², Σy, Σy² and Σxy.

    Units are independent but a unit's events are not, so the ratio's variance comes from the
    units by the delta method: with R = x̄/ȳ, Var(R) ≈ (s²_x - 2R s_xy + R² s²_y) / (n ȳ²).
    `variance` is n times that, so that it reads like a per-unit variance (Var(mean) =
    variance / n) and a ratio goes through the same Welch test as a mean.
    """

    n: int
    numerator_sum: float
    numerator_sum_squares: float
    denominator_sum: float
    denominator_sum_squares: float
    sum_products: float

    def __post_init__(self) -> None:
        require_int(self.n, "n", 2)
        for name in (
            "numerator_sum",
            "numerator_sum_squares",
            "denominator_sum",
            "denominator_sum_squares",
            "sum_products",
        ):
            require_real(getattr(self, name), name)
        if not self.denominator_sum > 0:
            raise InputError("denominator_sum", "must be positive: the ratio is undefined")
        bound = math.sqrt(self._centred_x * self._centred_y)
        slack = ROUNDING_TOLERANCE * math.sqrt(
            abs(self.numerator_sum_squares * self.denominator_sum_squares)
        )
        if abs(self._centred_xy) > bound + slack:
            raise InputError("sum_products", "implies a correlation beyond ±1 with the other sums")

    @property
    def mean(self) -> float:
        """The ratio Σx / Σy."""
        return self.numerator_sum / self.denominator_sum

    @property
    def variance(self) -> float:
        """n · Var(ratio) by the delta method (sample moments, ddof = 1)."""
        r = self.mean
        denominator_mean = self.denominator_sum / self.n
        spread = self._centred_x - 2 * r * self._centred_xy + r * r * self._centred_y
        return max(spread, 0.0) / (self.n - 1) / (denominator_mean * denominator_mean)

    @property
    def _centred_x(self) -> float:
        return centred_sum_of_squares(
            self.numerator_sum_squares, self.numerator_sum, self.n, "numerator_sum_squares"
        )

    @property
    def _centred_y(self) -> float:
        return centred_sum_of_squares(
            self.denominator_sum_squares, self.denominator_sum, self.n, "denominator_sum_squares"
        )

    @property
    def _centred_xy(self) -> float:
        return self.sum_products - self.numerator_sum * self.denominator_sum / self.n
