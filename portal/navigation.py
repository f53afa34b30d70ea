"""The top navigation: each section and the capability that sees it (none: every role).

Hiding a link is only convenience; every page checks access itself.
"""

from dataclasses import dataclass

from portal.roles import CAPABILITIES, Capability, Role, user_roles


@dataclass(frozen=True)
class Section:
    label: str
    path: str
    capability: Capability | None = None

    @property
    def roles(self) -> frozenset[Role]:
        if self.capability is None:
            return frozenset(Role)
        return CAPABILITIES[self.capability].roles


SECTIONS = (
    Section("Dashboards", "/dashboards/"),
    Section("Metrics", "/metrics/"),
    Section("Explore", "/explore/"),
    Section("Experiments", "/experiments/", Capability.EXPERIMENTS_READ),
    Section("Pipeline", "/pipeline/", Capability.PIPELINE_READ),
    Section("Support", "/support/", Capability.SUPPORT_VIEWS),
    Section("Finance", "/finance/", Capability.FINANCE_VIEWS),
    Section("Privacy", "/privacy/", Capability.PRIVACY),
    Section("Alerts", "/alerts/"),
    Section("Query runs", "/runs/"),
)


def sections_for(user) -> list[Section]:
    roles = user_roles(user)
    return [s for s in SECTIONS if s.roles & roles]
