"""The notes block's tag (templates/annotations/_notes.html): whether the person may write a note
where the block is, on what, and the window its list shows."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django import template
from django.utils import timezone

from annotations.selectors import dashboard_metrics, metric_checked
from core.errors import InputError
from portal.permissions import IsPortalUser

register = template.Library()


@dataclass(frozen=True)
class NotesOffer:
    scopes: tuple[tuple[str, str], ...]  # (the form's scope value, its label), first the default
    metric: str  # the page's metric or dashboard, if the person may write notes on it
    dashboard: str
    start: date
    end: date


@register.simple_tag(takes_context=True)
def notes_offer(
    context,
    *,
    metric: str = "",
    chart: Any = None,
    dashboard: str = "",
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
    days: int | None = None,
) -> NotesOffer | None:
    """The scopes the person may write a note on, decided as the notes API decides them
    (annotations.api.note_create): any portal user on every chart, a metric or dashboard only by
    those who may read it; None when the API would take no note from them. The window: start to
    end (a metric page's: its chart's), or the ``days`` before end (end defaults to today)."""
    request = context.get("request")
    if request is None or not IsPortalUser().has_permission(request, None):
        return None
    user = request.user
    scopes = []
    if dashboard:
        try:
            dashboard_metrics(dashboard, user)
            scopes.append(("dashboard", "this dashboard"))
        except InputError:
            dashboard = ""
    elif metric:
        try:
            metric_checked(metric, user)
            scopes.append(("metric", "this metric"))
        except InputError:
            metric = ""
    scopes.append(("global", "every chart"))
    if chart:
        start, end = start or chart.start, end or chart.end
    last = _day(end) or timezone.localdate()
    first = last - timedelta(days=days) if days else (_day(start) or last)
    return NotesOffer(tuple(scopes), metric, dashboard, first, last)


def _day(value: date | datetime | str | None) -> date | None:
    """A day of a page's context: an ISO string (a form's), a date, or a time (in UTC, the
    charts' days)."""
    if not value:
        return None
    if isinstance(value, datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
