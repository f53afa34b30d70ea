"""Roles, what each may do, and the data-access classes each may read. The bottom layer of the
apps: this module imports no app (tests/test_import_graph.py), so that the lake contract, the
warehouse and every page may use it.

A role is a Django group of the same name; superusers hold every role. The data-access scope of
a user (the access classes of all their roles) is checked wherever data is read and is part of
every result-cache key, so a result computed for one scope is never served to another.

What a role may do is a capability (CAPABILITIES): pages check it with
``portal.permissions.capability_required``, the API with ``portal.permissions.allows``,
services with ``may`` and templates read it from ``can`` (portal.context_processors).
"""

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ANALYST = "analyst"
    PM = "pm"
    SUPPORT = "support"
    FINANCE = "finance"
    PRIVACY = "privacy"
    ADMIN = "admin"


class Access(StrEnum):
    """Who may read a table or view (each table of warehouse.lake.contract declares one).

    A restricted table (support, finance, privacy) is read by admins only; the role it belongs
    to reads it through views that keep the columns that role needs, and a view carries its own
    class (support_view, finance_view, privacy_view). ROLE_ACCESS maps roles to classes.
    """

    GENERAL = "general"
    SUPPORT = "support"
    FINANCE = "finance"
    PRIVACY = "privacy"
    SUPPORT_VIEW = "support_view"
    FINANCE_VIEW = "finance_view"
    PRIVACY_VIEW = "privacy_view"


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


class Capability(StrEnum):
    EXPERIMENTS_READ = "experiments_read"  # experiment pages, results, the stats API
    EXPERIMENTS_WRITE = "experiments_write"  # create, edit, launch, stop, compute now
    EXPERIMENTS_OVERRIDE_GATE = "experiments_override_gate"  # launch past the sample-size gate
    EXPERIMENTS_STORAGE = "experiments_storage"  # see where results are stored (table, file)
    PIPELINE_READ = "pipeline_read"  # pipeline health: its pages, runs and alerts
    PIPELINE_TRIAGE = "pipeline_triage"  # mark dead-letter reasons triaged
    PRIVACY = "privacy"  # the privacy console: DSARs, consent, PII checks, retention
    SUPPORT_VIEWS = "support_views"  # the support pages (tickets)
    FINANCE_VIEWS = "finance_views"  # the finance pages (refunds, chargebacks)
    QUERIES = "queries"  # run any canonical SQL through the API
    ALERTS_ALL = "alerts_all"  # alerts of every source, also of pages no one registered
    HEALTH_ERRORS = "health_errors"  # see why a /healthz check is down (hosts, ports)


@dataclass(frozen=True)
class Grant:
    roles: frozenset[Role]
    # What a page refused for want of the capability says (portal.errors shows it).
    denied: str = "Your role does not allow this."


_PAGE = "Your role does not give access to this page."

# The one table of who may do what (admins hold every role, so every capability).
CAPABILITIES: dict[Capability, Grant] = {
    Capability.EXPERIMENTS_READ: Grant(frozenset({Role.ANALYST, Role.PM, Role.ADMIN})),
    Capability.EXPERIMENTS_WRITE: Grant(frozenset({Role.PM, Role.ADMIN})),
    Capability.EXPERIMENTS_OVERRIDE_GATE: Grant(frozenset({Role.ADMIN})),
    Capability.EXPERIMENTS_STORAGE: Grant(frozenset({Role.ANALYST, Role.ADMIN})),
    # Every role reads general data, so every role reads pipeline health.
    Capability.PIPELINE_READ: Grant(
        frozenset(r for r in Role if Access.GENERAL in ROLE_ACCESS[r]),
        "Your role does not give access to pipeline health.",
    ),
    Capability.PIPELINE_TRIAGE: Grant(
        frozenset({Role.ANALYST, Role.ADMIN}), "Only admins and analysts triage dead letters."
    ),
    Capability.PRIVACY: Grant(frozenset({Role.PRIVACY, Role.ADMIN}), _PAGE),
    Capability.SUPPORT_VIEWS: Grant(frozenset({Role.SUPPORT, Role.ADMIN}), _PAGE),
    Capability.FINANCE_VIEWS: Grant(frozenset({Role.FINANCE, Role.ADMIN}), _PAGE),
    Capability.QUERIES: Grant(frozenset({Role.ADMIN})),
    Capability.ALERTS_ALL: Grant(frozenset({Role.ADMIN})),
    Capability.HEALTH_ERRORS: Grant(frozenset({Role.ADMIN})),
}


def user_roles(user) -> frozenset[Role]:
    # Service accounts (API tokens) have no groups, hence no roles.
    if not user.is_authenticated or not user.is_active or not hasattr(user, "groups"):
        return frozenset()
    if user.is_superuser:
        return frozenset(Role)
    # Cached on the user object: one query per request, however often it is asked; none when
    # the user's groups were prefetched (prefetch_related("groups"), as warming does).
    if not hasattr(user, "_portal_roles"):
        names = {group.name for group in user.groups.all()}
        user._portal_roles = frozenset(r for r in Role if r.value in names)
    return user._portal_roles


def may(user, capability: Capability) -> bool:
    return bool(user_roles(user) & CAPABILITIES[capability].roles)


def capabilities(user) -> frozenset[Capability]:
    roles = user_roles(user)
    return frozenset(c for c, grant in CAPABILITIES.items() if grant.roles & roles)


def data_scope(user) -> frozenset[Access]:
    scope: set[Access] = set()
    for role in user_roles(user):
        scope |= ROLE_ACCESS[role]
    return frozenset(scope)


def scope_key(scope: frozenset[Access]) -> str:
    return "+".join(sorted(a.value for a in scope)) or "none"
