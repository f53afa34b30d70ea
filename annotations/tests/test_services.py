from datetime import UTC, datetime

import pytest
from django.core.exceptions import PermissionDenied

from annotations.models import Note
from annotations.services import note_create, note_delete, note_update
from core.errors import InputError
from tests.support.users import user_with_role

AT = datetime(2026, 1, 20, 9, 30, tzinfo=UTC)


def test_a_note_is_written_on_every_chart_a_metric_or_a_dashboard(ana):
    everywhere = note_create(author=ana, at=AT, text="  Campaign live  ")
    metric = note_create(author=ana, at=AT, text="Tracking fix", metric="seo_nonbrand_clicks")
    board = note_create(author=ana, at=AT, text="Board note", dashboard="growth")
    assert (everywhere.text, everywhere.metric, everywhere.dashboard) == ("Campaign live", "", "")
    assert (metric.metric, board.dashboard) == ("seo_nonbrand_clicks", "growth")
    assert Note.objects.count() == 3


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"text": "   "}, "text"),
        ({"text": "x" * 1001}, "text"),
        ({"at": datetime(1999, 12, 31, tzinfo=UTC)}, "at"),
        ({"metric": "no_such_metric"}, "metric"),
        # A support metric is unknown to an analyst: a note on it would say it exists.
        ({"metric": "sla_breach_count"}, "metric"),
        ({"dashboard": "nowhere"}, "dashboard"),
        ({"metric": "seo_nonbrand_clicks", "dashboard": "growth"}, "dashboard"),
    ],
)
def test_bad_input_names_its_field(ana, given, field):
    with pytest.raises(InputError) as err:
        note_create(author=ana, **({"at": AT, "text": "ok"} | given))
    assert err.value.field == field
    assert Note.objects.count() == 0


def test_support_writes_on_its_own_metric(db):
    support = user_with_role("support")
    note = note_create(author=support, at=AT, text="Queue outage", metric="sla_breach_count")
    assert note.metric == "sla_breach_count"


def test_only_the_author_changes_or_deletes_a_note(ana, bob):
    note = note_create(author=ana, at=AT, text="First")
    with pytest.raises(PermissionDenied):
        note_update(note=note, user=bob, text="Hijacked")
    with pytest.raises(PermissionDenied):
        note_delete(note=note, user=bob)
    note.refresh_from_db()
    assert note.text == "First"

    later = datetime(2026, 1, 21, tzinfo=UTC)
    changed = note_update(note=note, user=ana, at=later, text="Second")
    note.refresh_from_db()
    assert (note.at, note.text) == (later, "Second") == (changed.at, changed.text)
    note_delete(note=note, user=ana)
    assert not Note.objects.exists()


def test_an_update_checks_what_it_changes(ana):
    note = note_create(author=ana, at=AT, text="First")
    with pytest.raises(InputError) as err:
        note_update(note=note, user=ana, text="")
    assert err.value.field == "text"
    note.refresh_from_db()
    assert note.text == "First"
