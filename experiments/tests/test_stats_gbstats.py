"""The portal's relative and sequential readings against GrowthBook's stats engine.

gbstats_cases.json holds gbstats' answers for seeded data (tools/gbstats_cases.py, `make
gbstats-cases`): fixed-horizon and sequential p-values and intervals, relative and absolute,
for means, proportions, ratios and CUPED-adjusted means (gbstats 0.8.0), and CUPED-adjusted
ratios (RegressionAdjustedRatioStatistic, from a pinned commit of gbstats' source: no release
has it)."""

import json
from pathlib import Path

import pytest
from scipy import stats as sps

from experiments.stats import RatioStats, compare
from experiments.stats.ratio_cuped import adjusted_ratio

CASES = json.loads((Path(__file__).parent / "gbstats_cases.json").read_text())["cases"]
RATIO_CUPED = [case for case in CASES if case["group"] == "ratio_cuped"]


def _ours(case, sequential):
    variants = [(v["name"], {k: x for k, x in v.items() if k != "name"}) for v in case["variants"]]
    result = compare(
        case["metric_type"],
        variants,
        [0.5, 0.5],
        case["alpha"],
        sequential=sequential,
        sequential_tuning=case["tuning"],
        correction="none",
    )
    return result, result.comparisons[0]


def _id(case):
    return f"{case['case']}-alpha{case['alpha']}-tuning{case['tuning']}"


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_sequential_intervals_and_p_values_match_gbstats(case):
    result, ours = _ours(case, sequential=True)
    reference = case["gbstats"]
    assert result.sequential and result.sequential_tuning == case["tuning"]
    if case["theta"] is not None:
        assert result.theta == pytest.approx(case["theta"], rel=1e-9)
        assert result.cuped_applied
    # The confidence sequence is read on the normal scale in both: equal to rounding.
    assert ours.ci_rel == pytest.approx(reference["sequential_relative"]["ci"], rel=1e-7)
    assert ours.ci_abs == pytest.approx(reference["sequential_absolute"]["ci"], rel=1e-7)
    assert ours.p_value == pytest.approx(
        reference["sequential_relative"]["p_value"], rel=1e-7, abs=1e-12
    )


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_fixed_horizon_relative_test_matches_gbstats(case):
    _, ours = _ours(case, sequential=False)
    reference = case["gbstats"]
    if case["metric_type"] != "proportion":
        assert ours.ci_rel == pytest.approx(reference["fixed_relative"]["ci"], rel=1e-7)
        assert ours.ci_abs == pytest.approx(reference["fixed_absolute"]["ci"], rel=1e-7)
        assert ours.p_value == pytest.approx(reference["fixed_relative"]["p_value"], rel=1e-7)
        return
    # gbstats reads proportions on Welch's t; the portal, like statsmodels' Wald test, on the
    # normal distribution: the same estimate and standard error, read on the normal.
    for scale, interval in (("relative", ours.ci_rel), ("absolute", ours.ci_abs)):
        estimate, se = reference[f"fixed_{scale}"]["estimate"], reference[f"fixed_{scale}"]["se"]
        half = sps.norm.ppf(1 - case["alpha"] / 2) * se
        assert interval == pytest.approx((estimate - half, estimate + half), rel=1e-9)
    relative = reference["fixed_relative"]
    expected = 2 * sps.norm.sf(abs(relative["estimate"]) / relative["se"])
    assert ours.p_value == pytest.approx(expected, rel=1e-9)


def test_the_cases_cover_both_verdicts():
    # Otherwise the comparisons above could pass with every interval on one side of 0.
    decisions = {_ours(case, sequential=True)[1].decision for case in CASES}
    assert decisions >= {"increase", "inconclusive"}


def test_the_ratio_cases_are_adjusted_in_every_reading():
    # Strong, weak and no correlation of the periods, equal and unequal arms, a small sample.
    assert {case["case"] for case in RATIO_CUPED} >= {
        "ratio_cuped_strong",
        "ratio_cuped_weak_unequal",
        "ratio_cuped_unequal_lift",
        "ratio_cuped_small",
    }
    assert all(case["metric_type"] == "ratio" and case["theta"] for case in RATIO_CUPED)
    assert {(case["alpha"], case["tuning"]) for case in RATIO_CUPED} == {
        (case["alpha"], case["tuning"]) for case in CASES
    }


@pytest.mark.parametrize("case", RATIO_CUPED[::3], ids=_id)
def test_theta_is_gbstats_own_for_equal_arms_and_narrower_for_unequal_ones(case):
    result, ours = _ours(case, sequential=False)
    control, treatment = (
        RatioStats(**{k: x for k, x in v.items() if k != "name"}) for v in case["variants"]
    )
    if control.n == treatment.n:
        assert result.theta == pytest.approx(case["gbstats_theta"], rel=1e-12)
        return
    # gbstats sums the arms' moments unweighted by 1/n: another theta, and a wider interval.
    assert result.theta != pytest.approx(case["gbstats_theta"], rel=1e-3)
    at_gbstats = [adjusted_ratio(s, case["gbstats_theta"]) for s in (control, treatment)]
    variance_at_gbstats = sum(arm.variance / arm.n for arm in at_gbstats)
    assert ours.difference.se_abs**2 < variance_at_gbstats
