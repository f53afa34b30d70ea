"""The plain-language decision line of a results page: pure text from the numbers.

"b beats control on Conversion: +3.1% (95% always-valid CI +1.2% to +5.0%), P(beat)=99.6%;
keep running 4 more days to reach the planned sample (until 2026-02-14)."

The verb comes from the outcome, which is read from the very interval the line prints, so the
words, the chart's colour and the table cannot disagree.
"""

import datetime
from dataclasses import dataclass

from experiments.stats import Comparison
from experiments.stats.compare import MIN_UNITS
from experiments.stats.correction import Correction

CORRECTION_NAMES = {"holm": "Holm", "bh": "Benjamini-Hochberg"}


@dataclass(frozen=True)
class Progress:
    """Where the experiment stands against its planned sample (None fields: unknown)."""

    running: bool
    days_remaining: int | None
    decision_date: datetime.date | None


@dataclass(frozen=True)
class Method:
    """How the intervals were read: sequential or fixed horizon, and the correction."""

    alpha: float
    sequential: bool
    correction: Correction = "none"

    def interval_name(self, corrected: bool) -> str:
        level = f"{(1 - self.alpha) * 100:g}%"
        kind = f"{level} always-valid CI" if self.sequential else f"{level} CI"
        if corrected and self.correction in CORRECTION_NAMES:
            kind += f", {CORRECTION_NAMES[self.correction]}-adjusted"
        return kind


def percent(value: float) -> str:
    return f"{value * 100:+.1f}%"


def lift_text(comparison: Comparison, method: Method, corrected: bool = False) -> str:
    """The lift with the interval decisions are read on: relative, or absolute when there is
    no relative lift (a control mean of 0, or a treatment at 0 without any spread)."""
    name = method.interval_name(corrected)
    if comparison.ci_rel is not None:
        low, high = comparison.ci_rel
        return f"{percent(comparison.lift_rel)} ({name} {percent(low)} to {percent(high)})"
    low, high = comparison.ci_abs
    return (
        f"{comparison.lift_abs:+.4g} absolute, no relative lift with a mean of 0 "
        f"({name} {low:+.4g} to {high:+.4g})"
    )


def comparison_line(
    comparison: Comparison,
    *,
    outcome: str,
    control: str,
    metric: str,
    method: Method,
    progress: Progress,
    corrected: bool = False,
) -> str:
    """One treatment against control on one metric, with what to do next. `outcome`: better,
    worse, inconclusive or too_few_units (analysis.MetricResult.outcome)."""
    lift = lift_text(comparison, method, corrected)
    if comparison.prob_beat_control is not None:
        lift += f", P(beat)={comparison.prob_beat_control * 100:.1f}%"
    name = comparison.variant
    if outcome == "too_few_units":
        line = (
            f"Too few units yet for a verdict between {name} and {control} on {metric} "
            f"(at least {MIN_UNITS:,} per arm): {lift}"
        )
    elif outcome == "better":
        line = f"{name} beats {control} on {metric}: {lift}"
    elif outcome == "worse":
        line = f"{name} is worse than {control} on {metric}: {lift}"
    else:
        line = f"No significant difference between {name} and {control} on {metric}: {lift}"
    return line + _next_step(progress, method) + "."


def _next_step(progress: Progress, method: Method) -> str:
    if not progress.running:
        return ""
    if progress.days_remaining is None:
        return "; the time to the planned sample is not known yet (no traffic measured)"
    if progress.days_remaining == 0:
        return "; the planned sample is reached"
    days = "1 more day" if progress.days_remaining == 1 else f"{progress.days_remaining} more days"
    if method.sequential:
        return f"; keep running {days} to reach the planned sample (until {progress.decision_date})"
    return (
        f"; fixed horizon: this holds only at the planned sample, {days} away "
        f"(until {progress.decision_date}), so do not act on it before then"
    )


def srm_line(p_value: float) -> str:
    return (
        f"Sample ratio mismatch (p = {p_value:.2g}): the split of units does not match the "
        "configured weights, so no result can be trusted until the cause is found."
    )


def guardrail_line(comparison: Comparison, *, metric: str, method: Method) -> str:
    return f"Guardrail {metric} breached by {comparison.variant}: {lift_text(comparison, method)}."
