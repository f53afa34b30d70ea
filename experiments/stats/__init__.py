"""Pure statistics for experiments: sufficient statistics in, frozen dataclasses out.

No Django and no I/O here; `compare` and `mde` are the entry points an API calls, and every
rejected input raises `InputError` naming the offending field.
"""

from experiments.stats.compare import CompareResult, Comparison, MdeResult, compare, mde
from experiments.stats.sufficient import MeanStats, ProportionStats, RatioStats
from experiments.stats.validation import InputError

__all__ = [
    "CompareResult",
    "Comparison",
    "InputError",
    "MdeResult",
    "MeanStats",
    "ProportionStats",
    "RatioStats",
    "compare",
    "mde",
]
