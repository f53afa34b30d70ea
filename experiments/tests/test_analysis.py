import datetime

import pandas as pd
import pytest
from scipy import stats as sps

from experiments.analysis import NOT_PER_VARIANT, Setup, analyse, decision_lines
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
