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


def test_a_new_result_of_the_same_query_gets_its_own_headline():
    """The headline is kept per process, keyed by the cached result it was computed from: a
    refreshed result (new run, or the same run cached again) is summarised again."""
    from datetime import UTC, date, datetime

    from metrics.catalogue import load_catalogue
    from metrics.params import MetricParams
    from metrics.serializers import data_payload
    from warehouse.result_cache import CachedResult

    metric = load_catalogue().get("refund_rate")
    params = MetricParams(start=date(2026, 1, 1), end=date(2026, 1, 2), grain="day")

    def result(run_id, numerators, cached_at):
        frame = pd.DataFrame(
            {
                "period": ["2026-01-01", "2026-01-02"],
                "dimension_value": ["all", "all"],
                "value": [n / 10 for n in numerators],
                "numerator": numerators,
                "denominator": [10, 10],
            }
        )
        return CachedResult(frame, run_id, cached_at, "w", "2026-01-02")

    first = datetime(2026, 1, 3, 8, tzinfo=UTC)
    assert data_payload(metric, params, result(7, [1, 1], first))["summary"]["value"] == 0.1
    assert data_payload(metric, params, result(8, [3, 1], first))["summary"]["value"] == 0.2
    again = datetime(2026, 1, 3, 9, tzinfo=UTC)
    assert data_payload(metric, params, result(7, [5, 5], again))["summary"]["value"] == 0.5
