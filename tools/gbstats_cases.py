"""Reference numbers from GrowthBook's stats engine (gbstats) for experiments/tests.

gbstats pins numpy<2 and pandas<2, so it cannot live in the portal's environment; `make
gbstats-cases` runs this script in throwaway venvs and writes experiments/tests/
gbstats_cases.json. The inputs are seeded random unit-level data reduced to sufficient
statistics; the outputs are gbstats' fixed-horizon and sequential (Howard et al. confidence
sequence) p-values and intervals, relative and absolute.

Two groups of cases, each from its own gbstats (the first argument names the group, the second
the gbstats it ran on, recorded in the JSON; a run replaces its group's cases and keeps the
other's):
* released: gbstats==0.8.0 (PyPI's newest) for means, proportions, ratios and CUPED means.
  CUPED's theta is the OLS coefficient of the pre-period covariate with variant dummies
  (numpy's least squares), which is the pooled within-variant slope the portal documents;
  gbstats computes a total-sample slope of its own, so the script sets it.
* ratio_cuped: CUPED for ratio metrics (RegressionAdjustedRatioStatistic), which is in gbstats'
  source but in no release, from a pinned commit of it. theta is computed here from the units
  and set, as for CUPED means (ratio_cuped_case says why); gbstats' own is recorded too.

Run: make gbstats-cases (the JSON is committed; re-run only when the cases change).
"""

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
from gbstats.frequentist.tests import (
    FrequentistConfig,
    SequentialConfig,
    SequentialTwoSidedTTest,
    TwoSidedTTest,
)
from gbstats.models.statistics import (
    ProportionStatistic,
    RatioStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
)

OUT = Path(__file__).resolve().parent.parent / "experiments" / "tests" / "gbstats_cases.json"
READINGS = [(0.05, 5000), (0.05, 20000), (0.1, 2000)]


def mean_case(seed, n_c, n_t, lift):
    rng = np.random.default_rng(seed)
    c, t = rng.gamma(2.0, 3.0, n_c), rng.gamma(2.0, 3.0, n_t) * (1 + lift)
    arms = [("control", c), ("b", t)]
    api = [{"name": k, "n": len(v), "sum": v.sum(), "sum_squares": v @ v} for k, v in arms]
    stats = [SampleMeanStatistic(n=len(v), sum=v.sum(), sum_squares=v @ v) for _, v in arms]
    return "mean", api, stats, None, {}


def proportion_case(seed, n_c, n_t, rate, lift):
    rng = np.random.default_rng(seed)
    conv = [int(rng.binomial(n_c, rate)), int(rng.binomial(n_t, rate * (1 + lift)))]
    api = [
        {"name": "control", "n": n_c, "conversions": conv[0]},
        {"name": "b", "n": n_t, "conversions": conv[1]},
    ]
    stats = [ProportionStatistic(n=n_c, sum=conv[0]), ProportionStatistic(n=n_t, sum=conv[1])]
    return "proportion", api, stats, None, {}


def ratio_case(seed, n, lift):
    rng = np.random.default_rng(seed)
    api, stats = [], []
    for name, rate in (("control", 0.3), ("b", 0.3 * (1 + lift))):
        y = rng.negative_binomial(2, 0.4, n).astype(float)
        x = rng.binomial(y.astype(int), rate).astype(float)
        api.append(
            {
                "name": name,
                "n": n,
                "numerator_sum": x.sum(),
                "numerator_sum_squares": x @ x,
                "denominator_sum": y.sum(),
                "denominator_sum_squares": y @ y,
                "sum_products": x @ y,
            }
        )
        stats.append(
            RatioStatistic(
                n=n,
                m_statistic=SampleMeanStatistic(n=n, sum=x.sum(), sum_squares=x @ x),
                d_statistic=SampleMeanStatistic(n=n, sum=y.sum(), sum_squares=y @ y),
                m_d_sum_of_products=x @ y,
            )
        )
    return "ratio", api, stats, None, {}


