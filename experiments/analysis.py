"""From the rows of the sufficient-statistics query to every number of a results page.

Pure: the experiment's setup and the query's per-variant, per-day rows in; split check,
comparisons per metric, guardrail breaches, time to decision and the decision lines out.
"""

import dataclasses
import datetime
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import InputError
from experiments import verdict
from experiments.catalogue import metric_title
from experiments.health import ExposureHygiene, HealthCheck, health_checks
from experiments.outcomes import (
    OUTCOME_METRICS,
    RATIO_SUMS,
    DailyExposures,
    VariantTotals,
    as_date,
    daily_exposures,
    grouped_by,
    metric_mean,
    metric_stats,
    ratio_totals,
    totals_by_variant,
)
from experiments.segments import (
    DIMENSIONS,
    SEGMENT_GROUPINGS,
    metric_dimension_rows,
    segment_rows,
)
from experiments.stats import (
    CompareResult,
    Comparison,
    MeanStats,
    ProportionStats,
    RatioStats,
    compare,
)
from experiments.stats.compare import corrected
from experiments.stats.correction import Correction
from experiments.stats.decision import time_to_decision
from experiments.stats.reading import DEFAULT_TUNING, MIN_TUNING, Reading
from experiments.stats.srm import SrmResult, srm_check

_EMPTY = VariantTotals(0, 0, 0.0, 0.0, 0.0, 0.0, 0.0)
_VARIANT_PATH = re.compile(r"^variants\[(\d+)\]\.?")
NOT_PER_VARIANT = (
    "a catalogue metric without an experiment unit: it is measured for the whole marketplace "
    "on the metrics pages, not per variant"
)
Rows = Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class CatalogueRows:
    """A catalogue metric's rows (metric_unit_stats.sql: per variant and day, segment, and
    value of each of its own dimensions, those rows with the `split_by` they were computed
    with), or why there are none."""

    rows: Rows
    higher_is_better: bool
    error: str | None = None

    @property
    def days(self) -> list[Mapping[str, Any]]:
        return grouped_by(self.rows, "day")

    @property
    def segments(self) -> list[Mapping[str, Any]]:
        return [r for r in self.rows if r["grouped_by"] in SEGMENT_GROUPINGS]

    @property
    def dimension_values(self) -> list[Mapping[str, Any]]:
        """Every unit of a variant is in each value, at 0 / 0 where it has no rows of it: the
        query counts only those with rows, the variant's day rows count them all."""
        totals = ratio_totals(self.days)
        return [
            {**row, "units": int(totals.get(str(row["variant"]), {"units": 0})["units"])}
            for row in grouped_by(self.rows, "dimension")
        ]


@dataclass(frozen=True)
class Setup:
    variants: tuple[str, ...]
    weights: tuple[float, ...]
    alpha: float
    metrics: tuple[tuple[str, str], ...]  # (slug, role): primary, secondary or guardrail
    planned_n_per_variant: tuple[int, ...] | None
    running: bool
    sequential: bool = True
    sequential_tuning: int | None = None  # None: the planned sample of one comparison
    correction: Correction = "holm"

    @property
    def control(self) -> str:
        return self.variants[0]

    @property
    def primary(self) -> str | None:
        return next((slug for slug, role in self.metrics if role == "primary"), None)

    def totals_of(self, found: Mapping[str, VariantTotals]) -> dict[str, VariantTotals]:
        """Every variant's totals in the experiment's order; empty where none were found."""
        return {name: found.get(name, _EMPTY) for name in self.variants}

    @property
    def tuning(self) -> float:
        """Units of control and one treatment where the sequential interval is tightest: the
        experiment's setting, else the planned sample of its largest comparison."""
        if self.sequential_tuning is not None:
            return self.sequential_tuning
        planned = self.planned_n_per_variant
        if planned and len(planned) > 1:
            return max(MIN_TUNING, planned[0] + max(planned[1:]))
        return DEFAULT_TUNING

    @property
    def reading(self) -> Reading:
        return Reading(sequential=self.sequential, tuning=self.tuning, alpha=self.alpha)


@dataclass(frozen=True)
class MetricResult:
    slug: str
    role: str
    metric_type: str | None  # None: a catalogue metric that cannot be split per variant
    result: CompareResult | None
    error: str | None
    means: dict[str, float]  # raw (unadjusted) mean per variant
    higher_is_better: bool = True

    def outcome(self, comparison: Comparison) -> str:
        """better, worse, inconclusive or too_few_units: the printed interval, read in the
        metric's direction."""
        if comparison.decision in ("inconclusive", "too_few_units"):
            return comparison.decision
        return "better" if (comparison.decision == "increase") == self.higher_is_better else "worse"

    @property
    def breached(self) -> tuple[str, ...]:
        """Guardrails: the variants whose interval shows them worse than control."""
        if self.role != "guardrail" or self.result is None:
            return ()
        return tuple(c.variant for c in self.result.comparisons if self.outcome(c) == "worse")


