"""The plain-language decision line of a results page: pure text from the numbers.

"b beats control on Conversion: +3.1% (95% CI +1.2% to +5.0%), P(beat)=99.6%; keep running 4
more days to reach the planned sample (until 2026-02-14)."
"""

import datetime
from dataclasses import dataclass

from experiments.stats import Comparison


@dataclass(frozen=True)
class Progress:
    """Where the experiment stands against its planned sample (None fields: unknown)."""

    running: bool
    days_remaining: int | None
    decision_date: datetime.date | None


def percent(value: float) -> str:
    return f"{value * 100:+.1f}%"


def interval(low: float, high: float, alpha: float) -> str:
    return f"{(1 - alpha) * 100:g}% CI {percent(low)} to {percent(high)}"


def comparison_line(
    comparison: Comparison, *, control: str, metric: str, alpha: float, progress: Progress
) -> str:
    """One treatment against control on one metric, with what to do next."""
    lift = f"{percent(comparison.lift_rel)} ({interval(*comparison.ci_rel, alpha)})"
    if comparison.prob_beat_control is not None:
        lift += f", P(beat)={comparison.prob_beat_control * 100:.1f}%"
    name = comparison.variant
    if comparison.p_value < alpha and comparison.lift_abs > 0:
        line = f"{name} beats {control} on {metric}: {lift}"
    elif comparison.p_value < alpha:
        line = f"{name} is worse than {control} on {metric}: {lift}"
    else:
        line = f"No significant difference between {name} and {control} on {metric}: {lift}"
    return line + _next_step(progress) + "."


def _next_step(progress: Progress) -> str:
    if not progress.running:
        return ""
    if progress.days_remaining is None:
        return "; the time to the planned sample is not known yet (no traffic measured)"
    if progress.days_remaining == 0:
        return "; the planned sample is reached"
    days = "1 more day" if progress.days_remaining == 1 else f"{progress.days_remaining} more days"
    return f"; keep running {days} to reach the planned sample (until {progress.decision_date})"


def srm_line(p_value: float) -> str:
    return (
        f"Sample ratio mismatch (p = {p_value:.2g}): the split of units does not match the "
        "configured weights, so no result can be trusted until the cause is found."
    )


def guardrail_line(comparison: Comparison, *, metric: str, alpha: float) -> str:
    return (
        f"Guardrail {metric} breached by {comparison.variant}: {percent(comparison.lift_rel)} "
        f"({interval(*comparison.ci_rel, alpha)})."
    )


def guardrail_breached(comparison: Comparison, higher_is_better: bool = True) -> bool:
    """Significantly worse than control: the whole interval of the difference lies on the
    wrong side of 0 (below it, or above it for a metric where lower is better)."""
    if higher_is_better:
        return comparison.ci_abs[1] < 0
    return comparison.ci_abs[0] > 0
