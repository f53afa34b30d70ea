"""Multiple-comparison corrections: statsmodels' `multipletests` (Holm for the family-wise
error rate, Benjamini-Hochberg for the false discovery rate), and the interval level that
matches an adjusted p-value."""

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Literal

from statsmodels.stats.multitest import multipletests

from experiments.stats.validation import InputError

Correction = Literal["holm", "bh", "none"]
CORRECTIONS: dict[str, str | None] = {"holm": "holm", "bh": "fdr_bh", "none": None}


def require_correction(value: object) -> Correction:
    if not isinstance(value, str) or value not in CORRECTIONS:
        raise InputError("correction", "must be 'holm', 'bh' or 'none'")
    return value  # type: ignore[return-value]


def adjusted_p_values(p_values: Sequence[float], correction: Correction) -> tuple[float, ...]:
    method = CORRECTIONS[correction]
    if method is None or len(p_values) < 2:
        return tuple(p_values)
    with _live_objects_frozen():
        adjusted = multipletests(list(p_values), method=method)[1]
    return tuple(float(p) for p in adjusted)


@contextmanager
def _live_objects_frozen() -> Iterator[None]:
    """statsmodels' Holm runs a full gc.collect() on every call: 20 ms in a small process,
    0.4 s with two million live objects, and a results computation makes dozens of calls (one
    per day of the lift over time). The collector skips frozen objects, so frozen the call
    costs what it computes; unfreezing returns them to the oldest generation, to be collected
    as before. A process that froze objects itself (before forking workers) is left alone."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def matching_alpha(alpha: float, p_value: float, p_adjusted: float, family_size: int) -> float:
    """The level a' whose interval excludes 0 exactly when p_adjusted < alpha.

    With p and its interval dual (the interval at a' excludes 0 iff p < a'), a' =
    alpha·p/p_adj does it: p < alpha·p/p_adj ⟺ p_adj < alpha. Without a correction a' = alpha;
    a p-value that underflows to 0 gets Bonferroni's alpha/m (its interval excludes 0 at any
    level anyway)."""
    if p_adjusted <= 0 or p_value <= 0:
        return alpha / family_size
    return alpha * min(1.0, p_value / p_adjusted)
