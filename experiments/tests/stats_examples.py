"""The issue's worked examples of the statistics API (a proportion test and its MDE), shared by
the tests of its answers and of its limits."""

ISSUE_COMPARE = {
    "metric_type": "proportion",
    "alpha": 0.05,
    "weights": [0.5, 0.5],
    "variants": [
        {"name": "control", "n": 10000, "conversions": 1000},
        {"name": "b", "n": 10000, "conversions": 1090},
    ],
}
ISSUE_MDE = {
    "metric_type": "proportion",
    "baseline": 0.1,
    "alpha": 0.05,
    "power": 0.8,
    "weights": [0.5, 0.5],
    "mde_rel": 0.1,
    "daily_units": 2000,
}


def ratio_sums(x, y, x_pre=None, y_pre=None) -> dict[str, float]:
    """RatioStats' sums (without n) over units with numerators x and denominators y, and with
    the pre-period's x' and y' when given: what a warehouse query returns, as Python floats."""
    sums = {
        "numerator_sum": x.sum(),
        "numerator_sum_squares": x @ x,
        "denominator_sum": y.sum(),
        "denominator_sum_squares": y @ y,
        "sum_products": x @ y,
    }
    if x_pre is not None:
        sums |= {
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
    return {name: float(value) for name, value in sums.items()}
