"""The facade an API calls: `compare` a metric across variants, or size an experiment with `mde`.

Inputs arrive as decoded JSON would (names, dicts of sufficient statistics, weights) or as the
dataclasses; every rejection is an `InputError` whose field is the request's path, e.g.
`variants[1].conversions` or `weights`.
"""

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from scipy import stats as sps

from experiments.stats.bayesian import BetaPrior, beta_binomial
from experiments.stats.correction import (
    Correction,
    adjusted_p_values,
    matching_alpha,
    require_correction,
)
from experiments.stats.cuped import CupedResult, cuped
from experiments.stats.frequentist import Difference, proportion_difference, welch_difference
from experiments.stats.power import (
    days_needed,
    mde_mean,
    mde_proportion,
    sample_size_mean,
    sample_size_proportion,
)
from experiments.stats.ratio_cuped import AdjustedRatio, adjusted_ratio_difference, ratio_cuped
from experiments.stats.reading import DEFAULT_TUNING, Reading
from experiments.stats.srm import SRM_THRESHOLD, srm_check
from experiments.stats.sufficient import Arm, MeanStats, ProportionStats, RatioStats
from experiments.stats.validation import (
    MAX_VARIANTS,
    InputError,
    require_alpha,
    require_int,
    require_variant_count,
)

MetricType = Literal["proportion", "mean", "ratio"]
Decision = Literal["increase", "decrease", "inconclusive", "too_few_units"]
# Units per arm below which no verdict is given (and proportions get Fisher's exact test):
# the normal approximations behind every interval here need more.
MIN_UNITS = 100
Stats = ProportionStats | MeanStats | RatioStats
_STATS_CLASS: dict[str, type[ProportionStats] | type[MeanStats] | type[RatioStats]] = {
    "proportion": ProportionStats,
    "mean": MeanStats,
    "ratio": RatioStats,
}


@dataclass(frozen=True)
class Comparison:
    """One treatment against control.

    The intervals and `p_value` are read as `CompareResult.sequential` says; decisions are read
    on the relative scale (`ci_rel`), or on the absolute one when the control mean is 0 and
    the relative lift is undefined (`lift_rel` and `ci_rel` None). Both intervals are widened
    to the level the correction leaves this comparison, so `decision` (increase, decrease,
    inconclusive, or too_few_units below `MIN_UNITS` per arm) is exactly what the printed
    interval shows, and p_value_adjusted < alpha exactly when it excludes 0 (with enough
    units). `variance_reduction` with a CUPED covariate (means and ratios); the Bayesian fields
    for proportions only. `test`: welch, z, or fisher_exact (proportions below MIN_UNITS)."""

    variant: str
    lift_abs: float
    lift_rel: float | None
    ci_abs: tuple[float, float]
    ci_rel: tuple[float, float] | None
    p_value: float
    p_value_adjusted: float
    decision: Decision
    test: str
    variance_reduction: float | None
    prob_beat_control: float | None
    credible_interval_rel: tuple[float, float] | None
    expected_loss: float | None
    difference: Difference = field(repr=False, compare=False)

    @property
    def decision_interval(self) -> tuple[float, float]:
        return self.ci_rel if self.ci_rel is not None else self.ci_abs

    @property
    def enough_units(self) -> bool:
        return self.decision != "too_few_units"


@dataclass(frozen=True)
class CompareResult:
    metric_type: MetricType
    alpha: float
    srm_p_value: float
    srm_alert: bool
    theta: float | None
    cuped_applied: bool
    sequential: bool
    sequential_tuning: float | None
    correction: Correction
    comparisons: tuple[Comparison, ...]


@dataclass(frozen=True)
class MdeResult:
    n_per_variant: tuple[int, ...]
    n_total: int
    days: int
    mde_rel: float