def cuped_case(seed, n_c, n_t, lift):
    rng = np.random.default_rng(seed)
    arms = []
    for name, n, shift in (("control", n_c, 0.0), ("b", n_t, lift)):
        x = rng.gamma(2.0, 2.0, n)
        arms.append((name, 0.8 * x + rng.normal(3.0 + shift, 1.5, n), x))
    y = np.concatenate([a[1] for a in arms])
    x = np.concatenate([a[2] for a in arms])
    dummy = np.concatenate([np.zeros(n_c), np.ones(n_t)])
    design = np.column_stack([np.ones_like(y), dummy, x])
    theta = float(np.linalg.lstsq(design, y, rcond=None)[0][2])
    api, stats = [], []
    for name, post, pre in arms:
        api.append(
            {
                "name": name,
                "n": len(post),
                "sum": post.sum(),
                "sum_squares": post @ post,
                "pre_sum": pre.sum(),
                "pre_sum_squares": pre @ pre,
                "sum_products": pre @ post,
            }
        )
        stats.append(
            RegressionAdjustedStatistic(
                n=len(post),
                post_statistic=SampleMeanStatistic(
                    n=len(post), sum=post.sum(), sum_squares=post @ post
                ),
                pre_statistic=SampleMeanStatistic(n=len(pre), sum=pre.sum(), sum_squares=pre @ pre),
                post_pre_sum_of_products=pre @ post,
                theta=theta,
            )
        )
    return "mean", api, stats, theta, {}


def ratio_cuped_case(seed, n_c, n_t, lift, persistence):
    """Units with a lasting activity level and click-through propensity; `persistence` of each
    carries over from the pre-period to the post-period (the rest is drawn afresh), so it sets
    how strongly the two periods' ratios correlate. Some units have no pre-period views.

    theta: sum_g Cov(R_g, R'_g) / sum_g Var(R'_g) of the arms' post- and pre-period ratios,
    each from its units' linearised ratios (numpy's cov), the minimiser of the variance of the
    difference the portal documents, set in gbstats. gbstats' own theta, recorded beside it,
    leaves out the 1/n of each arm's moments: the same for arms of equal size only."""
    from gbstats.models.statistics import (
        RegressionAdjustedRatioStatistic,
        compute_theta_regression_adjusted_ratio,
    )

    rng = np.random.default_rng(seed)
    api, stats, moments = [], [], []
    for name, n, shift in (("control", n_c, 0.0), ("b", n_t, lift)):
        activity, propensity = rng.gamma(1.5, 3.0, n), rng.beta(3.0, 7.0, n)
        post_activity = persistence * activity + (1 - persistence) * rng.gamma(1.5, 3.0, n)
        post_propensity = persistence * propensity + (1 - persistence) * rng.beta(3.0, 7.0, n)
        y_pre = rng.poisson(activity)
        x_pre = rng.binomial(y_pre, propensity).astype(float)
        y = rng.poisson(post_activity)
        x = rng.binomial(y, np.minimum(post_propensity * (1 + shift), 1.0)).astype(float)
        y_pre, y = y_pre.astype(float), y.astype(float)
        sums = {
            "n": n,
            "numerator_sum": x.sum(),
            "numerator_sum_squares": x @ x,
            "denominator_sum": y.sum(),
            "denominator_sum_squares": y @ y,
            "sum_products": x @ y,
            "pre_numerator_sum": x_pre.sum(),
            "pre_numerator_sum_squares": x_pre @ x_pre,
            "pre_denominator_sum": y_pre.sum(),
            "pre_denominator_sum_squares": y_pre @ y_pre,
            "pre_sum_products": x_pre @ y_pre,
            "numerator_pre_numerator_products": x @ x_pre,
            "numerator_pre_denominator_products": x @ y_pre,
            "denominator_pre_numerator_products": y @ x_pre,
            "denominator_pre_denominator_products": y @ y_pre,
        }
        api.append({"name": name, **sums})
        stats.append(
            RegressionAdjustedRatioStatistic(
                n=n,
                m_statistic_post=sample_mean(sums, "numerator_sum"),
                d_statistic_post=sample_mean(sums, "denominator_sum"),
                m_statistic_pre=sample_mean(sums, "pre_numerator_sum"),
                d_statistic_pre=sample_mean(sums, "pre_denominator_sum"),
                m_post_m_pre_sum_of_products=sums["numerator_pre_numerator_products"],
                d_post_d_pre_sum_of_products=sums["denominator_pre_denominator_products"],
                m_pre_d_pre_sum_of_products=sums["pre_sum_products"],
                m_post_d_post_sum_of_products=sums["sum_products"],
                m_post_d_pre_sum_of_products=sums["numerator_pre_denominator_products"],
                m_pre_d_post_sum_of_products=sums["denominator_pre_numerator_products"],
                theta=None,
            )
        )
        u = (x - x.sum() / y.sum() * y) / y.mean()
        w = (x_pre - x_pre.sum() / y_pre.sum() * y_pre) / y_pre.mean()
        moments.append((np.cov(u, w)[0, 1] / n, np.var(w, ddof=1) / n))
    theta = float(sum(c for c, _ in moments) / sum(v for _, v in moments))
    own = float(compute_theta_regression_adjusted_ratio(*stats))
    stats = [dataclasses.replace(s, theta=theta) for s in stats]
    return "ratio", api, stats, theta, {"gbstats_theta": own}


