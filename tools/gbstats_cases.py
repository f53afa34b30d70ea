"""Reference numbers from GrowthBook's stats engine (gbstats) for experiments/tests.

gbstats pins numpy<2 and pandas<2, so it cannot live in the portal's environment; `make
gbstats-cases` runs this script in a throwaway venv with gbstats==0.8.0 and writes
experiments/tests/gbstats_cases.json. The inputs are seeded random unit-level data reduced to
sufficient statistics; the outputs are gbstats' fixed-horizon and sequential (Howard et al.
confidence sequence) p-values and intervals, relative and absolute. CUPED's θ is the OLS
coefficient of the pre-period covariate with variant dummies (numpy's least squares), which is
the pooled within-variant slope the portal documents; gbstats computes a total-sample slope of
its own, so the script sets it.

Run: make gbstats-cases (the JSON is committed; re-run only when the cases change).
"""

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
    return "mean", api, stats, None


def proportion_case(seed, n_c, n_t, rate, lift):
    rng = np.random.default_rng(seed)
    conv = [int(rng.binomial(n_c, rate)), int(rng.binomial(n_t, rate * (1 + lift)))]
    api = [
        {"name": "control", "n": n_c, "conversions": conv[0]},
        {"name": "b", "n": n_t, "conversions": conv[1]},
    ]
    stats = [ProportionStatistic(n=n_c, sum=conv[0]), ProportionStatistic(n=n_t, sum=conv[1])]
    return "proportion", api, stats, None


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
    return "ratio", api, stats, None


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
    return "mean", api, stats, theta


def read(test_class, stats, theta, config):
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


def main() -> None:
    builders = {
        "mean_small_lift": lambda: mean_case(1, 3000, 3100, 0.04),
        "mean_no_lift_unequal": lambda: mean_case(2, 800, 1900, 0.0),
        "proportion_clear_lift": lambda: proportion_case(3, 20000, 20000, 0.1, 0.08),
        "proportion_borderline": lambda: proportion_case(4, 9000, 9100, 0.05, 0.07),
        "ratio": lambda: ratio_case(5, 6000, 0.05),
        "cuped": lambda: cuped_case(6, 2500, 2600, 0.15),
    }
    cases = []
    for name, build in builders.items():
        metric_type, api, stats, theta = build()
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
                    "metric_type": metric_type,
                    "alpha": alpha,
                    "tuning": tuning,
                    "theta": theta,
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
    OUT.write_text(json.dumps({"gbstats": "0.8.0", "cases": cases}, indent=1) + "\n")
    print(f"{len(cases)} cases written to {OUT.relative_to(Path.cwd())}", file=sys.stderr)


if __name__ == "__main__":
    main()
