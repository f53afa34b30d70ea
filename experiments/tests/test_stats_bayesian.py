import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special, stats

from experiments.stats.bayesian import (
    BetaPosterior,
    BetaPrior,
    beta_binomial,
    expected_loss,
    posterior,
    prob_beat,
    prob_ratio_at_most,
)
from experiments.stats.sufficient import ProportionStats
from experiments.stats.validation import InputError


def evan_miller(a_c, b_c, a_t, b_t):
    """P(p_t > p_c) by Evan Miller's exact sum (integer a_t)."""
    i = np.arange(int(a_t))
    log_terms = (
        special.betaln(a_c + i, b_c + b_t)
        - np.log(b_t + i)
        - special.betaln(1 + i, b_t)
        - special.betaln(a_c, b_c)
    )
    return float(np.exp(log_terms).sum())


def adaptive(a_c, b_c, a_t, b_t):
    """P(p_t > p_c) by QUADPACK with the Beta density as an algebraic weight (any shapes)."""
    value, _ = integrate.quad(
        lambda x: special.betaincc(a_t, b_t, x),
        0,
        1,
        weight="alg",
        wvar=(a_c - 1, b_c - 1),
        epsabs=1e-14,
        epsrel=1e-13,
        limit=500,
    )
    return value / special.beta(a_c, b_c)


INTEGER_CASES = [
    (1, 1, 1, 1),
    (3, 1, 1, 3),
    (2, 30, 3, 28),
    (51, 951, 71, 931),
    (11, 91, 1001, 9001),
    (1001, 9001, 11, 91),
    (1, 100_001, 1, 50_001),
    (1608, 32, 1612, 28),
    (501, 9501, 560, 9442),
]


@pytest.mark.parametrize("shapes", INTEGER_CASES)
def test_prob_beat_matches_evan_millers_exact_sum(shapes):
    a_c, b_c, a_t, b_t = shapes
    value = prob_beat(BetaPosterior(a_c, b_c), BetaPosterior(a_t, b_t))
    assert value == pytest.approx(evan_miller(*shapes), abs=1e-9)


@pytest.mark.parametrize(
    "shapes",
    [
        (0.5, 10.5, 0.5, 3.5),
        (0.5, 100.5, 1.5, 99.5),
        (1.5, 20, 1.5, 40),
        (2.5, 0.5, 0.7, 4.2),
        (30.5, 0.5, 29.5, 1.5),
        (4.3, 40.5, 0.55, 14.3),
    ],
)
def test_prob_beat_with_fractional_shapes_matches_adaptive_quadrature(shapes):
    value = prob_beat(BetaPosterior(*shapes[:2]), BetaPosterior(*shapes[2:]))
    assert value == pytest.approx(adaptive(*shapes), abs=1e-8)


@pytest.mark.parametrize("shapes", [*INTEGER_CASES, (5e5 + 1, 9.5e6 + 1, 5.03e5 + 1, 9.497e6 + 1)])
def test_probabilities_of_either_arm_winning_sum_to_one(shapes):
    a, b = BetaPosterior(*shapes[:2]), BetaPosterior(*shapes[2:])
    assert prob_beat(a, b) + prob_beat(b, a) == pytest.approx(1, abs=1e-9)


def test_large_counts_against_monte_carlo():
    """n = 10 million per arm: P(beat), expected loss and the lift interval against 4M draws."""
    rng = np.random.default_rng(2024)
    control = ProportionStats(10_000_000, 500_000)
    treatment = ProportionStats(10_000_000, 501_500)
    result = beta_binomial(control, treatment, alpha=0.1)
    draws = 4_000_000
    p_c = rng.beta(result.control.a, result.control.b, draws)
    p_t = rng.beta(result.treatment.a, result.treatment.b, draws)
    beat = np.mean(p_t > p_c)
    assert result.prob_beat_control == pytest.approx(
        beat, abs=4 * np.sqrt(beat * (1 - beat) / draws)
    )
    loss = np.maximum(p_c - p_t, 0)
    assert result.expected_loss == pytest.approx(loss.mean(), abs=4 * loss.std() / np.sqrt(draws))
    lift = p_t / p_c - 1
    assert result.credible_interval_rel == pytest.approx(
        tuple(np.quantile(lift, [0.05, 0.95])), abs=0.01 * lift.std()
    )


