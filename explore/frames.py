"""The explore view's numbers from a metric's per-period result: quarters, the top values of a
breakdown plus "Other", and the comparison window's periods aligned with the window's, period
by period (the comparison window itself: metrics.windows.comparison_window).

Pure: no Django, no I/O. Everything re-aggregates the way the SQL contract allows: a ratio's
period or group is sum(numerator) / sum(denominator) (never a mean of ratios), a count is a
sum. Medians and other durations cannot be combined from their parts, so they have no quarter
and no "Other" (metrics.summary says the same of their headline).
"""

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from metrics.summary import summarise

GRAINS = ("day", "week", "month", "quarter")
# The SQL contract knows day, week and month: a quarter is three months added up.
SQL_GRAIN = {"day": "day", "week": "week", "month": "month", "quarter": "month"}
OTHER = "Other"
KEYS = ["period", "dimension_value"]


@dataclass(frozen=True)
class Kind:
    """How a metric's values combine."""

    is_ratio: bool
    unit: str

    @property
    def additive(self) -> bool:
        return self.is_ratio or self.unit == "count"

    @property
    def parts(self) -> list[str]:
        return ["numerator", "denominator"] if self.is_ratio else ["value"]


def period_start(day: date, grain: str) -> date:
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return day


def window_periods(start: date, end: date, grain: str) -> list[date]:
    """Every period the window touches, first to last (edge periods hold only its days)."""
    periods: list[date] = []
    day = start
    while day <= end:
        first = period_start(day, grain)
        if not periods or periods[-1] != first:
            periods.append(first)
        day += timedelta(days=1)
    return periods


def regrain(frame: pd.DataFrame, grain: str, kind: Kind) -> pd.DataFrame:
    """``frame`` (at SQL_GRAIN[grain]) at ``grain``: months added up into quarters."""
    frame = _typed(frame)
    if grain != "quarter":
        return frame
    frame["period"] = [period_start(d, "quarter") for d in frame["period"]]
    return _combine(frame, kind)


def top_values(frame: pd.DataFrame, n: int, kind: Kind) -> list[str]:
    """The ``n`` values with the most weight over the window: a ratio's denominator (its
    population), a count's total; for medians, the periods with data. Ties by name."""
    if frame.empty:
        return []
    if kind.is_ratio:
        weight = frame.groupby("dimension_value")["denominator"].sum()
    elif kind.additive:
        weight = frame.groupby("dimension_value")["value"].sum()
    else:
        weight = frame.groupby("dimension_value")["period"].nunique()
    ranked = sorted(weight.items(), key=lambda item: (-float(item[1]), str(item[0])))
    return [str(name) for name, _ in ranked[:n]]


def keep_top(frame: pd.DataFrame, top: list[str], kind: Kind) -> pd.DataFrame:
    """Rows of the ``top`` values as they are; the rest summed into OTHER per period when the
    metric adds up, else left out."""
    frame = _typed(frame)
    rest = ~frame["dimension_value"].isin(top)
    if not rest.any():
        return frame
    if not kind.additive:
        return frame[~rest].reset_index(drop=True)
    frame.loc[rest, "dimension_value"] = OTHER
    return _combine(frame, kind)


def series_order(top: list[str], frame: pd.DataFrame) -> list[str]:
    names = list(top)
    if (frame["dimension_value"] == OTHER).any() and OTHER not in names:
        names.append(OTHER)
    return names or sorted(str(v) for v in frame["dimension_value"].unique())


def _combine(frame: pd.DataFrame, kind: Kind) -> pd.DataFrame:
    if not kind.additive:
        raise ValueError("only ratios and counts add up")
    out = frame.groupby(KEYS, as_index=False, sort=True)[kind.parts].sum()
    if kind.is_ratio:
        out["value"] = out["numerator"] / out["denominator"].where(out["denominator"] != 0)
        return out[[*KEYS, "value", "numerator", "denominator"]]
    return out[[*KEYS, "value"]]


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame["period"] = [pd.Timestamp(d).date() for d in frame["period"]]
    frame["dimension_value"] = frame["dimension_value"].astype(str)
    for column in ("value", "numerator", "denominator"):
        if column in frame:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame


@dataclass(frozen=True)
class Total:
    name: str
    value: float | None
    compare_value: float | None
    label: str


def totals(
    current: pd.DataFrame, compare: pd.DataFrame | None, names: list[str], kind: Kind, grain: str
) -> list[Total]:
    """Each series over the whole window (and the comparison window), as a tile's headline."""
    found = []
    for name in names:
        mine = summarise(
            current[current["dimension_value"] == name],
            unit=kind.unit,
            is_ratio=kind.is_ratio,
            grain=SQL_GRAIN[grain],
        )
        theirs = None
        if compare is not None:
            theirs = summarise(
                compare[compare["dimension_value"] == name],
                unit=kind.unit,
                is_ratio=kind.is_ratio,
                grain=SQL_GRAIN[grain],
            ).value
        found.append(Total(name=name, value=mine.value, compare_value=theirs, label=mine.label))
    return found


def table(
    current: pd.DataFrame,
    compare: pd.DataFrame | None,
    names: list[str],
    periods: list[date],
    compare_periods: list[date] | None,
    kind: Kind,
) -> pd.DataFrame:
    """One row per period of the window and series: the value (and its parts), and with a
    comparison the period it is compared with (the i-th period of the comparison window for
    the i-th of the window), its value and the change. Periods without data are left out."""
    columns = ["period", "series", "value"]
    if kind.is_ratio:
        columns += ["numerator", "denominator"]
    if compare is not None:
        columns += ["compare_period", "compare_value", "change", "change_relative"]
    mine = _by_key(current, kind)
    theirs = _by_key(compare, kind) if compare is not None else None
    rows = []
    for name in names:
        for i, period in enumerate(periods):
            row = mine.get((period, name))
            other_period = None
            other = None
            if theirs is not None and compare_periods is not None and i < len(compare_periods):
                other_period = compare_periods[i]
                other = theirs.get((other_period, name))
            if row is None and other is None:
                continue
            width = 3 if kind.is_ratio else 1
            values = [period, name, *(row if row is not None else [None] * width)]
            if theirs is not None:
                before = other[0] if other else None
                now = row[0] if row else None
                change = now - before if now is not None and before is not None else None
                relative = change / abs(before) if change is not None and before else None
                values += [other_period, before, change, relative]
            rows.append(values)
    return pd.DataFrame(rows, columns=columns)


def _by_key(frame: pd.DataFrame, kind: Kind) -> dict[tuple[date, str], list]:
    """(period, series) -> [value] or [value, numerator, denominator]."""
    columns = ["value", "numerator", "denominator"] if kind.is_ratio else ["value"]
    keys = zip(frame["period"], frame["dimension_value"], strict=True)
    values = frame[columns].itertuples(index=False, name=None)
    return {key: [_number(v) for v in row] for key, row in zip(keys, values, strict=True)}


def _number(x) -> float | None:
    return None if pd.isna(x) else float(x)
