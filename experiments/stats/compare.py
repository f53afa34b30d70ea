"""The facade an API calls: `compare` a metric across variants, or size an experiment with `mde`.

Inputs arrive as decoded JSON would (names, dicts of sufficient statistics, weights) or as the
dataclasses; every rejection is an `InputError` whose field is the request's path, e.g.
`variants[1].conversions` or `weights`.
"""

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from experiments.stats.bayesian import BetaPrior, beta_binomial
from experiments.stats.cuped import cuped
from experiments.stats.frequentist import DifferenceResult, proportion_z_test, welch_test
from experiments.stats.power import (
    days_needed,
    mde_mean,
    mde_proportion,
    sample_size_mean,
    sample_size_proportion,
)
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
Stats = ProportionStats | MeanStats | RatioStats
_STATS_CLASS: dict[str, type[ProportionStats] | type[MeanStats] | type[RatioStats]] = {
    "proportion": ProportionStats,
    "mean": MeanStats,
    "ratio": RatioStats,
}


@dataclass(frozen=True)
class Comparison:
    """One treatment against control. Frequentist fields always; `variance_reduction` with a
    CUPED covariate (means); the Bayesian fields for proportions only."""

    variant: str
    lift_abs: float
    lift_rel: float
    ci_abs: tuple[float, float]
    ci_rel: tuple[float, float]
    p_value: float
    variance_reduction: float | None
    prob_beat_control: float | None
    credible_interval_rel: tuple[float, float] | None
    expected_loss: float | None


@dataclass(frozen=True)
class CompareResult:
    metric_type: MetricType
    alpha: float
    srm_p_value: float
    srm_alert: bool
    theta: float | None
    cuped_applied: bool
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
) -> CompareResult:
    """Every variant after the first against the first (control).

    Proportions: Wald two-proportion z-test and the beta-binomial posterior under `prior`
    (uniform by default). Means: Welch's t-test, after CUPED when every variant carries the
    covariate sums (θ pooled over all variants). Ratios (Σx/Σy over units): Welch's t-test
    with the delta-method variance of each arm's ratio. SRM compares the variants' n with `weights`.
    Intervals are at level 1 - alpha; no correction for the number of treatments. A control
    mean of 0 (no conversions) is rejected, since every relative lift would divide by it.
    """
    kind = _metric_type(metric_type)
    alpha = require_alpha(alpha)
    names, stats = _variants(kind, variants)
    srm = srm_check([s.n for s in stats], weights, srm_threshold)
    theta: float | None = None
    applied = False
    if kind == "proportion":
        comparisons = tuple(
            _proportion_comparison(names[i], stats[0], stats[i], i, alpha, prior)
            for i in range(1, len(stats))
        )
    else:
        arms: Sequence[Arm] = stats
        if kind == "mean" and any(s.has_covariate for s in stats):
            adjusted = cuped(stats)  # names the first variant without the covariate
            arms, theta, applied = adjusted.arms, adjusted.theta, adjusted.cuped_applied
        comparisons = tuple(
            _mean_comparison(
                names[i], stats[0], stats[i], arms[0], arms[i], i, alpha, theta, applied
            )
            for i in range(1, len(stats))
        )
    return CompareResult(
        metric_type=kind,
        alpha=alpha,
        srm_p_value=srm.p_value,
        srm_alert=srm.srm_alert,
        theta=theta,
        cuped_applied=applied,
        comparisons=comparisons,
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


def _proportion_comparison(
    name: str,
    control: ProportionStats,
    treatment: ProportionStats,
    index: int,
    alpha: float,
    prior: BetaPrior | None,
) -> Comparison:
    frequentist = _reroot(lambda: proportion_z_test(control, treatment, alpha), index)
    bayesian = beta_binomial(control, treatment, alpha, prior)
    return Comparison(
        variant=name,
        lift_abs=frequentist.lift_abs,
        lift_rel=frequentist.lift_rel,
        ci_abs=frequentist.ci_abs,
        ci_rel=frequentist.ci_rel,
        p_value=frequentist.p_value,
        variance_reduction=None,
        prob_beat_control=bayesian.prob_beat_control,
        credible_interval_rel=bayesian.credible_interval_rel,
        expected_loss=bayesian.expected_loss,
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
) -> Comparison:
    """Welch on the (possibly CUPED-adjusted) arms; the variance reduction is that of the
    difference, 1 - se²_adjusted / se²_raw: None without a covariate, 0 when CUPED fell back."""
    fields = (
        {"sum_field": "numerator_sum", "squares_field": "numerator_sum_squares"}
        if isinstance(control, RatioStats)
        else {}
    )
    result = _reroot(lambda: welch_test(control_arm, treatment_arm, alpha, **fields), index)
    reduction = None
    if theta is not None:
        raw = control.variance / control.n + treatment.variance / treatment.n
        reduction = 1 - result.se_abs**2 / raw if applied and raw > 0 else 0.0
    return Comparison(
        variant=name,
        lift_abs=result.lift_abs,
        lift_rel=result.lift_rel,
        ci_abs=result.ci_abs,
        ci_rel=result.ci_rel,
        p_value=result.p_value,
        variance_reduction=reduction,
        prob_beat_control=None,
        credible_interval_rel=None,
        expected_loss=None,
    )


def _reroot(test: Callable[[], DifferenceResult], index: int) -> DifferenceResult:
    """Run a two-arm test, naming its errors by the variants' positions in the request."""
    try:
        return test()
    except InputError as err:
        raise err.rerooted({"control": "variants[0]", "treatment": f"variants[{index}]"}) from err
