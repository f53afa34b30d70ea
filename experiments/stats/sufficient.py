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
# RatioStats' sums (beside n), and those of its optional pre-period covariate.
RATIO_FIELDS = (
    "numerator_sum",
    "numerator_sum_squares",
    "denominator_sum",
    "denominator_sum_squares",
    "sum_products",
)
RATIO_COVARIATE_FIELDS = (
    "pre_numerator_sum",
    "pre_numerator_sum_squares",
    "pre_denominator_sum",
    "pre_denominator_sum_squares",
    "pre_sum_products",
    "numerator_pre_numerator_products",
    "numerator_pre_denominator_products",
    "denominator_pre_numerator_products",
    "denominator_pre_denominator_products",
)
CORRELATION_BEYOND_ONE = "implies a correlation beyond ±1 with the other sums"


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


def require_correlation(
    field: str,
    centred_products: float,
    centred_a: float,
    centred_b: float,
    raw_squares: float,
    message: str = CORRELATION_BEYOND_ONE,
) -> None:
    """Cauchy-Schwarz: |Σ(a-ā)(b-b̄)| ≤ √(Σ(a-ā)² Σ(b-b̄)²) for any consistent sums, within the
    rounding of the raw sums of squares whose product is `raw_squares`."""
    bound = math.sqrt(centred_a * centred_b)
    slack = ROUNDING_TOLERANCE * math.sqrt(abs(raw_squares))
    if abs(centred_products) > bound + slack:
        raise InputError(field, message)


