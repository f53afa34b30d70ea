"""Time in the demo lake: int64 microseconds since the epoch (UTC), busier evenings and weekends,
lognormal durations."""

from datetime import date

import numpy as np

SEC = 1_000_000
MINUTE = 60 * SEC
HOUR = 60 * MINUTE
DAY = 24 * HOUR
NEVER = np.iinfo(np.int64).max  # something that has not happened
EPOCH = date(1970, 1, 1)

_HOURLY = np.array(
    [3, 2, 1.5, 1, 1, 1.5, 3, 6, 9, 10, 10, 10, 10.5, 10, 9.5, 9.5, 10, 11, 13, 15, 16, 15, 11, 6]
)
_HOURLY_CDF = np.cumsum(_HOURLY) / _HOURLY.sum()
_HOURLY_CDF[-1] = 1.0  # so that a draw below 1 always lands in an hour
WEEKDAY = np.array([0.95, 0.93, 0.95, 0.97, 1.05, 1.25, 1.30])  # Monday first


def lognormal(rng: np.random.Generator, median_us: float, sigma: float, n: int) -> np.ndarray:
    return (rng.lognormal(np.log(median_us), sigma, n)).astype(np.int64)


def time_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    hour = np.searchsorted(_HOURLY_CDF, rng.random(n), side="right")
    return hour * HOUR + (rng.random(n) * HOUR).astype(np.int64)
