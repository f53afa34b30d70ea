"""The results charts: what they draw, read off the figure dictionaries."""

import pytest

from experiments.charts import forest, lift_over_time, lift_range, variant_colours
from experiments.models import ResultSnapshot


def snapshot(metric: str, lift: float, low: float, high: float, outcome: str) -> ResultSnapshot:
    return ResultSnapshot(
        metric=metric, variant="b", lift_rel=lift, ci_rel_low=low, ci_rel_high=high,
        outcome=outcome, error="",
    )  # fmt: skip


def columns(rows):
    return (
        [s.lift_rel for s in rows],
        [s.ci_rel_low for s in rows],
        [s.ci_rel_high for s in rows],
    )


def test_the_axis_holds_every_ordinary_interval():
    rows = [
        snapshot("a", 0.05, -0.02, 0.12, "inconclusive"),
        snapshot("b", -0.1, -0.3, -0.01, "worse"),
    ]
    low, high = lift_range(*columns(rows))
    assert low < -30 and high > 12
    assert low > -30 - 0.1 * 42 and high < 12 + 0.1 * 42  # a 5% margin each side


def test_one_huge_interval_does_not_flatten_the_others():
    rows = [
        snapshot("conversion", 0.025, -0.9, 0.95, "inconclusive"),
        snapshot("refund_rate", 0.72, -11.4, 12.9, "inconclusive"),
    ]
    low, high = lift_range(*columns(rows))
    # Not below -100%, not beyond three times the largest lift (216%).
    assert low == pytest.approx(-100 - 0.05 * 316)
    assert high == pytest.approx(216 + 0.05 * 316)
    figure = forest(rows, {"conversion": "Conversion", "refund_rate": "Refund rate"})
    (trace,) = figure["data"]
    # The whiskers keep the whole interval; the hover gives it too.
    assert trace["error_x"]["array"][1] == pytest.approx((12.9 - 0.72) * 100)
    assert trace["customdata"][1] == pytest.approx([-1140, 1290])
    assert trace["marker"]["color"] == ["#667085", "#667085"]


def test_the_lift_over_time_axis_is_not_flattened_by_the_first_days():
    series = {
        "b": {"days": ["2026-01-26", "2026-01-27"], "lift_rel": [0.2, 0.05],
              "low": [-25.0, -0.2], "high": [30.0, 0.3]},
    }  # fmt: skip
    figure = lift_over_time(series, {"b": "#2e6bd3"}, "always-valid interval")
    low, high = figure["layout"]["yaxis"]["range"]
    assert low == pytest.approx(-100 - 0.05 * 200) and high == pytest.approx(100 + 0.05 * 200)


def test_each_variant_keeps_its_colour():
    three = variant_colours(["control", "b", "c"])
    two = variant_colours(["control", "b"])
    assert three["control"] == two["control"] and three["b"] == two["b"]
    assert len(set(three.values())) == 3
