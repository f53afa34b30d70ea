import datetime

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from experiments.analysis import NOT_PER_VARIANT, CatalogueRows, Setup, analyse, decision_lines
from experiments.tests.builders import exposures

TODAY = datetime.date(2026, 1, 20)


def day_rows(frame: pd.DataFrame) -> list[dict]:
    """What the sufficient-statistics query returns, computed here with pandas."""
    frame = frame.assign(
        yy=frame.outcome_value**2, xx=frame.pre_value**2, xy=frame.pre_value * frame.outcome_value
    )
    grouped = frame.groupby(["variant", "event_dt"]).agg(
        units=("identity_id", "size"),
        conversions=("converted", "sum"),
        value_sum=("outcome_value", "sum"),
        value_sum_squares=("yy", "sum"),
        pre_sum=("pre_value", "sum"),
        pre_sum_squares=("xx", "sum"),
        sum_products=("xy", "sum"),
    )
    grouped["cumulative_units"] = grouped.groupby(level=0)["units"].cumsum()
    return grouped.reset_index().to_dict("records")


def setup(**changes) -> Setup:
    values = {
        "variants": ("control", "treatment"),
        "weights": (0.5, 0.5),
        "alpha": 0.05,
        "metrics": (("conversion", "primary"), ("outcome_value", "guardrail")),
        "planned_n_per_variant": (3_000, 3_000),
        "running": True,
    }
    return Setup(**(values | changes))


def five_days(counts, **kwargs):
    return pd.concat(
        [
            exposures(
                "e",
                counts,
                day=TODAY - datetime.timedelta(days=d),
                seed=d,
                first_id=d * 100_000,
                **kwargs,
            )
            for d in range(5)
        ]
    )


def test_split_progress_and_decision():
    frame = five_days({"control": 200, "treatment": 200}, conversion={"treatment": 0.2})
    analysis = analyse(setup(), day_rows(frame), TODAY)
    assert analysis.units == {"control": 1_000, "treatment": 1_000}
    assert analysis.srm.p_value == pytest.approx(1.0)
    # 2,000 more units per arm at 200 a day each (400 a day in all): ten days.
    assert analysis.progress.days_remaining == 10
    assert analysis.progress.decision_date == datetime.date(2026, 1, 30)
    primary = analysis.metrics[0]
    assert primary.result.comparisons[0].p_value < 1e-6
    assert primary.means["treatment"] == pytest.approx(
        frame[frame.variant == "treatment"].converted.mean()
    )
    lines = decision_lines(setup(), analysis)
    assert lines[0].startswith("treatment beats control on Conversion: +")
    assert lines[0].endswith(
        "keep running 10 more days to reach the planned sample (until 2026-01-30)."
    )
    assert analysis.exposures["control"].cumulative == (200, 400, 600, 800, 1_000)


def test_a_broken_split_comes_first_and_matches_chi_square():
    frame = five_days({"control": 260, "treatment": 200})
    analysis = analyse(setup(), day_rows(frame), TODAY)
    assert analysis.srm.srm_alert
    assert analysis.srm.p_value == pytest.approx(sps.chisquare([1_300, 1_000]).pvalue, rel=1e-9)
    assert decision_lines(setup(), analysis)[0].startswith("Sample ratio mismatch")


def test_guardrail_breach_is_found():
    frame = five_days({"control": 400, "treatment": 400}, lift={"treatment": -0.15})
    analysis = analyse(setup(), day_rows(frame), TODAY)
    guardrail = analysis.metrics[1]
    assert guardrail.role == "guardrail" and guardrail.breached == ("treatment",)
    assert any(
        line.startswith("Guardrail Activity value breached by treatment")
        for line in decision_lines(setup(), analysis)
    )


def test_missing_data_is_reported_not_raised():
    frame = exposures("e", {"control": 50}, day=TODAY)
    frame = pd.concat([frame, exposures("e", {"ghost": 7}, day=TODAY, first_id=10_000)])
    analysis = analyse(
        setup(metrics=(("conversion", "primary"), ("search_to_view_ctr", "secondary"))),
        day_rows(frame),
        TODAY,
    )
    assert analysis.units == {"control": 50, "treatment": 0}
    assert analysis.metrics[0].result is None
    assert analysis.metrics[0].error == "not enough data yet: treatment n must be at least 2"
    assert analysis.metrics[1].error == NOT_PER_VARIANT
    assert any("'ghost'" in w and "7 units" in w for w in analysis.warnings)


def test_no_exposures_at_all():
    analysis = analyse(setup(), [], TODAY)
    assert analysis.srm is None and "no exposures yet" in analysis.warnings
    assert analysis.progress.days_remaining is None


def ratio_row(variant: str, x: np.ndarray, y: np.ndarray) -> dict:
    """One row of metric_unit_stats.sql, from per-unit numerators and denominators."""
    return {
        "variant": variant,
        "units": len(x),
        "numerator_sum": x.sum(),
        "numerator_sum_squares": x @ x,
        "denominator_sum": y.sum(),
        "denominator_sum_squares": y @ y,
        "sum_products": x @ y,
    }


def refunds(rate_treatment: float) -> list[dict]:
    rng = np.random.default_rng(5)
    rows = []
    for variant, rate in (("control", 0.05), ("treatment", rate_treatment)):
        bookings = rng.poisson(2.0, 4000).astype(float)
        rows.append(ratio_row(variant, rng.binomial(bookings.astype(int), rate) * 1.0, bookings))
    return rows


@pytest.mark.parametrize(("higher_is_better", "breached"), [(False, ("treatment",)), (True, ())])
def test_a_catalogue_guardrail_is_breached_in_its_own_direction(higher_is_better, breached):
    # Refunds up from 5% to 8%: a breach where lower is better, none where higher is.
    rows = refunds(0.08)
    metrics = (("conversion", "primary"), ("refund_rate", "guardrail"))
    frame = five_days({"control": 400, "treatment": 400})
    catalogue = {"refund_rate": CatalogueRows(rows, higher_is_better=higher_is_better)}
    analysis = analyse(setup(metrics=metrics), day_rows(frame), TODAY, catalogue)
    refund = analysis.metrics[1]
    assert refund.metric_type == "ratio" and refund.error is None
    control, treatment = rows
    assert refund.means == {
        "control": pytest.approx(control["numerator_sum"] / control["denominator_sum"]),
        "treatment": pytest.approx(treatment["numerator_sum"] / treatment["denominator_sum"]),
    }
    assert refund.result.comparisons[0].lift_abs > 0
    assert refund.breached == breached


def test_catalogue_metric_problems_are_reported_per_metric():
    metrics = (
        ("conversion", "primary"),
        ("search_to_view_ctr", "secondary"),
        ("refund_rate", "guardrail"),
        ("supply_freshness", "secondary"),
    )
    frame = five_days({"control": 400, "treatment": 400})
    catalogue = {
        "search_to_view_ctr": CatalogueRows((), True, "the query failed: no such file"),
        "refund_rate": CatalogueRows(refunds(0.05)[:1], False),
    }
    analysis = analyse(setup(metrics=metrics), day_rows(frame), TODAY, catalogue)
    assert analysis.metrics[0].result is not None  # the others do not stop the primary
    assert analysis.metrics[1].error == "the query failed: no such file"
    assert analysis.metrics[2].error == "not enough data yet: treatment n must be at least 2"
    assert analysis.metrics[3].error == NOT_PER_VARIANT
