"""What the charts mark on their time axis: experiment launches, kills and conclusions, pipeline
alarms and people's notes, each only for users who may open what it is about.

Experiment events come from a source the experiments app registers (ExperimentsConfig.ready),
and which metrics and dashboards a user may read from the metrics app (MetricsConfig.ready):
this app marks the charts of experiments and of pipeline health (which metric pages read), so it
may import neither. Pipeline alarms are the alerts of source "pipeline", read as
alerts.selectors lets the user read them.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from alerts.selectors import alerts_visible
from annotations.models import Note
from core.errors import InputError

LABELS = {
    "experiment_launch": "Experiment launched",
    "experiment_kill": "Experiment killed",
    "experiment_conclusion": "Experiment concluded",
    "alarm_raised": "Pipeline alarm",
    "alarm_resolved": "Pipeline alarm resolved",
    "note": "Note",
}
PIPELINE = "pipeline"


@dataclass(frozen=True)
class Annotation:
    kind: str  # a key of LABELS
    at: datetime
    title: str  # the experiment's name, the alarm's title, the note's author
    text: str = ""  # kill reason, conclusion, alarm detail, the note itself
    link: str = ""
    note: Note | None = None

    @property
    def label(self) -> str:
        return LABELS[self.kind]


@dataclass(frozen=True)
class _Source:
    may_see: Callable[[Any], bool]
    events: Callable[[datetime, datetime], Iterable[Annotation]]


_SOURCES: dict[str, _Source] = {}
# "metric": slug, user -> whether the user may read it; "dashboard": slug, user -> the slugs of
# the metrics of its tiles the user may read, or None if they may read none of it.
_SCOPES: dict[str, Callable[[str, Any], Any]] = {}


def annotation_source_register(
    *,
    name: str,
    may_see: Callable[[Any], bool],
    events: Callable[[datetime, datetime], Iterable[Annotation]],
) -> None:
    """``events(start, end)``: the source's annotations at start <= at < end, for users for
    whom ``may_see(user)``."""
    _SOURCES[name] = _Source(may_see=may_see, events=events)


def note_scopes_register(
    *,
    metric: Callable[[str, Any], bool],
    dashboard: Callable[[str, Any], list[str] | None],
) -> None:
    _SCOPES["metric"], _SCOPES["dashboard"] = metric, dashboard


def metric_checked(slug: str, user) -> None:
    """InputError unless ``user`` may read the metric (unknown and unreadable alike)."""
    if "metric" not in _SCOPES or not _SCOPES["metric"](slug, user):
        raise InputError("metric", f"no metric {slug!r}")


def dashboard_metrics(slug: str, user) -> list[str]:
    """The metrics of the dashboard's tiles ``user`` may read; InputError if none."""
    found = _SCOPES["dashboard"](slug, user) if "dashboard" in _SCOPES else None
    if found is None:
        raise InputError("dashboard", f"no dashboard {slug!r}")
    return found


def bounds(start: date | datetime, end: date | datetime) -> tuple[datetime, datetime]:
    """[start, end) as aware datetimes: a date end counts its whole day."""
    if not isinstance(start, datetime):
        start = timezone.make_aware(datetime.combine(start, time()))
    if not isinstance(end, datetime):
        end = timezone.make_aware(datetime.combine(end + timedelta(days=1), time()))
    return start, end


def annotations_in(
    *,
    start: date | datetime,
    end: date | datetime,
    user,
    metric: str = "",
    dashboard: str = "",
) -> list[Annotation]:
    """Everything ``user`` may see between start and end (dates are whole days), by time.

    Notes: those on every chart, plus those of ``metric``, or of ``dashboard`` and of the
    metrics of its tiles the user may read (each note says its metric: a tile shows its own).
    InputError naming the field when the user may not read the metric or dashboard named."""
    start, end = bounds(start, end)
    found: list[Annotation] = []
    for source in _SOURCES.values():
        if source.may_see(user):
            found += source.events(start, end)
    found += _alarms(start, end, user)
    found += [_from_note(n) for n in notes_in(start, end, user, metric, dashboard)]
    return sorted(found, key=lambda a: (a.at, a.kind))


def _alarms(start: datetime, end: datetime, user) -> list[Annotation]:
    alerts = alerts_visible(source=PIPELINE, user=user).filter(
        Q(opened_at__gte=start, opened_at__lt=end) | Q(closed_at__gte=start, closed_at__lt=end)
    )
    found = []
    for alert in alerts.only("title", "detail", "link", "severity", "opened_at", "closed_at"):
        title = f"{alert.title} ({alert.severity})"
        if start <= alert.opened_at < end:
            found.append(
                Annotation("alarm_raised", alert.opened_at, title, alert.detail, "/alerts/")
            )
        if alert.closed_at is not None and start <= alert.closed_at < end:
            found.append(Annotation("alarm_resolved", alert.closed_at, title, "", "/alerts/"))
    return found


def notes_in(
    start: datetime, end: datetime, user, metric: str = "", dashboard: str = ""
) -> QuerySet[Note]:
    scope = Q(metric="", dashboard="")
    if metric:
        metric_checked(metric, user)
        scope |= Q(metric=metric)
    elif dashboard:
        slugs = dashboard_metrics(dashboard, user)
        scope |= Q(dashboard=dashboard) | Q(metric__in=slugs)
    notes = Note.objects.filter(scope, at__gte=start, at__lt=end)
    return notes.select_related("author").order_by("at", "id")


def note_visible(note_id: int, user) -> Note | None:
    """The note, if ``user`` may read what it is on (every chart, or its metric or dashboard)."""
    note = Note.objects.select_related("author").filter(pk=note_id).first()
    if note is None:
        return None
    try:
        if note.metric:
            metric_checked(note.metric, user)
        elif note.dashboard:
            dashboard_metrics(note.dashboard, user)
    except InputError:
        return None
    return note


def _from_note(note: Note) -> Annotation:
    return Annotation("note", note.at, note.author.get_username(), note.text, note=note)


def may_edit(note: Note, user) -> bool:
    return note.author_id == user.pk