def compare(
    metric_type: MetricType,
    variants: Sequence[tuple[str, Stats | Mapping[str, Any]]],
    weights: Sequence[float],
    alpha: float = 0.05,
    *,
    srm_threshold: float = SRM_THRESHOLD,
    prior: BetaPrior | None = None,
    sequential: bool = False,
    sequential_tuning: float = DEFAULT_TUNING,
    correction: Correction = "holm",
) -> CompareResult:
    """Every variant after the first against the first (control).

    Proportions: Wald two-proportion differences and the beta-binomial posterior under `prior`
    (uniform by default). Means: Welch, after CUPED when every variant carries the covariate
    sums (θ pooled over all variants). Ratios (Σx/Σy over units): Welch with the delta-method
    variance of each arm's ratio, after CUPED by the same metric's pre-period ratio when every
    variant carries its nine sums (`ratio_cuped`; theta pooled over all variants as gbstats
    pools it over two). With CUPED the relative lift is the adjusted difference over the
    control's unadjusted mean or ratio, as gbstats reads it. `sequential`: always-valid
    intervals and p-values (a confidence sequence tightest near `sequential_tuning` units),
    else fixed horizon. The p-values are corrected across the treatments by `correction`
    (holm, bh or none) and each interval is widened to match. SRM compares the variants' n
    with `weights`.
    """
    kind = _metric_type(metric_type)
    alpha = require_alpha(alpha)
    method = require_correction(correction)
    if not isinstance(sequential, bool):
        raise InputError("sequential", "must be true or false")
    reading = Reading(sequential=sequential, tuning=sequential_tuning, alpha=alpha)
    names, stats = _variants(kind, variants)
    srm = srm_check([s.n for s in stats], weights, srm_threshold)
    theta: float | None = None
    applied = False
    if kind == "proportion":
        adjusted = _proportion_cuped(stats)
        comparisons = [
            _proportion_comparison(names[i], stats[0], stats[i], i, alpha, prior, reading, adjusted)
            for i in range(1, len(stats))
        ]
        if adjusted is not None:
            # Fisher's exact test below MIN_UNITS reads the raw counts: applied only if used.
            theta = adjusted.theta
            applied = adjusted.cuped_applied and any(c.test == "welch" for c in comparisons)
    else:
        arms: Sequence[Arm] = stats
        if any(s.has_covariate for s in stats):
            # Either names the first variant without the covariate.
            adjusted = cuped(stats) if kind == "mean" else ratio_cuped(stats)
            arms, theta, applied = adjusted.arms, adjusted.theta, adjusted.cuped_applied
        comparisons = [
            _mean_comparison(
                names[i], stats[0], stats[i], arms[0], arms[i], i, alpha, theta, applied, reading
            )
            for i in range(1, len(stats))
        ]
    return CompareResult(
        metric_type=kind,
        alpha=alpha,
        srm_p_value=srm.p_value,
        srm_alert=srm.srm_alert,
        theta=theta,
        cuped_applied=applied,
        sequential=sequential,
        sequential_tuning=reading.tuning if sequential else None,
        correction=method,
        comparisons=corrected(comparisons, method, alpha, reading),
    )


def corrected(
    comparisons: Sequence[Comparison], method: Correction, alpha: float, reading: Reading
) -> tuple[Comparison, ...]:
    """The comparisons of one family with adjusted p-values, and intervals widened to the level
    each adjusted p-value implies (`correction.matching_alpha`); `reading` is how they were
    read. A family can span metrics (the results' secondary metrics)."""
    adjusted = adjusted_p_values([c.p_value for c in comparisons], method)
    return tuple(
        _reread(
            c, p_adjusted, matching_alpha(alpha, c.p_value, p_adjusted, len(comparisons)), reading
        )
        for c, p_adjusted in zip(comparisons, adjusted, strict=True)
    )


def mde(
    metric_type: MetricType,
    baseline: float,
    weights: Sequence[float],
    daily_units: float,
    *,
    mde_rel: float | None = None,
    n_total: int | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    std: float | None = None,
    correlation: float = 0.0,
    comparisons: int = 1,
) -> MdeResult:
    """Sample for a given `mde_rel`, or the MDE a given `n_total` reaches (exactly one of them).

    `baseline` is the control conversion rate (proportion) or mean (mean, with `std` and an
    optional CUPED `correlation`). The sample is always the one the MDE needs, so from `n_total`
    it comes back rounded up to whole units per arm; `days` is ⌈n_total / daily_units⌉.

    With `comparisons` k > 1 the test is sized at alpha/k: the level at which Holm's
    correction tests the smallest p-value (and Bonferroni every one), so each treatment keeps
    its power under the correction the results apply.
    """
    kind = _metric_type(metric_type)
    alpha = require_alpha(alpha) / require_int(comparisons, "comparisons", 1, MAX_VARIANTS)
    if kind == "ratio":
        raise InputError("metric_type", "sizing takes 'proportion' or 'mean'")
    if (mde_rel is None) == (n_total is None):
        raise InputError("mde_rel", "give exactly one of mde_rel and n_total")
    if kind == "proportion":
        if std is not None:
            raise InputError("std", "applies to mean metrics only")
        if correlation != 0:
            raise InputError("correlation", "applies to mean metrics only")
        if mde_rel is None:
            mde_rel = mde_proportion(baseline, n_total, weights, alpha, power)
        size = sample_size_proportion(baseline, mde_rel, weights, alpha, power)
    else:
        if std is None:
            raise InputError("std", "is required for mean metrics")
        if mde_rel is None:
            mde_rel = mde_mean(baseline, std, n_total, weights, alpha, power, correlation)
        size = sample_size_mean(baseline, std, mde_rel, weights, alpha, power, correlation)
    return MdeResult(
        n_per_variant=size.n_per_variant,
        n_total=size.n_total,
        days=days_needed(size.n_total, daily_units),
        mde_rel=mde_rel,
    )