@pytest.mark.parametrize(
    "shapes", [(3, 40, 5, 38), (51, 951, 71, 931), (1, 10, 2, 9), (40, 3, 38, 4)]
)
def test_expected_loss_matches_the_exact_size_biased_sums(shapes):
    """E[(p_c - p_t)⁺] = μ_c P(p_c⁺ > p_t) - μ_t P(p_c > p_t⁺), each P by Evan Miller's sum;
    X⁺ ~ Beta(a + 1, b) is the size-biased law."""
    a_c, b_c, a_t, b_t = shapes
    mean_c, mean_t = a_c / (a_c + b_c), a_t / (a_t + b_t)
    exact = mean_c * evan_miller(a_t, b_t, a_c + 1, b_c) - mean_t * evan_miller(
        a_t + 1, b_t, a_c, b_c
    )
    value = expected_loss(BetaPosterior(a_c, b_c), BetaPosterior(a_t, b_t))
    assert value == pytest.approx(exact, rel=1e-8, abs=1e-13)


@pytest.mark.parametrize(
    ("control", "treatment", "prior"),
    [
        (ProportionStats(200, 20), ProportionStats(180, 27), BetaPrior()),
        (ProportionStats(50, 0), ProportionStats(60, 2), BetaPrior(0.5, 0.5)),
        (ProportionStats(30, 27), ProportionStats(30, 29), BetaPrior(2, 2)),
    ],
)
def test_credible_interval_has_the_stated_posterior_mass(control, treatment, prior):
    """Independent check of the interval ends: P(p_t/p_c - 1 ≤ end) by 2-D adaptive quadrature."""
    alpha = 0.1
    result = beta_binomial(control, treatment, alpha, prior)
    post_c, post_t = result.control, result.treatment
    spread = [
        post_c.mean + k * post_c.sd for k in (-3, 0, 3) if 0 < post_c.mean + k * post_c.sd < 1
    ]
    for end, mass in zip(result.credible_interval_rel, (alpha / 2, 1 - alpha / 2), strict=True):
        value, _ = integrate.quad(
            lambda x, r=1 + end: (
                stats.beta.pdf(x, post_c.a, post_c.b)
                * special.betainc(post_t.a, post_t.b, min(1.0, r * x))
            ),
            0,
            1,
            points=spread,
            epsabs=1e-13,
            limit=500,
        )
        assert value == pytest.approx(mass, abs=1e-7)


def test_ratio_cdf_is_monotone_from_zero_to_one():
    post_c, post_t = BetaPosterior(21, 181), BetaPosterior(28, 154)
    values = [prob_ratio_at_most(post_c, post_t, r) for r in np.geomspace(0.05, 20, 60)]
    assert values[0] == pytest.approx(0, abs=1e-12)
    assert values[-1] == pytest.approx(1, abs=1e-10)
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(values))


def test_posterior_adds_counts_to_the_prior():
    assert posterior(ProportionStats(100, 7), BetaPrior(2, 3)) == BetaPosterior(9, 96)


counts = st.integers(2, 5_000_000).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n)))


@settings(max_examples=60, deadline=None, database=None)
@given(counts, counts, st.sampled_from([BetaPrior(), BetaPrior(0.5, 0.5), BetaPrior(3, 50)]))
def test_bayesian_outputs_are_well_formed(control, treatment, prior):
    result = beta_binomial(ProportionStats(*control), ProportionStats(*treatment), 0.05, prior)
    assert 0 <= result.prob_beat_control <= 1
    assert result.expected_loss >= 0
    low, high = result.credible_interval_rel
    assert -1 < low < high
    mean_lift = result.treatment.mean / result.control.mean - 1
    assert low < mean_lift < high or np.isclose(low, mean_lift) or np.isclose(high, mean_lift)


@pytest.mark.parametrize(
    ("a", "b", "field"), [(0.4, 1, "prior.a"), (1, 0, "prior.b"), (1, "x", "prior.b")]
)
def test_prior_validation_names_the_field(a, b, field):
    with pytest.raises(InputError) as caught:
        BetaPrior(a, b)
    assert caught.value.field == field
