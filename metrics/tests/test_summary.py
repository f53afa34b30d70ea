"""One number per window: exact where the unit allows it, labelled where it does not."""

import pandas as pd
import pytest

from metrics.summary import summarise


def frame(**columns) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    base = {"period": [f"2026-01-{d:02d}" for d in range(1, n + 1)], "dimension_value": ["all"] * n}
    return pd.DataFrame({**base, **columns})


def test_ratio_is_the_ratio_of_the_sums_not_the_mean_of_ratios():
    data = frame(value=[0.5, 0.1], numerator=[1, 10], denominator=[2, 100])
    summary = summarise(data, unit="ratio", is_ratio=True, grain="day")
    assert summary.value == pytest.approx(11 / 102)  # the mean of ratios would be 0.3
    assert (summary.numerator, summary.denominator, summary.periods) == (11, 102, 2)
    assert summary.label == "11 / 102 over the window"


def test_ratio_with_no_denominator_is_none():
    data = frame(value=[None], numerator=[0], denominator=[0])
    assert summarise(data, unit="ratio", is_ratio=True, grain="day").value is None
    empty = pd.DataFrame(columns=["period", "dimension_value", "value", "numerator", "denominator"])
    assert summarise(empty, unit="ratio", is_ratio=True, grain="day").value is None


def test_count_is_the_sum_split_or_not():
    assert summarise(frame(value=[3, 4, 5]), unit="count", is_ratio=False, grain="day").value == 12
    split = frame(value=[3, 4])
    split["dimension_value"] = ["email", "chat"]
    assert summarise(split, unit="count", is_ratio=False, grain="day").value == 7


def test_a_count_without_any_row_is_no_data_not_zero():
    empty = pd.DataFrame(columns=["period", "dimension_value", "value"])
    summary = summarise(empty, unit="count", is_ratio=False, grain="day")
    assert (summary.value, summary.label) == (None, "no data")


def test_durations_average_the_periods_and_say_so():
    summary = summarise(frame(value=[10.0, 20.0, None]), unit="hours", is_ratio=False, grain="week")
    assert summary.value == 15.0
    assert summary.method == "mean_of_periods"
    assert summary.label == "mean of 2 weekly values"


def test_split_durations_have_no_single_number():
    split = frame(value=[10.0, 20.0])
    split["dimension_value"] = ["email", "chat"]
    assert summarise(split, unit="minutes", is_ratio=False, grain="day").value is None
