"""Writing notes. Anyone who reads charts may write one; only its author changes or deletes it."""

from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.db import transaction

from annotations.models import TEXT_MAX, Note
from annotations.selectors import dashboard_metrics, may_edit, metric_checked
from core.errors import InputError

NOT_THE_AUTHOR = "Only its author may change or delete a note."
# Beyond these a date is a typo, and no chart of the portal reaches it.
FIRST_YEAR, LAST_YEAR = 2000, 2100


@transaction.atomic
def note_create(*, author, at: datetime, text: str, metric: str = "", dashboard: str = "") -> Note:
    """A note on every chart, or on one metric's or one dashboard's (one the author may read)."""
    if metric and dashboard:
        raise InputError("dashboard", "a note is on one metric or one dashboard, not both")
    if metric:
        metric_checked(metric, author)
    if dashboard:
        dashboard_metrics(dashboard, author)
    note = Note(author=author, at=_checked_at(at), text=_checked_text(text))
    note.metric, note.dashboard = metric, dashboard
    note.save()
    return note


@transaction.atomic
def note_update(*, note: Note, user, at: datetime | None = None, text: str | None = None) -> Note:
    note = _locked(note)
    if not may_edit(note, user):
        raise PermissionDenied(NOT_THE_AUTHOR)
    if at is not None:
        note.at = _checked_at(at)
    if text is not None:
        note.text = _checked_text(text)
    note.save()
    return note


@transaction.atomic
def note_delete(*, note: Note, user) -> None:
    note = _locked(note)
    if not may_edit(note, user):
        raise PermissionDenied(NOT_THE_AUTHOR)
    note.delete()


def _locked(note: Note) -> Note:
    return Note.objects.select_for_update(of=("self",)).select_related("author").get(pk=note.pk)


def _checked_at(at: datetime) -> datetime:
    if not FIRST_YEAR <= at.year <= LAST_YEAR:
        raise InputError("at", f"a date between {FIRST_YEAR} and {LAST_YEAR}")
    return at


def _checked_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise InputError("text", "write something")
    if len(text) > TEXT_MAX:
        raise InputError("text", f"at most {TEXT_MAX} characters (this has {len(text)})")
    return text
