"""Data access is decided from the tables the SQL reads, not from a label."""

import pytest

from portal.roles import Access
from warehouse.services import DataAccessDenied, check_access
from warehouse.sql import SqlError, parse

GENERAL = frozenset({Access.GENERAL})
FINANCE = frozenset({Access.GENERAL, Access.FINANCE})


def test_general_scope_reads_general_tables():
    check_access(parse("SELECT count(*) FROM fact_bookings WHERE event_dt = :d"), GENERAL)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM fin_refunds WHERE event_dt = :d",
        # Hidden behind a CTE, a subquery, a join or a differently-cased name: still found.
        "WITH r AS (SELECT * FROM fin_refunds WHERE event_dt = :d) SELECT count(*) FROM r",
        "SELECT * FROM (SELECT booking_id FROM FIN_REFUNDS WHERE event_dt = :d) x",
        "SELECT b.booking_id FROM fact_bookings b JOIN fin_chargebacks c "
        "ON c.booking_id = b.booking_id AND c.event_dt = :d WHERE b.event_dt = :d",
    ],
)
def test_restricted_tables_are_refused_outside_scope(sql):
    canonical = parse(sql)
    with pytest.raises(DataAccessDenied) as info:
        check_access(canonical, GENERAL)
    assert "fin_" not in str(info.value)  # the refusal names no restricted data
    check_access(canonical, FINANCE)


def test_unknown_table_is_an_sql_error():
    with pytest.raises(SqlError, match="Unknown table 'no_such_table'"):
        check_access(parse("SELECT 1 FROM no_such_table"), GENERAL)
