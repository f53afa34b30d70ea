"""A sound metric file (header and query) and how the tests parse one: the definition tests
build their broken files from it."""

from pathlib import Path

from metrics.definitions import BrokenMetric, Metric, parse_definition

HEADER = """\
-- slug: demo_rate
-- title: Demo rate
-- description: Share of demo things; a long description continues
--   on the next line.
-- owner: someone
-- area: growth
-- unit: ratio
-- format: percent
-- grains: week, day
-- dimensions: listing_kind
-- higher_is_better: true
-- version: 2
-- timezone: UTC
-- history: 1: First.
-- history: 2: Second.
"""
QUERY = """\
SELECT
    CAST(
        CASE :grain WHEN 'week' THEN date_trunc('week', event_dt) ELSE event_dt END AS DATE
    ) AS period,
    CASE :split_by WHEN 'listing_kind' THEN listing_kind ELSE 'all' END AS dimension_value,
    CAST(count_if(is_refunded) AS DOUBLE) / nullif(count(*), 0) AS value,
    count_if(is_refunded) AS numerator,
    count(*) AS denominator
FROM fact_bookings
WHERE event_dt BETWEEN :start AND :end
    AND (:listing_kind = '*' OR listing_kind = :listing_kind)
GROUP BY 1, 2
"""
PATH = Path("analytics/metrics/demo_rate.sql")


def parse(text: str) -> Metric | BrokenMetric:
    return parse_definition(PATH, text, display="demo_rate.sql")


def errors(text: str) -> tuple[str, ...]:
    parsed = parse(text)
    assert isinstance(parsed, BrokenMetric), "expected a broken metric"
    return parsed.errors
