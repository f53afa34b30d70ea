"""Sufficient statistics computed from raw unit-level data, the way a warehouse query would."""

import numpy as np

from experiments.stats.sufficient import MeanStats


def mean_stats(y: np.ndarray, x: np.ndarray | None = None) -> MeanStats:
    if x is None:
        return MeanStats(n=len(y), sum=float(y.sum()), sum_squares=float(y @ y))
    return MeanStats(
        n=len(y),
        sum=float(y.sum()),
        sum_squares=float(y @ y),
        pre_sum=float(x.sum()),
        pre_sum_squares=float(x @ x),
        sum_products=float(x @ y),
    )


def correlated(
    rng: np.random.Generator, n: int, rho: float, shift: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """(y, x) with corr(y, x) = rho, y ~ 10 + shift + N(0, 2²), x ~ 5 + N(0, 1)."""
    x = rng.standard_normal(n)
    y = rho * x + np.sqrt(1 - rho * rho) * rng.standard_normal(n)
    return 10 + shift + 2 * y, 5 + x