@dataclass(frozen=True)
class LiftSeries:
    """The cumulative lift of one treatment on the primary metric by day of first exposure,
    with the interval the results read (sequential and corrected as the results are)."""

    days: tuple[datetime.date, ...]
    lift_rel: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]


@dataclass(frozen=True)
class Segment:
    value: str
    units: dict[str, int]
    metric: MetricResult  # the primary metric within the segment


@dataclass(frozen=True)
class Breakdown:
    """A primary or secondary metric by one dimension; every segment's comparisons are one
    family of the correction (reading many segments is many chances of a false positive)."""

    metric: str
    dimension: str
    title: str
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class Analysis:
    totals: dict[str, VariantTotals]
    exposures: dict[str, DailyExposures]
    srm: SrmResult | None
    progress: verdict.Progress
    metrics: tuple[MetricResult, ...]
    warnings: tuple[str, ...]
    lift_over_time: dict[str, LiftSeries] = dataclasses.field(default_factory=dict)
    health: tuple[HealthCheck, ...] = ()
    breakdowns: tuple[Breakdown, ...] = ()

    @property
    def units(self) -> dict[str, int]:
        return {name: totals.units for name, totals in self.totals.items()}


def analyse(
    setup: Setup,
    rows: Iterable[Mapping[str, Any]],
    today: datetime.date,
    catalogue: Mapping[str, CatalogueRows] | None = None,
    hygiene: ExposureHygiene | None = None,
    segments: Iterable[Mapping[str, Any]] = (),
) -> Analysis:
    """``rows`` from exposure_stats.sql; ``catalogue``: the rows of each catalogue metric
    computed per variant, by slug; ``hygiene``: who exposure_hygiene.sql found left out;
    ``segments``: the rows of segment_stats.sql, for the breakdowns."""
    rows = list(rows)
    found = totals_by_variant(rows)
    warnings = [
        f"exposures of variant {name!r}, which the experiment does not have, are ignored "
        f"({found[name].units:,} units)"
        for name in sorted(set(found) - set(setup.variants))
    ]
    totals = setup.totals_of(found)
    counts = [totals[name].units for name in setup.variants]
    srm = srm_check(counts, setup.weights) if sum(counts) else None
    if srm is None:
        warnings.append("no exposures yet")
    days_with_data = len({str(r["event_dt"]) for r in rows if str(r["variant"]) in totals})
    catalogue = catalogue or {}
    segments = list(segments)
    metrics = _families_corrected(
        setup,
        [
            _metric(setup, totals, slug, role)
            if slug in OUTCOME_METRICS
            else _catalogue_metric(setup, catalogue.get(slug), slug, role)
            for slug, role in setup.metrics
        ],
    )
    measured = {
        slug: found
        for slug, _role in setup.metrics
        if (found := _measured_rows(slug, rows, segments, catalogue)) is not None
    }
    return Analysis(
        totals=totals,
        exposures={k: v for k, v in daily_exposures(rows).items() if k in totals},
        srm=srm,
        progress=_progress(setup, counts, days_with_data, today),
        metrics=metrics,
        warnings=tuple(warnings),
        lift_over_time=_lift_over_time(setup, measured.get(setup.primary)),
        health=health_checks(totals=totals, weights=setup.weights, hygiene=hygiene),
        breakdowns=tuple(
            breakdown
            for slug, role in setup.metrics
            if role in ("primary", "secondary") and slug in measured
            for breakdown in _breakdowns(setup, slug, measured[slug])
        ),
    )


@dataclass(frozen=True)
class _MeasuredRows:
    """The rows a metric is computed from: per variant and day, per variant and segment
    (exposure_stats and segment_stats for an outcome metric, its own for a catalogue one), and
    per variant and value of a catalogue metric's own dimensions."""

    days: list[Mapping[str, Any]]
    segments: list[Mapping[str, Any]]
    higher_is_better: bool
    dimension_values: list[Mapping[str, Any]] = dataclasses.field(default_factory=list)


def _measured_rows(
    slug: str, rows: Rows, segments: Rows, catalogue: Mapping[str, CatalogueRows]
) -> _MeasuredRows | None:
    """None for a metric that is not computed per variant (or whose query failed)."""
    if slug in OUTCOME_METRICS:
        return _MeasuredRows(list(rows), list(segments), True)
    found = catalogue.get(slug)
    if found is None or found.error is not None:
        return None
    return _MeasuredRows(found.days, found.segments, found.higher_is_better, found.dimension_values)


