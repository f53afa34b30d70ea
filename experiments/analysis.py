"""From the rows of the sufficient-statistics query to every number of a results page.

Pure: the experiment's setup and the query's per-variant, per-day rows in; split check,
comparisons per metric, guardrail breaches, time to decision and the decision lines out.
"""

import datetime
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import InputError
from experiments import verdict
from experiments.catalogue import metric_title
from experiments.outcomes import (
    OUTCOME_METRICS,
    DailyExposures,
    VariantTotals,
    daily_exposures,
    metric_stats,
    totals_by_variant,
)
from experiments.stats import (
    CompareResult,
    MeanStats,
    ProportionStats,
    RatioStats,
    compare,
)
from experiments.stats.decision import time_to_decision
from experiments.stats.srm import SrmResult, srm_check

_EMPTY = VariantTotals(0, 0, 0.0, 0.0, 0.0, 0.0, 0.0)
_VARIANT_PATH = re.compile(r"^variants\[(\d+)\]\.?")
NOT_PER_VARIANT = (
    "a catalogue metric without an experiment unit: it is measured for the whole marketplace "
    "on the metrics pages, not per variant"
)
_RATIO_SUMS = (
    "numerator_sum",
    "numerator_sum_squares",
    "denominator_sum",
    "denominator_sum_squares",
    "sum_products",
)


@dataclass(frozen=True)
class CatalogueRows:
    """A catalogue metric's per-variant rows (metric_unit_stats.sql), or why there are none."""

    rows: Sequence[Mapping[str, Any]]
    higher_is_better: bool
    error: str | None = None


@dataclass(frozen=True)
class Setup:
    variants: tuple[str, ...]
    weights: tuple[float, ...]
    alpha: float
    metrics: tuple[tuple[str, str], ...]  # (slug, role): primary, secondary or guardrail
    planned_n_per_variant: tuple[int, ...] | None
    running: bool

    @property
    def control(self) -> str:
        return self.variants[0]


@dataclass(frozen=True)
class MetricResult:
    slug: str
    role: str
    metric_type: str | None  # None: a catalogue metric that cannot be split per variant
    result: CompareResult | None
    error: str | None
    means: dict[str, float]  # raw (unadjusted) mean per variant
    breached: tuple[str, ...] = ()  # guardrails: the variants significantly worse than control


@dataclass(frozen=True)
class Analysis:
    totals: dict[str, VariantTotals]
    exposures: dict[str, DailyExposures]
    srm: SrmResult | None
    progress: verdict.Progress
    metrics: tuple[MetricResult, ...]
    warnings: tuple[str, ...]

    @property
    def units(self) -> dict[str, int]:
        return {name: totals.units for name, totals in self.totals.items()}


def analyse(
    setup: Setup,
    rows: Iterable[Mapping[str, Any]],
    today: datetime.date,
    catalogue: Mapping[str, CatalogueRows] | None = None,
) -> Analysis:
    """``rows`` from exposure_stats.sql; ``catalogue``: the rows of each catalogue metric
    computed per variant, by slug."""
    rows = list(rows)
    found = totals_by_variant(rows)
    warnings = [
        f"exposures of variant {name!r}, which the experiment does not have, are ignored "
        f"({found[name].units:,} units)"
        for name in sorted(set(found) - set(setup.variants))
    ]
    totals = {name: found.get(name, _EMPTY) for name in setup.variants}
    counts = [totals[name].units for name in setup.variants]
    srm = srm_check(counts, setup.weights) if sum(counts) else None
    if srm is None:
        warnings.append("no exposures yet")
    days_with_data = len({str(r["event_dt"]) for r in rows if str(r["variant"]) in totals})
    metrics = tuple(
        _metric(setup, totals, slug, role)
        if slug in OUTCOME_METRICS
        else _catalogue_metric(setup, (catalogue or {}).get(slug), slug, role)
        for slug, role in setup.metrics
    )
    return Analysis(
        totals=totals,
        exposures={k: v for k, v in daily_exposures(rows).items() if k in totals},
        srm=srm,
        progress=_progress(setup, counts, days_with_data, today),
        metrics=metrics,
        warnings=tuple(warnings),
    )


def _metric(setup: Setup, totals: dict[str, VariantTotals], slug: str, role: str) -> MetricResult:
    metric = OUTCOME_METRICS[slug]
    means = {
        name: (t.conversions if metric.metric_type == "proportion" else t.value_sum) / t.units
        for name, t in totals.items()
        if t.units
    }

    def stats(name: str) -> ProportionStats | MeanStats:
        return metric_stats(metric, totals[name])

    return _compared(setup, slug, role, metric.metric_type, stats, means)


def _catalogue_metric(
    setup: Setup, rows: CatalogueRows | None, slug: str, role: str
) -> MetricResult:
    """A catalogue ratio metric per variant: Σ numerator / Σ denominator over exposed units."""
    if rows is None:
        return MetricResult(slug, role, None, None, NOT_PER_VARIANT, {})
    if rows.error is not None:
        return MetricResult(slug, role, "ratio", None, rows.error, {})
    by_variant = {str(r["variant"]): r for r in rows.rows}
    means = {
        name: float(r["numerator_sum"]) / float(r["denominator_sum"])
        for name, r in by_variant.items()
        if name in setup.variants and r["denominator_sum"]
    }

    def stats(name: str) -> RatioStats:
        row = by_variant.get(name)
        if row is None:
            raise InputError("n", "must be at least 2")
        return RatioStats(n=int(row["units"]), **{k: float(row[k]) for k in _RATIO_SUMS})

    return _compared(setup, slug, role, "ratio", stats, means, rows.higher_is_better)


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
        result = compare(metric_type, variants, setup.weights, setup.alpha)
    except InputError as err:
        return MetricResult(slug, role, metric_type, None, _readable(err, setup), means)
    breached = tuple(
        c.variant
        for c in result.comparisons
        if role == "guardrail" and verdict.guardrail_breached(c, higher_is_better)
    )
    return MetricResult(slug, role, metric_type, result, None, means, breached)


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
    for metric in analysis.metrics:
        title = metric_title(metric.slug, titles)
        if metric.role == "primary":
            if metric.result is None:
                lines.append(f"{title}: {metric.error}.")
                continue
            for comparison in metric.result.comparisons:
                lines.append(
                    verdict.comparison_line(
                        comparison,
                        control=setup.control,
                        metric=title,
                        alpha=setup.alpha,
                        progress=analysis.progress,
                    )
                )
        elif metric.breached:
            for comparison in metric.result.comparisons:
                if comparison.variant in metric.breached:
                    lines.append(
                        verdict.guardrail_line(comparison, metric=title, alpha=setup.alpha)
                    )
    return lines