def _metric_type(metric_type: object) -> MetricType:
    # A str check first: a JSON object or list is unhashable (a TypeError, not a refusal).
    if not isinstance(metric_type, str) or metric_type not in _STATS_CLASS:
        raise InputError("metric_type", "must be 'proportion', 'mean' or 'ratio'")
    return metric_type  # type: ignore[return-value]


def _variants(kind: MetricType, variants: object) -> tuple[list[str], list[Any]]:
    if isinstance(variants, str | bytes) or not isinstance(variants, Sequence):
        raise InputError("variants", "must be a list of (name, statistics) pairs")
    if len(variants) < 2:
        raise InputError("variants", "needs a control and at least one treatment")
    require_variant_count(len(variants), "variants")
    names: list[str] = []
    stats: list[Any] = []
    for i, item in enumerate(variants):
        path = f"variants[{i}]"
        if isinstance(item, str | bytes) or not isinstance(item, Sequence) or len(item) != 2:
            raise InputError(path, "must be a (name, statistics) pair")
        name, values = item
        if not isinstance(name, str) or not name.strip():
            raise InputError(f"{path}.name", "must be a non-empty string")
        if name in names:
            raise InputError(f"{path}.name", "repeats another variant's name")
        names.append(name)
        stats.append(_stats(kind, values, path))
    return names, stats


def _stats(kind: MetricType, values: object, path: str) -> Stats:
    """The variant's statistics, built from a mapping of their fields if need be."""
    cls = _STATS_CLASS[kind]
    if isinstance(values, cls):
        return values
    if not isinstance(values, Mapping):
        raise InputError(path, f"must be {kind} statistics")
    fields = dataclasses.fields(cls)
    known = {f.name for f in fields}
    unknown = sorted(str(key) for key in values if key not in known)
    if unknown:
        raise InputError(f"{path}.{unknown[0]}", f"is not a field of {kind} statistics")
    for f in fields:
        if f.default is dataclasses.MISSING and f.name not in values:
            raise InputError(f"{path}.{f.name}", "is required")
    try:
        return cls(**values)
    except InputError as err:
        raise err.within(path) from err


def _proportion_cuped(stats: Sequence[ProportionStats]) -> CupedResult | None:
    """CUPED of the 0/1 conversions with their pre-period ones, as for any mean; None when no
    variant carries the covariate."""
    if not any(s.has_covariate for s in stats):
        return None
    for i, s in enumerate(stats):
        if not s.has_covariate:
            raise InputError(
                f"variants[{i}].pre_conversions", "CUPED needs the covariate of every variant"
            )
    return cuped([s.as_mean() for s in stats])


def _proportion_comparison(
    name: str,
    control: ProportionStats,
    treatment: ProportionStats,
    index: int,
    alpha: float,
    prior: BetaPrior | None,
    reading: Reading,
    adjusted: CupedResult | None = None,
) -> Comparison:
    """The two-proportion z-test, or Welch's on the CUPED-adjusted rates when a covariate
    applies (Fisher's exact test below MIN_UNITS either way), with the beta-binomial
    posterior of the raw rates."""
    bayesian = beta_binomial(control, treatment, alpha, prior)
    exact = min(control.n, treatment.n) < MIN_UNITS
    if adjusted is not None and adjusted.cuped_applied and not exact:
        comparison = _mean_comparison(
            name,
            control.as_mean(),
            treatment.as_mean(),
            adjusted.arms[0],
            adjusted.arms[index],
            index,
            alpha,
            adjusted.theta,
            True,
            reading,
        )
        return dataclasses.replace(
            comparison,
            prob_beat_control=bayesian.prob_beat_control,
            credible_interval_rel=bayesian.credible_interval_rel,
            expected_loss=bayesian.expected_loss,
        )
    difference = _reroot(lambda: proportion_difference(control, treatment), index)
    p_value = (
        float(
            sps.fisher_exact(
                [
                    [treatment.conversions, treatment.n - treatment.conversions],
                    [control.conversions, control.n - control.conversions],
                ]
            ).pvalue
        )
        if exact
        else _p_value(difference, reading)
    )
    return Comparison(
        variant=name,
        lift_abs=difference.lift_abs,
        lift_rel=difference.lift_rel,
        ci_abs=(difference.lift_abs, difference.lift_abs),  # read by `corrected`
        ci_rel=None,
        p_value=p_value,
        p_value_adjusted=p_value,
        decision="too_few_units" if exact else "inconclusive",
        test="fisher_exact" if exact else "z",
        # Fell back (nothing to adjust with) or exact: no reduction.
        variance_reduction=None if adjusted is None else 0.0,
        prob_beat_control=bayesian.prob_beat_control,
        credible_interval_rel=bayesian.credible_interval_rel,
        expected_loss=bayesian.expected_loss,
        difference=difference,
    )


