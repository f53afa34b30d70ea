"""Experiment outcome metrics, and the sufficient statistics of each variant from the rows of
analytics/experiments/exposure_stats.sql (one row per variant and day of first exposure);
ratio statistics of catalogue metrics from metric_unit_stats.sql (rows per variant and day,
segment or value, summed by `ratio_totals`).

The outcome metrics are 28-day outcomes: they read only the units whose 28 days after first
exposure have passed by the analysis cut-off (`matured_units`); the split and the exposure
charts read every unit (`units`).

Pure: rows in, dataclasses out. Unit-level rows never get here; a variant's day rows are summed
(with fsum, so the order of days does not change the sums).
"""

import datetime
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from experiments.stats import MeanStats, ProportionStats, RatioStats
from experiments.stats.sufficient import RATIO_COVARIATE_FIELDS, RATIO_FIELDS

MetricType = Literal["proportion", "mean"]
# The outcome window: outcome_value and converted are measured over the days after exposure.
OUTCOME_DAYS = 28
# The CUPED covariate's window before first exposure: the lake's pre_value, and a catalogue
# metric's own pre-period (spelled out again in metric_unit_stats.sql's date_add).
PRE_PERIOD_DAYS = 28


@dataclass(frozen=True)
class OutcomeMetric:
    slug: str
    title: str
    metric_type: MetricType
    description: str


# Both are read from fact_experiment_exposures; higher is better for both.
OUTCOME_METRICS: dict[str, OutcomeMetric] = {
    m.slug: m
    for m in (
        OutcomeMetric(
            "conversion",
            "Conversion",
            "proportion",
            "Share of exposed units that booked within 28 days of their first exposure "
            "(the `converted` flag), over the units whose 28 days have passed, CUPED-adjusted "
            "with the same units' bookings in the 28 days before (`pre_converted`); Bayesian "
            "beta-binomial of the raw rates alongside.",
        ),
        OutcomeMetric(
            "outcome_value",
            "Activity value",
            "mean",
            "Mean activity value in the 28 days after first exposure (`outcome_value`), over "
            "the units whose 28 days have passed, CUPED-adjusted with the same measure in the "
            "28 days before (`pre_value`).",
        ),
    )
}

_COUNTS = (
    "units",
    "conversions",
    "matured_units",
    "pre_conversions",
    "conversion_products",
    "units_pre_conversions",
)
_SUMS = (
    "value_sum",
    "value_sum_squares",
    "pre_sum",
    "pre_sum_squares",
    "sum_products",
    "units_pre_sum",
    "units_pre_sum_squares",
)


@dataclass(frozen=True)
class VariantTotals:
    """A variant's units and sums. `units` counts every unit; `conversions` and the sums from
    `value_sum` to `sum_products` are over the `matured_units` only (their 28 days have
    passed); `units_pre_sum(_squares)` is the covariate over every unit."""

    units: int
    conversions: int
    value_sum: float
    value_sum_squares: float
    pre_sum: float
    pre_sum_squares: float
    sum_products: float
    # Zero by default: a variant without exposures has none of these either.
    matured_units: int = 0
    units_pre_sum: float = 0.0
    units_pre_sum_squares: float = 0.0
    # Conversion's covariate, over the matured units: converted before exposure, and in both;
    # and over every unit (the balance check).
    pre_conversions: int = 0
    conversion_products: int = 0
    units_pre_conversions: int = 0


@dataclass(frozen=True)
class DailyExposures:
    """Units first exposed per day, and their running total, of one variant."""

    days: tuple[datetime.date, ...]
    units: tuple[int, ...]
    cumulative: tuple[int, ...]


def totals_by_variant(rows: Iterable[Mapping[str, Any]]) -> dict[str, VariantTotals]:
    by_variant: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_variant.setdefault(str(row["variant"]), []).append(row)
    return {
        variant: VariantTotals(
            **{name: sum(int(r[name]) for r in day_rows) for name in _COUNTS},
            **{name: math.fsum(float(r[name]) for r in day_rows) for name in _SUMS},
        )
        for variant, day_rows in by_variant.items()
    }


# The sums of metric_unit_stats.sql's rows: experiments.stats.RatioStats' fields, with its
# covariate (a row's `units` is its n).
RATIO_SUMS = (*RATIO_FIELDS, *RATIO_COVARIATE_FIELDS)


def grouped_by(rows: Iterable[Mapping[str, Any]], grouping: str) -> list[Mapping[str, Any]]:
    """metric_unit_stats.sql's rows of one grouping (day, dimension, or a segment's)."""
    return [r for r in rows if r["grouped_by"] == grouping]


