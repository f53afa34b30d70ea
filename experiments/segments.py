"""Results by dimension: each unit's segment from rows per variant and user agent, visitor
kind or country (`grouped_by` the dimension, `segment` the value: analytics/experiments/
segment_stats.sql, and metric_unit_stats.sql's rows of those groupings), and a catalogue
metric's values of its own dimensions (metric_unit_stats.sql's dimension rows).

Pure: rows in, per dimension and segment the rows of that segment out (the caller sums them
as it sums any rows of its metric). A user agent's platform is its operating system as
ua-parser reads it (the uap-core rules, maintained for browsers and apps alike); the largest
segments are kept and the rest are summed into "Other", so that a dimension with a long tail
is still a handful of comparisons.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ua_parser import parse_os

from experiments.crawlers import AGENTS_CACHED

OTHER = "Other"
# Segments kept per dimension, by units; the rest are summed into OTHER.
TOP_SEGMENTS = 5


@dataclass(frozen=True)
class Dimension:
    slug: str
    title: str


DIMENSIONS = (
    Dimension("platform", "Platform"),
    Dimension("visitor", "New or returning"),
    Dimension("country", "Country"),
)
SEGMENT_GROUPINGS = frozenset(d.slug for d in DIMENSIONS)


@lru_cache(maxsize=AGENTS_CACHED)
def platform_of(user_agent: str) -> str:
    """The operating system family of an agent ("iOS", "Android", "Windows", "Mac OS X", ...);
    OTHER when the rules do not know it (or there is no agent)."""
    found = parse_os(user_agent) if user_agent else None
    family = found.family if found is not None else None
    return family if family and family != "Other" else OTHER


def _segment(dimension: str, value: str) -> str:
    if dimension == "platform":
        return platform_of(value)
    return value or OTHER  # an unknown country


def segment_rows(
    rows: Iterable[Mapping[str, Any]], top: int = TOP_SEGMENTS
) -> dict[str, dict[str, list[Mapping[str, Any]]]]:
    """dimension -> segment -> its rows; segments by units, largest first, the ones after the
    `top` largest merged into OTHER (last): the segments partition the units, so merged rows
    still count each unit once."""
    rows = list(rows)
    result = {}
    for dimension in DIMENSIONS:
        by_segment: dict[str, list[Mapping[str, Any]]] = {}
        for row in rows:
            if row["grouped_by"] == dimension.slug:
                value = _segment(dimension.slug, str(row["segment"] or ""))
                by_segment.setdefault(value, []).append(row)
        if not by_segment:
            continue
        units = {name: sum(int(r["units"]) for r in seg) for name, seg in by_segment.items()}
        named = sorted((n for n in by_segment if n != OTHER), key=lambda n: (-units[n], n))
        if len(named) + (OTHER in by_segment) > top:
            kept, rest = named[: top - 1], named[top - 1 :]
        else:
            kept, rest = named, []
        segments = {name: by_segment[name] for name in kept}
        merged = [r for name in rest for r in by_segment[name]] + by_segment.get(OTHER, [])
        if merged:
            segments[OTHER] = merged
        result[dimension.slug] = segments
    return result


def metric_dimension_rows(
    rows: Iterable[Mapping[str, Any]], top: int = TOP_SEGMENTS
) -> dict[str, dict[str, list[Mapping[str, Any]]]]:
    """A catalogue metric's own dimension -> value -> its rows (metric_unit_stats.sql's
    dimension rows, each with the `split_by` it was computed with); the `top` values with the
    largest denominators. Every unit is in every value (with 0 / 0 where it has no events), so
    values cannot be merged into an OTHER as segments are."""
    by_dimension: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    for row in rows:
        values = by_dimension.setdefault(str(row["split_by"]), {})
        values.setdefault(str(row["segment"]), []).append(row)
    result = {}
    for dimension, by_value in by_dimension.items():
        size = {
            value: sum(float(r["denominator_sum"]) for r in value_rows)
            for value, value_rows in by_value.items()
        }
        # A value seen only before exposure has nothing to compare.
        seen = [value for value in by_value if size[value] > 0]
        largest = sorted(seen, key=lambda value: (-size[value], value))[:top]
        result[dimension] = {value: by_value[value] for value in largest}
    return result