def _mean_comparison(
    name: str,
    control: MeanStats | RatioStats,
    treatment: MeanStats | RatioStats,
    control_arm: Arm,
    treatment_arm: Arm,
    index: int,
    alpha: float,
    theta: float | None,
    applied: bool,
    reading: Reading,
) -> Comparison:
    """Welch on the (possibly CUPED-adjusted) arms; the variance reduction is that of the
    difference, 1 - se²_adjusted / se²_raw: None without a covariate, 0 when CUPED fell back."""
    squares = "numerator_sum_squares" if isinstance(control, RatioStats) else "sum_squares"

    def test() -> Difference:
        # Adjusted ratios read their relative lift their own way; unadjusted arms (a fallback
        # too) the plain way, to the bit.
        if (
            applied
            and isinstance(control_arm, AdjustedRatio)
            and isinstance(treatment_arm, AdjustedRatio)
        ):
            return adjusted_ratio_difference(control_arm, treatment_arm)
        return welch_difference(control_arm, treatment_arm, squares_field=squares)

    difference = _reroot(test, index)
    reduction = None
    if theta is not None:
        raw = control.variance / control.n + treatment.variance / treatment.n
        reduction = 1 - difference.se_abs**2 / raw if applied and raw > 0 else 0.0
    p_value = _p_value(difference, reading)
    few = min(control.n, treatment.n) < MIN_UNITS
    return Comparison(
        variant=name,
        lift_abs=difference.lift_abs,
        lift_rel=difference.lift_rel,
        ci_abs=(difference.lift_abs, difference.lift_abs),  # read by `corrected`
        ci_rel=None,
        p_value=p_value,
        p_value_adjusted=p_value,
        decision="too_few_units" if few else "inconclusive",
        test="welch",
        variance_reduction=reduction,
        prob_beat_control=None,
        credible_interval_rel=None,
        expected_loss=None,
        difference=difference,
    )


def _p_value(difference: Difference, reading: Reading) -> float:
    """On the decision scale: relative where defined, else absolute."""
    if difference.relative:
        estimate, se = difference.lift_rel, difference.se_rel
    else:
        estimate, se = difference.lift_abs, difference.se_abs
    return reading.p_value(estimate, se, difference.df, difference.n_total)


def _reread(
    comparison: Comparison, p_adjusted: float, level: float, reading: Reading
) -> Comparison:
    """The intervals at `level` and the decision they show."""
    d = comparison.difference

    def interval(estimate: float, se: float) -> tuple[float, float]:
        width = reading.half_width(se, d.df, d.n_total, level)
        return (estimate - width, estimate + width)

    ci_abs = interval(d.lift_abs, d.se_abs)
    ci_rel = interval(d.lift_rel, d.se_rel) if d.relative else None
    low, high = ci_rel if ci_rel is not None else ci_abs
    decision: Decision = (
        "too_few_units"
        if comparison.decision == "too_few_units"
        else "increase"
        if low > 0
        else "decrease"
        if high < 0
        else "inconclusive"
    )
    return dataclasses.replace(
        comparison, ci_abs=ci_abs, ci_rel=ci_rel, p_value_adjusted=p_adjusted, decision=decision
    )


def _reroot(test: Callable[[], Difference], index: int) -> Difference:
    """Run a two-arm computation, naming its errors by the variants' positions in the request."""
    try:
        return test()
    except InputError as err:
        raise err.rerooted({"control": "variants[0]", "treatment": f"variants[{index}]"}) from err
