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
