"""Who reads what: restricted tables by admins only, their roles through views; decided from
the tables the SQL reads, however they are hidden."""

import pytest

from portal.roles import ROLE_ACCESS, Access, Role
from warehouse.lake import contract
from warehouse.services import DataAccessDenied, check_access
from warehouse.sql import parse

RAW_RESTRICTED = {Access.SUPPORT, Access.FINANCE, Access.PRIVACY}
VIEW_OWNER = {
    Access.SUPPORT_VIEW: Role.SUPPORT,
    Access.FINANCE_VIEW: Role.FINANCE,
    Access.PRIVACY_VIEW: Role.PRIVACY,
}


def allowed_roles(relation: contract.Table) -> set[Role]:
    """The rule of the issue, written out independently of ROLE_ACCESS."""
    if relation.access == Access.GENERAL:
        return set(Role)
    if relation.access in RAW_RESTRICTED:
        return {Role.ADMIN}
    return {VIEW_OWNER[relation.access], Role.ADMIN}


def select(relation: contract.Table) -> str:
    where = f" WHERE {relation.partition_column} >= :d" if relation.partition_column else ""
    return f"SELECT count(*) FROM {relation.name}{where}"


RELATIONS = [*contract.TABLES.values(), *contract.VIEWS.values()]


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("relation", RELATIONS, ids=lambda t: t.name)
def test_every_role_reads_exactly_what_the_rule_allows(role, relation):
    canonical = parse(select(relation))
    if role in allowed_roles(relation):
        check_access(canonical, ROLE_ACCESS[role])
    else:
        with pytest.raises(DataAccessDenied) as info:
            check_access(canonical, ROLE_ACCESS[role])
        assert relation.name not in str(info.value)


def test_only_admins_hold_a_raw_restricted_class():
    holders = {role for role, scope in ROLE_ACCESS.items() if scope & RAW_RESTRICTED}
    assert holders == {Role.ADMIN}
    assert ROLE_ACCESS[Role.ANALYST] == ROLE_ACCESS[Role.PM] == {Access.GENERAL}


@pytest.mark.parametrize(
    "sql",
    [
        # The view's own tables, hidden behind a CTE, a subquery, a join, a schema or a case.
        "WITH t AS (SELECT * FROM support_tickets WHERE event_dt >= :d) SELECT count(*) FROM t",
        "SELECT * FROM (SELECT ticket_id FROM SUPPORT_TICKETS WHERE event_dt >= :d) x",
        "SELECT v.ticket_id FROM support_tickets_v v JOIN support_tickets t "
        "ON t.ticket_id = v.ticket_id AND t.event_dt >= :d WHERE v.event_dt >= :d",
        "SELECT count(*) FROM view_base.support_tickets WHERE event_dt >= :d",
        "SELECT count(*) FROM support_tickets_v WHERE event_dt >= :d AND ticket_id IN "
        "(SELECT ticket_id FROM support_tickets WHERE event_dt >= :d)",
        # A CTE named like the view does not make the raw table a view.
        "WITH support_tickets_v AS (SELECT * FROM support_tickets WHERE event_dt >= :d) "
        "SELECT count(*) FROM support_tickets_v WHERE event_dt >= :d",
    ],
)
def test_support_never_reads_the_raw_table_behind_its_view(sql):
    with pytest.raises(DataAccessDenied):
        check_access(parse(sql), ROLE_ACCESS[Role.SUPPORT])
    check_access(parse(sql), ROLE_ACCESS[Role.ADMIN])


def test_a_view_is_read_by_its_own_class_even_joined_with_general_data():
    sql = (
        "SELECT c.case_kind, count(*) FROM finance_cases_v c JOIN fact_bookings b "
        "ON b.booking_id = c.booking_id AND b.event_dt >= :d WHERE c.event_dt >= :d GROUP BY 1"
    )
    check_access(parse(sql), ROLE_ACCESS[Role.FINANCE])
    for role in (Role.ANALYST, Role.SUPPORT, Role.PRIVACY, Role.PM):
        with pytest.raises(DataAccessDenied):
            check_access(parse(sql), ROLE_ACCESS[role])
