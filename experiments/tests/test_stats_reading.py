"""Multiple-comparison corrections, small samples and a control rate of 0, and intervals that
decide exactly as they read: against statsmodels, scipy and closed forms."""

import gc

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats import proportion as sm_proportion
from statsmodels.stats.multitest import multipletests

from experiments.stats import InputError, compare, mde
from experiments.stats.compare import MIN_UNITS
from experiments.stats.correction import adjusted_p_values

# Four treatments against one control with lifts from nothing to clear.
FAMILY = [
    ("control", {"n": 20_000, "conversions": 1_000}),
    ("b", {"n": 20_000, "conversions": 1_080}),
    ("c", {"n": 20_000, "conversions": 1_010}),
    ("d", {"n": 20_000, "conversions": 1_150}),
    ("e", {"n": 20_000, "conversions": 1_070}),
]
WEIGHTS = [0.2] * 5


@pytest.mark.parametrize(("correction", "method"), [("holm", "holm"), ("bh", "fdr_bh")])
@pytest.mark.parametrize("sequential", [False, True])
def test_adjusted_p_values_are_statsmodels_multipletests(correction, method, sequential):
    raw = compare("proportion", FAMILY, WEIGHTS, sequential=sequential, correction="none")
    adjusted = compare("proportion", FAMILY, WEIGHTS, sequential=sequential, correction=correction)
    p_values = [c.p_value for c in raw.comparisons]
    expected = multipletests(p_values, alpha=0.05, method=method)[1]
    assert [c.p_value_adjusted for c in adjusted.comparisons] == pytest.approx(list(expected))
    assert [c.p_value for c in adjusted.comparisons] == pytest.approx(p_values)
    for before, after in zip(raw.comparisons, adjusted.comparisons, strict=True):
        # Widened, never narrowed, around the same estimate.
        assert after.ci_rel[0] <= before.ci_rel[0] and after.ci_rel[1] >= before.ci_rel[1]
        assert after.lift_rel == before.lift_rel


@pytest.mark.parametrize("correction", ["holm", "bh", "none"])
@pytest.mark.parametrize("sequential", [False, True])
def test_the_printed_interval_decides_exactly_as_the_adjusted_p_value(correction, sequential):
    rng = np.random.default_rng(17)
    for _ in range(40):
        conversions = rng.binomial(8_000, [0.05, 0.055, 0.05, 0.058])
        variants = [
            (name, {"n": 8_000, "conversions": int(c)})
            for name, c in zip("abcd", conversions, strict=True)
        ]
        result = compare(
            "proportion", variants, [0.25] * 4, sequential=sequential, correction=correction
        )
        for c in result.comparisons:
            low, high = c.ci_rel
            excludes_zero = low > 0 or high < 0
            assert excludes_zero == (c.p_value_adjusted < 0.05)
            assert c.decision == (
                "increase" if low > 0 else "decrease" if high < 0 else "inconclusive"
            )


def test_the_issue_contradiction_cannot_happen():
    # p = 0.04999 on the absolute difference with a relative interval across 0: decisions are
    # read on the relative interval, so p_value is that test's and agrees with it.
    variants = [("control", {"n": 1000, "conversions": 30}), ("b", {"n": 1000, "conversions": 47})]
    (b,) = compare("proportion", variants, [0.5, 0.5], correction="none").comparisons
    absolute = sm_proportion.test_proportions_2indep(47, 1000, 30, 1000, method="wald")
    assert absolute.pvalue < 0.05  # the absolute test alone would call it
    assert b.ci_rel[0] < 0 < b.ci_rel[1]
    assert b.p_value > 0.05 and b.decision == "inconclusive"


def test_a_control_rate_of_zero_still_gives_the_absolute_lift_and_p():
    variants = [("control", {"n": 5_000, "conversions": 0}), ("b", {"n": 5_000, "conversions": 14})]
    (b,) = compare("proportion", variants, [0.5, 0.5]).comparisons
    # statsmodels warns about the ratio and odds ratio it also computes (undefined here).
    with np.errstate(divide="ignore"):
        reference = sm_proportion.test_proportions_2indep(14, 5_000, 0, 5_000, method="wald")
    interval = sm_proportion.confint_proportions_2indep(14, 5_000, 0, 5_000, method="wald")
    assert b.lift_rel is None and b.ci_rel is None
    assert b.lift_abs == pytest.approx(14 / 5_000)
    assert b.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    assert b.ci_abs == pytest.approx(list(interval), rel=1e-9)
    assert b.decision == "increase"


def test_small_samples_get_fishers_exact_test_and_no_verdict():
    variants = [("control", {"n": 60, "conversions": 3}), ("b", {"n": 70, "conversions": 15})]
    (b,) = compare("proportion", variants, [0.5, 0.5], correction="none").comparisons
    exact = sps.fisher_exact([[15, 55], [3, 57]])
    assert b.test == "fisher_exact"
    assert b.p_value == pytest.approx(exact.pvalue, rel=1e-12)
    assert b.p_value < 0.05 and b.decision == "too_few_units"


def test_no_verdict_below_the_minimum_for_means_either():
    rng = np.random.default_rng(3)
    small = rng.normal(10, 1, MIN_UNITS - 1)
    big = rng.normal(13, 1, 5_000)
    variants = [
        ("control", {"n": len(small), "sum": small.sum(), "sum_squares": small @ small}),
        ("b", {"n": len(big), "sum": big.sum(), "sum_squares": big @ big}),
    ]
    (b,) = compare("mean", variants, [0.5, 0.5]).comparisons
    assert b.p_value < 1e-10 and b.decision == "too_few_units"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"correction": "bonferroni"}, "correction"),
        ({"sequential": "yes"}, "sequential"),
        ({"sequential": True, "sequential_tuning": 10}, "sequential_tuning"),
        ({"sequential": True, "sequential_tuning": float("inf")}, "sequential_tuning"),
    ],
)
def test_bad_reading_options_name_the_field(kwargs, field):
    with pytest.raises(InputError) as caught:
        compare("proportion", FAMILY[:2], [0.5, 0.5], **kwargs)
    assert caught.value.field == field


def test_the_mde_sizes_k_comparisons_at_alpha_over_k():
    family = mde("proportion", 0.05, [0.25] * 4, daily_units=1_000, mde_rel=0.1, comparisons=3)
    bonferroni = mde("proportion", 0.05, [0.25] * 4, daily_units=1_000, mde_rel=0.1, alpha=0.05 / 3)
    single = mde("proportion", 0.05, [0.25] * 4, daily_units=1_000, mde_rel=0.1)
    assert family.n_total == bonferroni.n_total > single.n_total


def test_a_correction_leaves_the_collector_as_it_found_it():
    """statsmodels' Holm collects garbage on every call; the objects frozen around it are
    unfrozen after, and a process that froze its own objects keeps them frozen."""
    p_values = [0.01, 0.04, 0.2]
    expected = list(multipletests(p_values, method="holm")[1])
    assert gc.get_freeze_count() == 0
    assert list(adjusted_p_values(p_values, "holm")) == pytest.approx(expected)
    assert gc.get_freeze_count() == 0
    gc.freeze()
    try:
        assert list(adjusted_p_values(p_values, "holm")) == pytest.approx(expected)
        # Still frozen (unfreezing empties the permanent generation; the count itself drifts
        # as frozen objects are freed).
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
