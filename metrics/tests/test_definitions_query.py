"""The query of a metric file: the lake contract, the partition rule, the SQL contract, lineage,
audience, and the definition hash."""

import pytest

from metrics.definitions import BrokenMetric, Metric, definition_hash
from metrics.tests.definition_samples import HEADER, QUERY, errors, parse
from warehouse.sql import parse as parse_sql

SUPPORT_HEADER = (
    HEADER.replace("-- area: growth", "-- area: support")
    .replace("-- unit: ratio", "-- unit: minutes")
    .replace("-- format: percent", "-- format: duration")
    .replace("-- dimensions: listing_kind", "-- dimensions: none")
)
MEDIAN_QUERY = """\
SELECT
    CAST(event_dt AS DATE) AS period,
    'all' AS dimension_value,
    avg(first_response_minutes) AS value
FROM support_tickets_v
WHERE event_dt BETWEEN :start AND :end AND :grain = :grain
GROUP BY 1
"""


def test_lineage_names_every_table_and_column_read():
    metric = parse(HEADER + QUERY)
    assert metric.tables == frozenset({"fact_bookings"})
    assert metric.columns == {
        "fact_bookings": frozenset({"event_dt", "listing_kind", "is_refunded"})
    }


def test_lineage_through_ctes_and_joins():
    query = """\
WITH new_listings AS (
    SELECT listing_id, created_ts FROM dim_listings WHERE city = 'berlin'
)
SELECT
    CAST(b.event_dt AS DATE) AS period,
    CASE :split_by WHEN 'listing_kind' THEN b.listing_kind ELSE 'all' END AS dimension_value,
    CAST(count(*) AS DOUBLE) AS value,
    count(*) AS numerator,
    count(*) AS denominator
FROM fact_bookings AS b
JOIN new_listings AS l ON l.listing_id = b.profile_id
WHERE b.event_dt BETWEEN :start AND :end AND :grain = :grain
    AND (:listing_kind = '*' OR b.listing_kind = :listing_kind)
GROUP BY 1, 2
"""
    metric = parse(HEADER + query)
    assert isinstance(metric, Metric), metric
    assert metric.columns == {
        "dim_listings": frozenset({"listing_id", "created_ts", "city"}),
        "fact_bookings": frozenset({"event_dt", "listing_kind", "profile_id"}),
    }


@pytest.mark.parametrize(
    ("old", "new", "line", "fragment"),
    [
        ("FROM fact_bookings", "FROM fact_bookingz", 24, "table fact_bookingz is not in the lake"),
        ("count_if(is_refunded) AS numerator", "count_if(is_refundd) AS numerator", 22,
         "Column 'is_refundd' could not be resolved"),
        ("WHERE event_dt BETWEEN :start AND :end", "WHERE :start <= :end", 24,
         "reads partitioned table fact_bookings without a filter on event_dt"),
        ("GROUP BY 1, 2", "GROUP BY 1, 2 )", 27, "SQL does not parse (column 15)"),
        ("count(*) AS denominator", "count(*) AS total", 16,
         "must return (period, dimension_value, value, numerator, denominator)"),
        ("AND (:listing_kind = '*' OR listing_kind = :listing_kind)", "AND listing_kind = :kind",
         16, "does not use the parameter :listing_kind"),
        ("AND (:listing_kind = '*' OR listing_kind = :listing_kind)",
         "AND (:listing_kind = '*' OR listing_kind = :listing_kind) AND :day = :day", 26,
         "unexpected parameter :day"),
    ],
)  # fmt: skip
def test_query_problems_name_file_and_line(old, new, line, fragment):
    assert old in QUERY
    found = errors(HEADER + QUERY.replace(old, new))
    assert any(e.startswith(f"demo_rate.sql:{line}: ") and fragment in e for e in found), found


def test_more_than_one_statement_is_refused():
    found = errors(HEADER + QUERY + ";\nSELECT 1")
    assert any("Expected exactly one statement" in e for e in found), found


def test_restricted_data_needs_the_audience_that_can_read_it():
    found = errors(SUPPORT_HEADER + MEDIAN_QUERY)
    assert any(
        "reads restricted data, support_tickets_v (support_view): set an audience" in e
        for e in found
    ), found
    with_audience = SUPPORT_HEADER.replace(
        "-- timezone: UTC\n", "-- timezone: UTC\n-- audience: support\n"
    )
    metric = parse(with_audience + MEDIAN_QUERY)
    assert isinstance(metric, Metric), metric
    assert metric.audience == "support"
    wrong = with_audience.replace("-- audience: support", "-- audience: finance")
    assert any(
        "the finance role cannot read support_tickets_v" in e for e in errors(wrong + MEDIAN_QUERY)
    )


def test_a_role_cannot_be_the_audience_of_a_table_only_admins_read():
    raw = MEDIAN_QUERY.replace("avg(first_response_minutes)", "count(*)").replace(
        "support_tickets_v", "support_tickets"
    )
    header = SUPPORT_HEADER.replace(
        "-- timezone: UTC\n", "-- timezone: UTC\n-- audience: support\n"
    )
    header = header.replace("-- unit: minutes", "-- unit: count").replace(
        "-- format: duration", "-- format: number"
    )
    found = errors(header + raw)
    assert any("the support role cannot read support_tickets (support)" in e for e in found), found


def test_general_data_has_no_audience():
    text = HEADER.replace("-- timezone: UTC\n", "-- timezone: UTC\n-- audience: support\n")
    assert any("every table read has general access" in e for e in errors(text + QUERY))


def test_readable_by_follows_the_tables_access():
    header = SUPPORT_HEADER.replace(
        "-- timezone: UTC\n", "-- timezone: UTC\n-- audience: support\n"
    )
    metric = parse(header + MEDIAN_QUERY)
    from portal.roles import ROLE_ACCESS, Role

    assert metric.readable_by(ROLE_ACCESS[Role.SUPPORT])
    assert metric.readable_by(ROLE_ACCESS[Role.ADMIN])
    assert not metric.readable_by(ROLE_ACCESS[Role.ANALYST])


def test_the_definition_hash_ignores_comments_and_layout_but_not_sql():
    base = definition_hash(parse_sql(QUERY).tree)
    commented = "-- why\n" + QUERY.replace("FROM fact_bookings", "FROM  fact_bookings /* x */")
    assert definition_hash(parse_sql(commented).tree) == base
    changed = QUERY.replace("count(*) AS denominator", "count(1) AS denominator")
    assert definition_hash(parse_sql(changed).tree) != base
    assert parse(HEADER + QUERY).definition_hash == base


def test_an_empty_file_is_broken():
    parsed = parse("")
    assert isinstance(parsed, BrokenMetric)
    assert parsed.errors[0].startswith("demo_rate.sql:1: header is missing slug")