def ratio_totals(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """Per variant: `units` and every one of RATIO_SUMS, summed over its rows (with fsum)."""
    by_variant: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_variant.setdefault(str(row["variant"]), []).append(row)
    return {
        variant: {"units": sum(int(r["units"]) for r in variant_rows)}
        | {name: math.fsum(float(r[name]) for r in variant_rows) for name in RATIO_SUMS}
        for variant, variant_rows in by_variant.items()
    }


def daily_exposures(rows: Iterable[Mapping[str, Any]]) -> dict[str, DailyExposures]:
    by_variant: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_variant.setdefault(str(row["variant"]), []).append(row)
    result = {}
    for variant, day_rows in by_variant.items():
        day_rows = sorted(day_rows, key=lambda r: r["event_dt"])
        result[variant] = DailyExposures(
            days=tuple(as_date(r["event_dt"]) for r in day_rows),
            units=tuple(int(r["units"]) for r in day_rows),
            cumulative=tuple(int(r["cumulative_units"]) for r in day_rows),
        )
    return result


def metric_stats(metric: OutcomeMetric, totals: VariantTotals) -> ProportionStats | MeanStats:
    """The statistics `experiments.stats.compare` reads for this metric: its matured units."""
    if metric.metric_type == "proportion":
        return ProportionStats(
            n=totals.matured_units,
            conversions=totals.conversions,
            pre_conversions=totals.pre_conversions,
            conversion_products=totals.conversion_products,
        )
    return MeanStats(
        n=totals.matured_units,
        sum=totals.value_sum,
        sum_squares=totals.value_sum_squares,
        pre_sum=totals.pre_sum,
        pre_sum_squares=totals.pre_sum_squares,
        sum_products=totals.sum_products,
    )


def metric_mean(metric: OutcomeMetric, totals: VariantTotals) -> float | None:
    """The metric's raw (unadjusted) mean over the matured units; None before any matured."""
    if not totals.matured_units:
        return None
    value = totals.conversions if metric.metric_type == "proportion" else totals.value_sum
    return value / totals.matured_units


def as_date(value: Any) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(str(value)[:10])


@dataclass(frozen=True)
class Baseline:
    """What the MDE calculator can be filled with, from analytics/experiments/baseline.sql."""

    days: int
    daily_units: float | None
    control_units: int
    conversion_rate: float | None
    mean: float | None
    std: float | None
    correlation: float | None


def baseline_from_row(row: Mapping[str, Any]) -> Baseline:
    """Rate, mean, standard deviation and pre-period correlation of the control units; None
    where the window has too few units (fewer than 2) to say."""
    days, units, n = (
        int(row["days_with_data"] or 0),
        int(row["units"] or 0),
        int(row["control_units"] or 0),
    )
    daily = units / days if days else None
    if n < 2:
        return Baseline(days, daily, n, None, None, None, None)
    stats = MeanStats(
        n=n,
        sum=float(row["value_sum"]),
        sum_squares=float(row["value_sum_squares"]),
        pre_sum=float(row["pre_sum"]),
        pre_sum_squares=float(row["pre_sum_squares"]),
        sum_products=float(row["sum_products"]),
    )
    spread = math.sqrt(stats.variance * stats.pre_variance)
    return Baseline(
        days=days,
        daily_units=daily,
        control_units=n,
        conversion_rate=int(row["conversions"]) / n,
        mean=stats.mean,
        std=math.sqrt(stats.variance),
        correlation=stats.covariance / spread if spread > 0 else 0.0,
    )


def ratio_baseline(rows: Iterable[Mapping[str, Any]], control: str) -> Baseline:
    """A catalogue ratio metric's baseline from metric_unit_stats.sql's day rows: the control
    units' ratio, the standard deviation of its per-unit linearisation (x - R y) / mean(y),
    which sizes a ratio as a mean (the delta method), and the correlation of that linearisation
    with the same metric's pre-period one (CUPED; 0 without a pre-period). None where there are
    too few control units, or no denominator to divide by."""
    rows = list(rows)
    days = len({str(r["event_dt"]) for r in rows})
    units = sum(int(r["units"]) for r in rows)
    daily = units / days if days else None
    totals = ratio_totals(r for r in rows if str(r["variant"]) == control).get(control)
    n = int(totals["units"]) if totals else 0
    if totals is None or n < 2 or not totals["denominator_sum"] > 0:
        return Baseline(days, daily, n, None, None, None, None)
    stats = RatioStats(n=n, **{name: totals[name] for name in RATIO_SUMS})
    correlation = 0.0
    if stats.pre_denominator_sum > 0:
        spread = math.sqrt(stats.variance * stats.pre_variance)
        correlation = stats.covariance / spread if spread > 0 else 0.0
    return Baseline(
        days=days,
        daily_units=daily,
        control_units=n,
        conversion_rate=None,
        mean=stats.mean,
        std=math.sqrt(stats.variance),
        correlation=correlation,
    )