@dataclass(frozen=True)
class ProportionStats:
    """Units exposed (`n`) and units that converted (`conversions`); optionally the same
    conversion in the pre-period, the CUPED covariate: the units that converted before
    exposure (`pre_conversions`) and those that converted in both periods
    (`conversion_products`, the sum of products of the two 0/1 values), both or neither."""

    n: int
    conversions: int
    pre_conversions: int | None = None
    conversion_products: int | None = None

    def __post_init__(self) -> None:
        require_int(self.n, "n", 2)
        require_int(self.conversions, "conversions", 0)
        if self.conversions > self.n:
            raise InputError("conversions", f"cannot exceed n ({self.n})")
        if (self.pre_conversions is None) != (self.conversion_products is None):
            missing = "pre_conversions" if self.pre_conversions is None else "conversion_products"
            raise InputError(
                missing, "the covariate needs pre_conversions and conversion_products together"
            )
        if self.has_covariate:
            require_int(self.pre_conversions, "pre_conversions", 0)
            if self.pre_conversions > self.n:
                raise InputError("pre_conversions", f"cannot exceed n ({self.n})")
            require_int(self.conversion_products, "conversion_products", 0)
            # Units that converted in both periods: no more than either period's, and at least
            # the overlap the two counts force.
            low = max(0, self.conversions + self.pre_conversions - self.n)
            high = min(self.conversions, self.pre_conversions)
            if not low <= self.conversion_products <= high:
                raise InputError("conversion_products", f"must be from {low} to {high}")

    @property
    def has_covariate(self) -> bool:
        return self.pre_conversions is not None

    def as_mean(self) -> "MeanStats":
        """The same units as 0/1 values (their squares are themselves), for CUPED."""
        covariate = (
            {
                "pre_sum": float(self.pre_conversions),
                "pre_sum_squares": float(self.pre_conversions),
                "sum_products": float(self.conversion_products),
            }
            if self.has_covariate
            else {}
        )
        return MeanStats(
            n=self.n,
            sum=float(self.conversions),
            sum_squares=float(self.conversions),
            **covariate,
        )

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
            require_correlation(
                "sum_products",
                self.centred_products,
                self.centred_squares,
                self.pre_centred_squares,
                self.sum_squares * self._covariate("pre_sum_squares"),
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

    Optionally the same metric's pre-period numerator x' and denominator y' of each unit, the
    CUPED covariate (experiments.stats.ratio_cuped): all nine of Σx' (`pre_numerator_sum`),
    Σx'², Σy', Σy'², Σx'y' (`pre_sum_products`) and the cross-period Σxx', Σxy', Σyx', Σyy'
    (`numerator_pre_numerator_products` and so on), or none of them. A unit without pre-period
    activity has x' = y' = 0; an arm where no unit has any (Σy' = 0) has no pre-period ratio.
    """

    n: int
    numerator_sum: float
    numerator_sum_squares: float
    denominator_sum: float
    denominator_sum_squares: float
    sum_products: float
    pre_numerator_sum: float | None = None
    pre_numerator_sum_squares: float | None = None
    pre_denominator_sum: float | None = None
    pre_denominator_sum_squares: float | None = None
    pre_sum_products: float | None = None
    numerator_pre_numerator_products: float | None = None
    numerator_pre_denominator_products: float | None = None
    denominator_pre_numerator_products: float | None = None
    denominator_pre_denominator_products: float | None = None

    def __post_init__(self) -> None:
        require_int(self.n, "n", 2)
        for name in RATIO_FIELDS:
            require_real(getattr(self, name), name)
        if not self.denominator_sum > 0:
            raise InputError("denominator_sum", "must be positive: the ratio is undefined")
        self._require_pair("sum_products")
        given = [name for name in RATIO_COVARIATE_FIELDS if getattr(self, name) is not None]
        if given and len(given) < len(RATIO_COVARIATE_FIELDS):
            missing = next(name for name in RATIO_COVARIATE_FIELDS if name not in given)
            raise InputError(missing, "the pre-period covariate needs all nine of its sums")
        if given:
            self._check_covariate()

    @property
    def has_covariate(self) -> bool:
        return self.pre_numerator_sum is not None

    @property
    def mean(self) -> float:
        """The ratio Σx / Σy."""
        return self.numerator_sum / self.denominator_sum

    @property
    def variance(self) -> float:
        """n · Var(ratio) by the delta method (sample moments, ddof = 1)."""
        denominator_mean = self.denominator_sum / self.n
        # Divided twice, as pre_variance: the square of a tiny mean would be a zero divisor.
        return max(self._post_spread, 0.0) / (self.n - 1) / denominator_mean / denominator_mean

    @property
    def pre_mean(self) -> float:
        """The pre-period ratio R' = Σx' / Σy' (defined when Σy' > 0)."""
        return self._sum("pre_numerator_sum") / self._sum("pre_denominator_sum")

    @property
    def pre_variance(self) -> float:
        """n · Var(R') by the delta method, as `variance`; 0 when R' is every unit's ratio."""
        pre_denominator_mean = self._sum("pre_denominator_sum") / self.n
        # Divided twice, not by the square: a tiny mean overflows the result, not the divisor.
        return self._pre_spread / (self.n - 1) / pre_denominator_mean / pre_denominator_mean

    @property
    def covariance(self) -> float:
        """n · Cov(R, R') by the delta method: Σ(u - ū)(w - w̄) / ((n - 1) ȳ ȳ')."""
        pre_denominator_mean = self._sum("pre_denominator_sum") / self.n
        denominator_mean = self.denominator_sum / self.n
        return self._cross_spread / (self.n - 1) / denominator_mean / pre_denominator_mean

    def _check_covariate(self) -> None:
        for name in RATIO_COVARIATE_FIELDS:
            require_real(getattr(self, name), name)
        if self._sum("pre_denominator_sum") < 0:
            raise InputError("pre_denominator_sum", "must not be negative")
        # Each pair of x, y, x', y' within a correlation of ±1 (which checks the variances too).
        for products in _RATIO_PRODUCTS:
            self._require_pair(products)
        if self._sum("pre_denominator_sum") > 0:
            # Sums can pass every pairwise bound and still fit no data; the two ratios must be
            # within a correlation of ±1 too, or an adjusted variance could come out negative.
            require_correlation(
                "numerator_pre_numerator_products",
                self._cross_spread,
                max(self._post_spread, 0.0),
                self._pre_spread,
                self._post_scale * self._pre_scale,
                "implies, with the other sums, a correlation beyond ±1 between the two periods' "
                "ratios",
            )

    @property
    def _post_spread(self) -> float:
        """Σ(u - ū)² of the linearised ratio u = x - R y."""
        r = self.mean
        return (
            self._squares("numerator_sum")
            - 2 * r * self._centred("sum_products")
            + r * r * self._squares("denominator_sum")
        )

    @property
    def _pre_spread(self) -> float:
        """Σ(w - w̄)² of the linearised pre-period ratio w = x' - R' y'."""
        r = self.pre_mean
        spread = (
            self._squares("pre_numerator_sum")
            - 2 * r * self._centred("pre_sum_products")
            + r * r * self._squares("pre_denominator_sum")
        )
        # Units that all have the ratio R' leave a residue of rounding, which is no variance.
        return spread if spread > ROUNDING_TOLERANCE * self._pre_scale else 0.0

    @property
    def _cross_spread(self) -> float:
        """Σ(u - ū)(w - w̄) = Σxx' - R' Σxy' - R Σyx' + R R' Σyy', each product centred."""
        r, pre_r = self.mean, self.pre_mean
        return (
            self._centred("numerator_pre_numerator_products")
            - pre_r * self._centred("numerator_pre_denominator_products")
            - r * self._centred("denominator_pre_numerator_products")
            + r * pre_r * self._centred("denominator_pre_denominator_products")
        )

    @property
    def _post_scale(self) -> float:
        """The size of the raw sums behind `_post_spread`, which its rounding is relative to."""
        r = self.mean
        return (
            self.numerator_sum_squares
            + 2 * abs(r * self.sum_products)
            + r * r * self.denominator_sum_squares
        )

    @property
    def _pre_scale(self) -> float:
        r = self.pre_mean
        return (
            self._sum("pre_numerator_sum_squares")
            + 2 * abs(r * self._sum("pre_sum_products"))
            + r * r * self._sum("pre_denominator_sum_squares")
        )

    def _squares(self, total: str) -> float:
        """Σ(a - ā)² of the variable whose sum is the field `total`."""
        squares = _RATIO_SQUARES[total]
        return centred_sum_of_squares(self._sum(squares), self._sum(total), self.n, squares)

    def _centred(self, products: str) -> float:
        """Σ(a - ā)(b - b̄) = Σab - ΣaΣb/n."""
        first, second = _RATIO_PRODUCTS[products]
        return self._sum(products) - self._sum(first) * self._sum(second) / self.n

    def _require_pair(self, products: str) -> None:
        first, second = _RATIO_PRODUCTS[products]
        require_correlation(
            products,
            self._centred(products),
            self._squares(first),
            self._squares(second),
            self._sum(_RATIO_SQUARES[first]) * self._sum(_RATIO_SQUARES[second]),
        )

    def _sum(self, name: str) -> float:
        """A field by name; one of the covariate's that was not given is named as required."""
        value = getattr(self, name)
        if value is None:
            raise InputError(name, "is required for the covariate")
        return value


# A ratio's four per-unit variables x, y, x', y' by their sums: the sum of squares of each, and
# the two sums each sum of products multiplies.
_RATIO_SQUARES = {
    "numerator_sum": "numerator_sum_squares",
    "denominator_sum": "denominator_sum_squares",
    "pre_numerator_sum": "pre_numerator_sum_squares",
    "pre_denominator_sum": "pre_denominator_sum_squares",
}
_RATIO_PRODUCTS = {
    "sum_products": ("numerator_sum", "denominator_sum"),
    "pre_sum_products": ("pre_numerator_sum", "pre_denominator_sum"),
    "numerator_pre_numerator_products": ("numerator_sum", "pre_numerator_sum"),
    "numerator_pre_denominator_products": ("numerator_sum", "pre_denominator_sum"),
    "denominator_pre_numerator_products": ("denominator_sum", "pre_numerator_sum"),
    "denominator_pre_denominator_products": ("denominator_sum", "pre_denominator_sum"),
}
