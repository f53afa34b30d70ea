"""Roles, and the data-access classes each role may read.

A role is a Django group of the same name; superusers hold every role. The data-access scope of
a user (the access classes of all their roles) is checked wherever data is read and is part of
every result-cache key, so a result computed for one scope is never served to another.
"""

from enum import StrEnum

from warehouse.lake.contract import Access


class Role(StrEnum):
    ANALYST = "analyst"
    PM = "pm"
    SUPPORT = "support"
    FINANCE = "finance"
    PRIVACY = "privacy"
    ADMIN = "admin"


# Restricted tables themselves (support, finance, privacy) are for admins only; their roles
# read them through the contract's views, which carry the *_view classes.
ROLE_ACCESS: dict[Role, frozenset[Access]] = {
    Role.ANALYST: frozenset({Access.GENERAL}),
    Role.PM: frozenset({Access.GENERAL}),
    Role.SUPPORT: frozenset({Access.GENERAL, Access.SUPPORT_VIEW}),
    Role.FINANCE: frozenset({Access.GENERAL, Access.FINANCE_VIEW}),
    Role.PRIVACY: frozenset({Access.GENERAL, Access.PRIVACY_VIEW}),
    Role.ADMIN: frozenset(Access),
}


def user_roles(user) -> frozenset[Role]:
    # Service accounts (API tokens) have no groups, hence no roles.
    if not user.is_authenticated or not user.is_active or not hasattr(user, "groups"):
        return frozenset()
    if user.is_superuser:
        return frozenset(Role)
    # Cached on the user object: one query per request, however often it is asked.
    if not hasattr(user, "_portal_roles"):
        names = set(user.groups.values_list("name", flat=True))
        user._portal_roles = frozenset(r for r in Role if r.value in names)
    return user._portal_roles


def data_scope(user) -> frozenset[Access]:
    scope: set[Access] = set()
    for role in user_roles(user):
        scope |= ROLE_ACCESS[role]
    return frozenset(scope)


def scope_key(scope: frozenset[Access]) -> str:
    return "+".join(sorted(a.value for a in scope)) or "none"
