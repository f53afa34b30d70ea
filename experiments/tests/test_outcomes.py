import datetime

import numpy as np
import pytest

from experiments.outcomes import (
    OUTCOME_METRICS,
    baseline_from_row,
    daily_exposures,
    metric_mean,
    metric_stats,
    totals_by_variant,
)
from experiments.stats import MeanStats, ProportionStats

D1, D2 = datetime.date(2026, 1, 1), datetime.date(2026, 1, 2)


def row(variant, day, units, cumulative, conversions, y, x, matured=True, pre=(0, 0)):
    """A day's row as exposure_stats.sql gives it: the outcome sums only when the day's units
    have matured, the covariate over every unit; `pre`: the matured units that converted
    before exposure, and of those the ones that converted after it too."""
    y, x = np.asarray(y, float), np.asarray(x, float)
    m = 1.0 if matured else 0.0
    return {
        "variant": variant,
        "event_dt": day,
        "units": units,
        "cumulative_units": cumulative,
        "matured_units": units if matured else 0,
        "conversions": conversions if matured else 0,
        "pre_conversions": pre[0] if matured else 0,
        "conversion_products": pre[1] if matured else 0,
        "units_pre_conversions": pre[0],
        "value_sum": m * y.sum(),
        "value_sum_squares": m * (y @ y),
        "pre_sum": m * x.sum(),
        "pre_sum_squares": m * (x @ x),
        "sum_products": m * (x @ y),
        "units_pre_sum": x.sum(),
        "units_pre_sum_squares": x @ x,
    }


def test_day_rows_add_up_to_the_variant_statistics():
    y1, x1, y2, x2 = [1.0, 2.0, 4.0], [1.0, 1.5, 3.0], [3.0, 5.0], [2.0, 2.5]
    rows = [
        row("control", D2, 2, 5, 1, y2, x2, pre=(1, 0)),
        row("control", D1, 3, 3, 2, y1, x1, pre=(2, 1)),
        row("b", D1, 3, 3, 0, y1, x1),
    ]
    totals = totals_by_variant(rows)
    y, x = np.array(y1 + y2), np.array(x1 + x2)
    control = totals["control"]
    assert (control.units, control.conversions) == (5, 3)
    assert control.value_sum == pytest.approx(y.sum())
    assert control.sum_products == pytest.approx(x @ y)
    assert metric_stats(OUTCOME_METRICS["conversion"], control) == ProportionStats(5, 3, 3, 1)
    mean = metric_stats(OUTCOME_METRICS["outcome_value"], control)
    assert isinstance(mean, MeanStats) and mean.has_covariate
    assert mean.variance == pytest.approx(np.var(y, ddof=1))
    series = daily_exposures(rows)["control"]
    assert series.days == (D1, D2) and series.units == (3, 2) and series.cumulative == (3, 5)


def test_outcome_metrics_read_the_matured_units_only():
    y1, x1, y2, x2 = [1.0, 2.0, 4.0], [1.0, 1.5, 3.0], [3.0, 5.0, 9.0], [2.0, 2.5, 0.5]
    rows = [
        row("control", D1, 3, 3, 2, y1, x1),
        row("control", D2, 3, 6, 1, y2, x2, matured=False),
    ]
    control = totals_by_variant(rows)["control"]
    # The split counts every unit, and the balance check every unit's covariate.
    assert (control.units, control.matured_units) == (6, 3)
    assert control.units_pre_sum == pytest.approx(sum(x1) + sum(x2))
    assert metric_stats(OUTCOME_METRICS["conversion"], control) == ProportionStats(3, 2, 0, 0)
    mean = metric_stats(OUTCOME_METRICS["outcome_value"], control)
    assert mean.n == 3 and mean.mean == pytest.approx(np.mean(y1))
    assert mean.variance == pytest.approx(np.var(y1, ddof=1))
    assert mean.pre_mean == pytest.approx(np.mean(x1))
    assert metric_mean(OUTCOME_METRICS["conversion"], control) == pytest.approx(2 / 3)
    assert metric_mean(OUTCOME_METRICS["outcome_value"], control) == pytest.approx(np.mean(y1))
    young = totals_by_variant([row("b", D2, 3, 3, 1, y2, x2, matured=False)])["b"]
    assert metric_mean(OUTCOME_METRICS["conversion"], young) is None


def test_baseline_is_the_control_rate_mean_spread_and_correlation():
    rng = np.random.default_rng(1)
    x = rng.normal(20, 5, 500)
    y = 0.6 * x + rng.normal(0, 3, 500)
    base = baseline_from_row(
        row("control", D1, 500, 500, 35, y, x)
        | {"days_with_data": 7, "units": 1_400, "control_units": 500}
    )
    assert base.daily_units == pytest.approx(200)
    assert base.conversion_rate == pytest.approx(0.07)
    assert base.mean == pytest.approx(y.mean())
    assert base.std == pytest.approx(y.std(ddof=1))
    assert base.correlation == pytest.approx(np.corrcoef(x, y)[0, 1])


def test_baseline_of_an_empty_window_says_nothing():
    empty = baseline_from_row(
        {"days_with_data": 0, "units": 0, "control_units": 0, "conversions": 0}
        | dict.fromkeys(
            ("value_sum", "value_sum_squares", "pre_sum", "pre_sum_squares", "sum_products"), 0
        )
    )
    assert empty.daily_units is None and empty.conversion_rate is None and empty.std is None
