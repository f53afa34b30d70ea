"""One number for a whole window, from a metric's per-period result.

Pure: no Django, no I/O. Ratios re-aggregate exactly as sum(numerator) / sum(denominator) and
counts as the sum of the periods (the catalogue's SQL contract returns what that needs). Other
units (medians and means of durations, amounts) cannot be re-aggregated from period values, so
their headline is the mean of the period values and says so in its label.
"""

from dataclasses import dataclass

import pandas as pd

GRAIN_ADJECTIVE = {"day": "daily", "week": "weekly", "month": "monthly"}


@dataclass(frozen=True)
class Summary:
    value: float | None
    method: str  # ratio_of_sums | sum | mean_of_periods | none
    label: str
    numerator: float | None = None
    denominator: float | None = None
    periods: int = 0


def summarise(frame: pd.DataFrame, *, unit: str, is_ratio: bool, grain: str) -> Summary:
    periods = int(frame["period"].nunique()) if len(frame) else 0
    split = "dimension_value" in frame and frame["dimension_value"].nunique() > 1
    if is_ratio:
        numerator = float(frame["numerator"].sum()) if len(frame) else 0.0
        denominator = float(frame["denominator"].sum()) if len(frame) else 0.0
        value = numerator / denominator if denominator else None
        return Summary(
            value=value,
            method="ratio_of_sums",
            label=f"{_amount(numerator)} / {_amount(denominator)} over the window",
            numerator=numerator,
            denominator=denominator,
            periods=periods,
        )
    values = pd.to_numeric(frame["value"], errors="coerce").dropna()
    if values.empty:
        # No row at all: the lake has nothing for the window, which is not the same as zero.
        method = "sum" if unit == "count" else "mean_of_periods"
        return Summary(value=None, method=method, label="no data", periods=0)
    if unit == "count":
        total = float(values.sum())
        return Summary(value=total, method="sum", label="total over the window", periods=periods)
    if split:
        # A mean over mixed dimension values would describe nothing anyone asked for.
        label = "one line per value: no single number across a split"
        return Summary(value=None, method="none", label=label, periods=periods)
    return Summary(
        value=float(values.mean()),
        method="mean_of_periods",
        label=f"mean of {len(values)} {GRAIN_ADJECTIVE[grain]} values",
        periods=periods,
    )


def _amount(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.2f}"
