from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import F, QuerySet

from alerts.models import Alert
from portal.roles import Capability, may

# Source -> whether a user may open the pages its alerts are about (experiments, pipeline).
# Registered by the apps that raise them (AppConfig.ready); an alert of an unregistered
# source is for admins only.
_SOURCES: dict[str, Callable[[Any], bool]] = {}


def alert_source_register(*, source: str, may_open: Callable[[Any], bool]) -> None:
    _SOURCES[source] = may_open


def alert_sources_for(user) -> list[str]:
    """The registered sources whose alerts ``user`` may read (admins: all of them)."""
    return [source for source, may_open in _SOURCES.items() if may_open(user)]


def alert_readable(alert: Alert, user) -> bool:
    return may(user, Capability.ALERTS_ALL) or alert.source in alert_sources_for(user)


def alerts_visible(*, source: str | None = None, user=None) -> QuerySet[Alert]:
    """The alerts (unordered), with ``user`` only those of sources they may open (jobs pass no
    user: they see all)."""
    alerts = Alert.objects.all()
    if user is not None and not may(user, Capability.ALERTS_ALL):
        alerts = alerts.filter(source__in=alert_sources_for(user))
    if source:
        alerts = alerts.filter(source=source)
    return alerts


def alerts_feed(*, source: str | None = None, user=None, limit: int = 200) -> QuerySet[Alert]:
    """Open alerts first, newest first; then recently closed ones."""
    alerts = alerts_visible(source=source, user=user)
    return alerts.order_by(F("closed_at").asc(nulls_first=True), "-opened_at")[:limit]


def alert_recipients(alert: Alert, addresses: list[str]) -> list[str]:
    """``addresses`` without those of portal users who may not open the alert's source. An
    address of no portal user (a team's list) is the operator's choice and keeps every alert."""
    users = get_user_model().objects.filter(email__in=addresses, is_active=True)
    refused = {u.email for u in users.prefetch_related("groups") if not alert_readable(alert, u)}
    return [address for address in addresses if address not in refused]
