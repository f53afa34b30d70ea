import numpy as np
import pytest
from scipy import stats

from experiments.stats.srm import srm_check
from experiments.stats.validation import InputError


@pytest.mark.parametrize(
    ("counts", "weights"),
    [
        ([5000, 5000], [0.5, 0.5]),
        ([5000, 5210], [0.5, 0.5]),
        ([10_000, 4_900, 5_300], [0.5, 0.25, 0.25]),
        ([812, 3190], [0.2, 0.8]),
        ([1, 0, 3, 7], [0.25, 0.25, 0.25, 0.25]),
    ],
)
def test_matches_scipy_chisquare(counts, weights):
    result = srm_check(counts, weights)
    expected = np.array(weights) * sum(counts)
    reference = stats.chisquare(counts, f_exp=expected)
    assert result.chi2 == pytest.approx(reference.statistic, rel=1e-12, abs=1e-12)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    assert result.srm_alert == (reference.pvalue < 0.001)


def test_alert_threshold_is_configurable():
    counts, weights = [5000, 5210], [0.5, 0.5]  # p ≈ 0.038
    assert not srm_check(counts, weights).srm_alert
    assert srm_check(counts, weights, threshold=0.05).srm_alert
    assert srm_check([50_000, 51_500], weights).srm_alert


def test_weights_within_tolerance_of_one_are_accepted():
    result = srm_check([100, 100], [0.5 + 4e-7, 0.5 + 4e-7])
    assert result.p_value == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("counts", "weights", "threshold", "field"),
    [
        ([10, 10], [0.5, 0.6], 0.001, "weights"),
        ([10, 10], [0.5, 0.5 + 2e-6], 0.001, "weights"),
        ([10, 10, 10], [0.5, 0.5], 0.001, "weights"),
        ([10, 10], [1.0, 0.0], 0.001, "weights[1]"),
        ([10, 10], [1.2, -0.2], 0.001, "weights[1]"),
        ([10, -1], [0.5, 0.5], 0.001, "counts[1]"),
        ([0, 0], [0.5, 0.5], 0.001, "counts"),
        ([10], [1.0], 0.001, "counts"),
        ([10, 10], [0.5, 0.5], 1.5, "srm_threshold"),
    ],
)
def test_invalid_input_names_the_field(counts, weights, threshold, field):
    with pytest.raises(InputError) as caught:
        srm_check(counts, weights, threshold)
    assert caught.value.field == field
