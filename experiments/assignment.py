"""Deterministic assignment of a unit to a variant: no Django, no I/O, no state.

bucket = first 8 bytes of sha256("<experiment key>:<salt>:<unit id>") as a big-endian unsigned
integer, mod 10,000; the weights cut the buckets into consecutive ranges, control first. The
same key, salt and unit give the same variant on every machine and after every restart, and a
new salt reshuffles every unit.
"""

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

from experiments.crawlers import is_crawler

BUCKETS = 10_000


@dataclass(frozen=True)
class AssignmentConfig:
    """What assignment needs of an experiment (kept in the cache, so plain values only)."""

    key: str
    salt: str
    running: bool
    variants: tuple[str, ...]
    weights: tuple[float, ...]

    @property
    def control(self) -> str:
        return self.variants[0]


@dataclass(frozen=True)
class Assignment:
    variant: str
    # "assigned" by the hash; "crawler" and "not_running" get control whatever their bucket.
    reason: str
    bucket: int


def bucket_of(key: str, salt: str, unit: str) -> int:
    digest = hashlib.sha256(f"{key}:{salt}:{unit}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def bucket_edges(weights: Sequence[float]) -> tuple[int, ...]:
    """Upper bucket bound of each variant: the rounded cumulative weights, the last one BUCKETS.

    Weights are fractions summing to 1 (validated where an experiment is saved); rounding the
    running total rather than each weight keeps the ranges contiguous and complete."""
    total = math.fsum(weights)
    edges = [round(math.fsum(weights[: i + 1]) / total * BUCKETS) for i in range(len(weights))]
    edges[-1] = BUCKETS
    return tuple(edges)


def assign(config: AssignmentConfig, unit: str, user_agent: str | None) -> Assignment:
    bucket = bucket_of(config.key, config.salt, unit)
    if is_crawler(user_agent):
        return Assignment(config.control, "crawler", bucket)
    if not config.running:
        return Assignment(config.control, "not_running", bucket)
    for variant, edge in zip(config.variants, bucket_edges(config.weights), strict=True):
        if bucket < edge:
            return Assignment(variant, "assigned", bucket)
    raise AssertionError("the last edge is BUCKETS, above every bucket")
