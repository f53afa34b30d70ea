"""The top navigation: each section and the roles that see it (admins see everything).

Hiding a link is only convenience; every page checks access itself.
"""

from dataclasses import dataclass

from portal.roles import Role, user_roles

ALL = frozenset(Role)


@dataclass(frozen=True)
class Section:
    label: str
    path: str
    roles: frozenset[Role] = ALL


SECTIONS = (
    Section("Dashboards", "/dashboards/"),
    Section("Metrics", "/metrics/"),
    Section("Experiments", "/experiments/", frozenset({Role.ANALYST, Role.PM, Role.ADMIN})),
    Section("Pipeline", "/pipeline/"),
    Section("Support", "/support/", frozenset({Role.SUPPORT, Role.ADMIN})),
    Section("Finance", "/finance/", frozenset({Role.FINANCE, Role.ADMIN})),
    Section("Privacy", "/privacy/", frozenset({Role.PRIVACY, Role.ADMIN})),
    Section("Alerts", "/alerts/"),
    Section("Query runs", "/runs/"),
)


def sections_for(user) -> list[Section]:
    roles = user_roles(user)
    return [s for s in SECTIONS if s.roles & roles]
