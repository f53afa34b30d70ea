import datetime

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from experiments.analysis import NOT_PER_VARIANT, CatalogueRows, Setup, analyse, decision_lines
from experiments.health import ExposureHygiene
from experiments.stats.sufficient import RATIO_COVARIATE_FIELDS
from experiments.tests.builders import exposures
from experiments.tests.references import confidence_sequence, relative_se
from experiments.tests.stats_examples import ratio_sums

TODAY = datetime.date(2026, 1, 20)


def day_rows(frame: pd.DataFrame, matured_through: datetime.date = TODAY) -> list[dict]:
    """What the sufficient-statistics query returns, computed here with pandas: outcomes over
    the units first exposed on or before `matured_through` (by default every unit)."""
    matured = (pd.to_datetime(frame.event_dt).dt.date <= matured_through).astype(int)
    frame = frame.assign(
        matured=matured,
        y=matured * frame.outcome_value,
        x=matured * frame.pre_value,
        converted_matured=matured * frame.converted,
        pre_converted_matured=matured * frame.pre_converted,
        both_matured=matured * frame.pre_converted * frame.converted,
        yy=matured * frame.outcome_value**2,
        xx=matured * frame.pre_value**2,
        xy=matured * frame.pre_value * frame.outcome_value,
        all_xx=frame.pre_value**2,
    )
    grouped = frame.groupby(["variant", "event_dt"]).agg(
        units=("identity_id", "size"),
        matured_units=("matured", "sum"),
        conversions=("converted_matured", "sum"),
        pre_conversions=("pre_converted_matured", "sum"),
        conversion_products=("both_matured", "sum"),
        units_pre_conversions=("pre_converted", "sum"),
        value_sum=("y", "sum"),
        value_sum_squares=("yy", "sum"),
        pre_sum=("x", "sum"),
        pre_sum_squares=("xx", "sum"),
        sum_products=("xy", "sum"),
        units_pre_sum=("pre_value", "sum"),
        units_pre_sum_squares=("all_xx", "sum"),
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
    assert primary.result.comparisons[0].p_value < 1e-3
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


def ratio_row(
    variant: str,
    x: np.ndarray,
    y: np.ndarray,
    grouped_by: str = "day",
    *,
    event_dt: datetime.date = TODAY,
    segment: str | None = None,
) -> dict:
    """One row of metric_unit_stats.sql from per-unit numerators and denominators (no
    pre-period): a day row, or with `grouped_by` a dimension a row of its `segment`."""
    return {
        "grouped_by": grouped_by,
        "variant": variant,
        "event_dt": event_dt if grouped_by == "day" else None,
        "segment": segment,
        "units": len(x),
        **ratio_sums(x, y),
        # No pre-period (CUPED cannot apply).
        **dict.fromkeys(RATIO_COVARIATE_FIELDS, 0.0),
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


def test_outcomes_read_matured_units_and_the_split_reads_every_unit():
    frame = five_days({"control": 300, "treatment": 300}, conversion={"treatment": 0.15})
    # Nobody converted before exposure: nothing to adjust, the plain difference of rates.
    frame = frame.assign(pre_converted=False)
    # Only the units of the two oldest days have had their outcome window.
    cutoff = TODAY - datetime.timedelta(days=3)
    analysis = analyse(setup(), day_rows(frame, matured_through=cutoff), TODAY)
    assert analysis.units == {"control": 1_500, "treatment": 1_500}
    old = frame[pd.to_datetime(frame.event_dt).dt.date <= cutoff]
    primary = analysis.metrics[0]
    for name in ("control", "treatment"):
        arm = old[old.variant == name]
        assert analysis.totals[name].matured_units == len(arm) == 600
        assert primary.means[name] == pytest.approx(arm.converted.mean())
    (c,) = primary.result.comparisons
    control, treatment = old[old.variant == "control"], old[old.variant == "treatment"]
    assert c.lift_abs == pytest.approx(treatment.converted.mean() - control.converted.mean())
    outcomes = {check.check: check for check in analysis.health}["outcome_windows"]
    assert outcomes.values["matured_units"] == 1_200


def test_lift_over_time_is_the_cumulative_sequential_lift_day_by_day():
    frame = five_days({"control": 300, "treatment": 300}, conversion={"treatment": 0.1})
    # Nobody converted before exposure: the plain two-proportion test, day by day.
    frame = frame.assign(pre_converted=False)
    analysis = analyse(setup(), day_rows(frame), TODAY)
    series = analysis.lift_over_time["treatment"]
    days = sorted(pd.to_datetime(frame.event_dt).dt.date.unique())
    assert series.days == tuple(days)
    tuning = 3_000 + 3_000  # the planned units of control and treatment
    for day, lift, low, high in zip(
        series.days, series.lift_rel, series.low, series.high, strict=True
    ):
        upto = frame[pd.to_datetime(frame.event_dt).dt.date <= day]
        c, t = upto[upto.variant == "control"], upto[upto.variant == "treatment"]
        p_c, p_t = c.converted.mean(), t.converted.mean()
        se = relative_se((p_c, p_c * (1 - p_c), len(c)), (p_t, p_t * (1 - p_t), len(t)))
        assert lift == pytest.approx(p_t / p_c - 1, rel=1e-9)
        expected = confidence_sequence(lift, se, len(c) + len(t), 0.05, tuning)
        assert (low, high) == pytest.approx(expected, rel=1e-9)
    # The last point is the comparison the results report.
    (final,) = analysis.metrics[0].result.comparisons
    assert (series.low[-1], series.high[-1]) == pytest.approx(final.ci_rel)


def test_health_checks_come_with_the_analysis():
    frame = five_days({"control": 200, "treatment": 200})
    hygiene = ExposureHygiene(
        identities=2_100, units=2_000, crawler_units=30, crawler_and_person_units=0,
        multi_variant_units=70,
    )  # fmt: skip
    analysis = analyse(setup(), day_rows(frame), TODAY, hygiene=hygiene)
    found = {check.check: check.status for check in analysis.health}
    assert found == {
        "multiple_variants": "warning",  # 70 of 2,070 people: 3.4%
        "crawlers": "ok",
        "sample_ratio": "ok",
        "pre_period_balance": "ok",
        "outcome_windows": "ok",
    }


IOS = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15"
ANDROID = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/131.0"


def ratio_units(rate_treatment: float) -> pd.DataFrame:
    """Units over five days with a platform and a visitor kind, and a ratio metric's numerator
    (x) and denominator (y) each."""
    rng = np.random.default_rng(11)
    frames = []
    for variant, rate in (("control", 0.3), ("treatment", rate_treatment)):
        n = 3_000
        y = rng.poisson(3.0, n).astype(float)
        frames.append(
            pd.DataFrame(
                {
                    "variant": variant,
                    "event_dt": [
                        TODAY - datetime.timedelta(days=int(d)) for d in rng.integers(0, 5, n)
                    ],
                    "user_agent": np.where(rng.random(n) < 0.6, IOS, ANDROID),
                    "visitor": np.where(rng.random(n) < 0.3, "returning", "new"),
                    "x": rng.binomial(y.astype(int), rate).astype(float),
                    "y": y,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def catalogue_rows(units: pd.DataFrame) -> list[dict]:
    """metric_unit_stats.sql's two groupings of `units`."""
    rows = []
    for (variant, day), group in units.groupby(["variant", "event_dt"]):
        rows.append(ratio_row(variant, group.x.to_numpy(), group.y.to_numpy(), event_dt=day))
    for dimension, column in (("platform", "user_agent"), ("visitor", "visitor")):
        for (variant, value), group in units.groupby(["variant", column]):
            x, y = group.x.to_numpy(), group.y.to_numpy()
            rows.append(ratio_row(variant, x, y, dimension, segment=value))
    return rows


def linearised(arm: pd.DataFrame) -> tuple[float, float, int]:
    """An arm's ratio, the variance of its per-unit linearisation, and its units."""
    ratio = arm.x.sum() / arm.y.sum()
    return ratio, float(((arm.x - ratio * arm.y) / arm.y.mean()).var(ddof=1)), len(arm)


def test_a_catalogue_primary_has_its_lift_over_time_and_breakdowns():
    units = ratio_units(0.33)
    frame = five_days({"control": 600, "treatment": 600})
    metrics = (("search_to_view_ctr", "primary"), ("outcome_value", "guardrail"))
    catalogue = {"search_to_view_ctr": CatalogueRows(catalogue_rows(units), True)}
    analysis = analyse(setup(metrics=metrics), day_rows(frame), TODAY, catalogue)
    primary = analysis.metrics[0]
    assert primary.metric_type == "ratio" and primary.error is None
    # Lift over time: the ratios of the units first exposed up to each day.
    series = analysis.lift_over_time["treatment"]
    assert series.days == tuple(sorted(units.event_dt.unique()))
    for day, lift, low, high in zip(
        series.days, series.lift_rel, series.low, series.high, strict=True
    ):
        upto = units[units.event_dt <= day]
        c = linearised(upto[upto.variant == "control"])
        t = linearised(upto[upto.variant == "treatment"])
        assert lift == pytest.approx(t[0] / c[0] - 1, rel=1e-9)
        se = relative_se(c, t)
        expected = confidence_sequence(lift, se, c[2] + t[2], 0.05, 6_000)
        assert (low, high) == pytest.approx(expected, rel=1e-6)
    (final,) = primary.result.comparisons
    assert (series.low[-1], series.high[-1]) == pytest.approx(final.ci_rel)
    # Breakdowns of the primary only (a guardrail has none), one Holm family per dimension.
    assert {(b.metric, b.dimension) for b in analysis.breakdowns} == {
        ("search_to_view_ctr", "platform"),
        ("search_to_view_ctr", "visitor"),
    }
    platforms = {"iOS": IOS, "Android": ANDROID}
    for breakdown in analysis.breakdowns:
        column = "user_agent" if breakdown.dimension == "platform" else "visitor"
        raw, adjusted = [], []
        for segment in breakdown.segments:
            value = platforms.get(segment.value, segment.value)
            members = units[units[column] == value]
            counts = members.groupby("variant").size()
            assert segment.units == {"control": counts["control"], "treatment": counts["treatment"]}
            (c,) = segment.metric.result.comparisons
            control = members[members.variant == "control"]
            treatment = members[members.variant == "treatment"]
            expected = linearised(treatment)[0] - linearised(control)[0]
            assert c.lift_abs == pytest.approx(expected, rel=1e-9)
            raw.append(c.p_value)
            adjusted.append(c.p_value_adjusted)
        assert adjusted == pytest.approx(list(multipletests(raw, method="holm")[1]), rel=1e-9)


def test_secondaries_have_breakdowns_too():
    units = ratio_units(0.3)
    frame = five_days({"control": 300, "treatment": 300})
    metrics = (("conversion", "primary"), ("search_to_view_ctr", "secondary"))
    catalogue = {"search_to_view_ctr": CatalogueRows(catalogue_rows(units), True)}
    analysis = analyse(setup(metrics=metrics), day_rows(frame), TODAY, catalogue)
    # No segment rows of the outcome metrics were given: only the secondary is broken down.
    assert [b.metric for b in analysis.breakdowns] == ["search_to_view_ctr"] * 2
    # The lift over time is the primary's.
    (final,) = analysis.metrics[0].result.comparisons
    assert analysis.lift_over_time["treatment"].lift_rel[-1] == pytest.approx(final.lift_rel)