def _measured(
    setup: Setup, slug: str, role: str, rows: Rows, higher_is_better: bool
) -> MetricResult:
    """The metric over these rows (a segment's, or the days up to one), uncorrected."""
    if slug in OUTCOME_METRICS:
        return _metric(setup, setup.totals_of(totals_by_variant(rows)), slug, role)
    return _ratio_metric(setup, slug, role, rows, higher_is_better)


def _breakdowns(setup: Setup, slug: str, measured: _MeasuredRows) -> list[Breakdown]:
    """The metric in every segment of every dimension: the units' (platform and visitor kind),
    then a catalogue metric's own."""
    role = dict(setup.metrics)[slug]
    titles = {d.slug: d.title for d in DIMENSIONS}
    dimensions = {}
    if measured.segments:
        dimensions |= segment_rows(measured.segments)
    for dimension, by_value in metric_dimension_rows(measured.dimension_values).items():
        titles[dimension] = dimension.replace("_", " ").capitalize()
        dimensions[dimension] = by_value
    breakdowns = []
    for dimension, by_segment in dimensions.items():
        values, members = [], []
        for value, rows in by_segment.items():
            values.append((value, _units(setup, rows)))
            members.append(_measured(setup, slug, role, rows, measured.higher_is_better))
        computed = iter(_corrected_together(setup, [m for m in members if m.result is not None]))
        segments = tuple(
            Segment(value, units, next(computed) if m.result is not None else m)
            for (value, units), m in zip(values, members, strict=True)
        )
        breakdowns.append(Breakdown(slug, dimension, titles[dimension], segments))
    return breakdowns


def _units(setup: Setup, rows: Rows) -> dict[str, int]:
    return {
        name: sum(int(r["units"]) for r in rows if str(r["variant"]) == name)
        for name in setup.variants
    }


def _lift_over_time(setup: Setup, measured: _MeasuredRows | None) -> dict[str, LiftSeries]:
    """Per treatment: the primary metric recomputed on the units first exposed up to each day.
    Days where it cannot be computed yet (too little data) or has no relative lift are left
    out. Sequential intervals may be read at every one of these days; fixed-horizon ones only
    at the last."""
    if measured is None:
        return {}
    slug, rows = setup.primary, measured.days
    points: dict[str, list[tuple[datetime.date, Comparison]]] = {}
    for day in sorted({as_date(r["event_dt"]) for r in rows}):
        so_far = [r for r in rows if as_date(r["event_dt"]) <= day]
        measured_so_far = _measured(setup, slug, "primary", so_far, measured.higher_is_better)
        metric = _families_corrected(setup, [measured_so_far])[0]
        for c in metric.result.comparisons if metric.result else ():
            if c.ci_rel is not None:
                points.setdefault(c.variant, []).append((day, c))
    return {
        name: LiftSeries(
            days=tuple(day for day, _ in series),
            lift_rel=tuple(c.lift_rel for _, c in series),
            low=tuple(c.ci_rel[0] for _, c in series),
            high=tuple(c.ci_rel[1] for _, c in series),
        )
        for name, series in points.items()
    }


def _metric(setup: Setup, totals: dict[str, VariantTotals], slug: str, role: str) -> MetricResult:
    metric = OUTCOME_METRICS[slug]
    means = {
        name: mean for name, t in totals.items() if (mean := metric_mean(metric, t)) is not None
    }

    def stats(name: str) -> ProportionStats | MeanStats:
        return metric_stats(metric, totals[name])

    return _compared(setup, slug, role, metric.metric_type, stats, means)


def _catalogue_metric(
    setup: Setup, rows: CatalogueRows | None, slug: str, role: str
) -> MetricResult:
    """A catalogue ratio metric per variant: sum(numerator) / sum(denominator) over exposed
    units, or why it is not computed."""
    if rows is None:
        return MetricResult(slug, role, None, None, NOT_PER_VARIANT, {})
    if rows.error is not None:
        return MetricResult(slug, role, "ratio", None, rows.error, {})
    return _ratio_metric(setup, slug, role, rows.days, rows.higher_is_better)


def _ratio_metric(
    setup: Setup, slug: str, role: str, rows: Rows, higher_is_better: bool
) -> MetricResult:
    totals = ratio_totals(rows)
    means = {
        name: t["numerator_sum"] / t["denominator_sum"]
        for name, t in totals.items()
        if name in setup.variants and t["denominator_sum"]
    }

    def stats(name: str) -> RatioStats:
        found = totals.get(name)
        if found is None:
            raise InputError("n", "must be at least 2")
        return RatioStats(n=int(found["units"]), **{k: found[k] for k in RATIO_SUMS})

    return _compared(setup, slug, role, "ratio", stats, means, higher_is_better)