def sample_mean(sums, total):
    return SampleMeanStatistic(n=sums["n"], sum=sums[total], sum_squares=sums[f"{total}_squares"])


def read_released(test_class, stats, theta, config):
    """gbstats 0.8.0: a test of two statistics, with `theta` set over gbstats' own."""
    test = test_class(stats[0], stats[1], config)
    if theta is not None:  # gbstats sets its own slope in the constructor
        test.stat_a.theta = test.stat_b.theta = theta
    result = test.compute_result()
    return {
        "p_value": float(result.p_value),
        "ci": [float(v) for v in result.ci],
        "estimate": float(result.expected),
        "se": float(result.uplift.stddev),
    }


def read_source(test_class, stats, theta, config):
    """gbstats' source: a test of pairs of statistics, which carry `theta` already."""
    test = test_class([(stats[0], stats[1])], config)
    assert test.stat_a.theta == test.stat_b.theta == theta, "gbstats did not adjust"
    result = test.compute_result()
    assert result.errorMessage is None, result.errorMessage
    return {
        "p_value": float(result.pValue),
        "ci": [float(v) for v in result.ci],
        "estimate": float(result.expected),
        "se": float(result.uplift.stddev),
    }


GROUPS = {
    "released": (
        read_released,
        {
            "mean_small_lift": lambda: mean_case(1, 3000, 3100, 0.04),
            "mean_no_lift_unequal": lambda: mean_case(2, 800, 1900, 0.0),
            "proportion_clear_lift": lambda: proportion_case(3, 20000, 20000, 0.1, 0.08),
            "proportion_borderline": lambda: proportion_case(4, 9000, 9100, 0.05, 0.07),
            "ratio": lambda: ratio_case(5, 6000, 0.05),
            "cuped": lambda: cuped_case(6, 2500, 2600, 0.15),
        },
    ),
    "ratio_cuped": (
        read_source,
        {
            "ratio_cuped_strong": lambda: ratio_cuped_case(7, 4000, 4000, 0.06, 0.9),
            "ratio_cuped_weak_unequal": lambda: ratio_cuped_case(8, 1500, 3500, 0.0, 0.2),
            "ratio_cuped_unequal_lift": lambda: ratio_cuped_case(9, 6000, 2500, 0.08, 0.7),
            "ratio_cuped_small": lambda: ratio_cuped_case(10, 300, 450, 0.1, 0.8),
        },
    ),
}


def main() -> None:
    group, source = sys.argv[1:]
    read, builders = GROUPS[group]
    cases = []
    for name, build in builders.items():
        metric_type, api, stats, theta, notes = build()
        for alpha, tuning in READINGS:
            results = {}
            for scale in ("relative", "absolute"):
                fixed = FrequentistConfig(alpha=alpha, difference_type=scale)
                sequential = SequentialConfig(
                    alpha=alpha, difference_type=scale, sequential_tuning_parameter=tuning
                )
                results[f"fixed_{scale}"] = read(TwoSidedTTest, stats, theta, fixed)
                results[f"sequential_{scale}"] = read(
                    SequentialTwoSidedTTest, stats, theta, sequential
                )
            cases.append(
                {
                    "case": name,
                    "group": group,
                    "metric_type": metric_type,
                    "alpha": alpha,
                    "tuning": tuning,
                    "theta": theta,
                    **notes,
                    "variants": [
                        {k: float(v) if k != "name" else v for k, v in a.items()} for a in api
                    ],
                    "gbstats": results,
                }
            )
    for case in cases:  # integers stay integers in the JSON
        for variant in case["variants"]:
            for key in ("n", "conversions"):
                if key in variant:
                    variant[key] = int(variant[key])
    # Keep the other group's cases (a file from before the groups is all "released").
    previous = json.loads(OUT.read_text()) if OUT.exists() else {"cases": []}
    sources = previous.get("sources", {}) | {group: source}
    kept = [c for c in previous["cases"] if c.setdefault("group", "released") != group]
    order = list(GROUPS)
    cases = sorted(kept + cases, key=lambda c: order.index(c["group"]))
    OUT.write_text(json.dumps({"sources": sources, "cases": cases}, indent=1) + "\n")
    print(f"{len(cases)} cases in {OUT.relative_to(Path.cwd())}", file=sys.stderr)


if __name__ == "__main__":
    main()