def _families_corrected(setup: Setup, metrics: list[MetricResult]) -> tuple[MetricResult, ...]:
    """The correction over each family: the primary metric's treatments, and every secondary
    metric's treatments together. Guardrails stay uncorrected: a correction would make a
    breach harder to see, and a guardrail exists to see one."""
    for role in ("primary", "secondary"):
        members = [m for m in metrics if m.role == role and m.result is not None]
        for m, adjusted in zip(members, _corrected_together(setup, members), strict=True):
            metrics[metrics.index(m)] = adjusted
    return tuple(metrics)


def _corrected_together(setup: Setup, members: list[MetricResult]) -> list[MetricResult]:
    """`members` (each with a result) with every comparison of them corrected as one family."""
    family = [c for m in members for c in m.result.comparisons]
    if not family:
        return members
    adjusted = iter(corrected(family, setup.correction, setup.alpha, setup.reading))
    return [
        dataclasses.replace(
            m,
            result=dataclasses.replace(
                m.result,
                correction=setup.correction,
                comparisons=tuple(next(adjusted) for _ in m.result.comparisons),
            ),
        )
        for m in members
    ]


def _compared(
    setup: Setup,
    slug: str,
    role: str,
    metric_type: str,
    stats_of: Callable[[str], Any],
    means: dict[str, float],
    higher_is_better: bool = True,
) -> MetricResult:
    """Every treatment against control, or a readable reason why not yet."""
    try:
        variants = []
        for i, name in enumerate(setup.variants):
            try:
                variants.append((name, stats_of(name)))
            except InputError as err:
                raise err.within(f"variants[{i}]") from None
        # Corrected per family, across metrics, by _families_corrected.
        result = compare(
            metric_type,
            variants,
            setup.weights,
            setup.alpha,
            sequential=setup.sequential,
            sequential_tuning=setup.tuning,
            correction="none",
        )
    except InputError as err:
        return MetricResult(
            slug, role, metric_type, None, _readable(err, setup), means, higher_is_better
        )
    return MetricResult(slug, role, metric_type, result, None, means, higher_is_better)


def _readable(err: InputError, setup: Setup) -> str:
    """'variants[1].n: must be at least 2' -> 'not enough data yet: treatment n must be ...'."""
    match = _VARIANT_PATH.match(err.field)
    if match is None:
        return f"cannot be computed: {err.field} {err.message}"
    name = setup.variants[int(match[1])]
    field = err.field[match.end() :] or "statistics"
    return f"not enough data yet: {name} {field} {err.message}"


def _progress(
    setup: Setup, counts: list[int], days_with_data: int, today: datetime.date
) -> verdict.Progress:
    """Days until every arm has its planned sample, at the traffic seen so far."""
    if not setup.running or setup.planned_n_per_variant is None or not days_with_data:
        return verdict.Progress(setup.running, None, None)
    daily_units = sum(counts) / days_with_data
    if daily_units <= 0:
        return verdict.Progress(setup.running, None, None)
    ttd = time_to_decision(counts, setup.planned_n_per_variant, setup.weights, daily_units, today)
    return verdict.Progress(True, ttd.days_remaining, ttd.decision_date)


def decision_lines(
    setup: Setup, analysis: Analysis, titles: dict[str, str] | None = None
) -> list[str]:
    """What to tell a reader: SRM first (it voids the rest), then the primary metric per
    treatment, then any guardrail breach."""
    lines = []
    if analysis.srm is not None and analysis.srm.srm_alert:
        lines.append(verdict.srm_line(analysis.srm.p_value))
    method = verdict.Method(setup.alpha, setup.sequential, setup.correction)
    for metric in analysis.metrics:
        title = metric_title(metric.slug, titles)
        if metric.role == "primary":
            if metric.result is None:
                lines.append(f"{title}: {metric.error}.")
                continue
            corrected = len(metric.result.comparisons) > 1
            for comparison in metric.result.comparisons:
                lines.append(
                    verdict.comparison_line(
                        comparison,
                        outcome=metric.outcome(comparison),
                        control=setup.control,
                        metric=title,
                        method=method,
                        progress=analysis.progress,
                        corrected=corrected,
                    )
                )
        elif metric.breached:
            guardrail_method = dataclasses.replace(method, correction="none")
            for comparison in metric.result.comparisons:
                if comparison.variant in metric.breached:
                    lines.append(
                        verdict.guardrail_line(comparison, metric=title, method=guardrail_method)
                    )
    return lines
