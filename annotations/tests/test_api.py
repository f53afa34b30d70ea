from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from alerts.services import alert_raise
from annotations.models import Note
from annotations.services import note_create
from annotations.tests.clients import NOTES, client_of, send
from experiments import services as experiments
from experiments.tests.builders import running
from tests.support.users import user_with_role

LIST = "/api/annotations"
WINDOW = {"start": "2026-01-01", "end": "2026-01-31"}
AT = datetime(2026, 1, 20, 9, 30, tzinfo=UTC)


def test_a_note_is_written_read_changed_and_deleted_by_its_author(ana, lake_settings):
    client = client_of(ana)
    made = send(client, "post", NOTES, {"at": "2026-01-20", "text": "Campaign live"})
    assert made.status_code == 201
    note = made.json()
    assert note["author"] == "ana" and note["editable"] is True
    assert (note["at"], note["text"], note["metric"]) == (
        "2026-01-20T00:00:00Z",
        "Campaign live",
        "",
    )

    items = client.get(LIST, WINDOW).json()["items"]
    assert [(i["kind"], i["at"], i["title"], i["text"]) for i in items] == [
        ("note", "2026-01-20T00:00:00Z", "ana", "Campaign live")
    ]
    assert items[0]["note"]["id"] == note["id"]

    path = f"{NOTES}/{note['id']}"
    changed = send(
        client, "patch", path, {"text": "Campaign live in DE", "at": "2026-01-21T12:00Z"}
    )
    assert changed.status_code == 200
    assert (changed.json()["text"], changed.json()["at"]) == (
        "Campaign live in DE",
        "2026-01-21T12:00:00Z",
    )
    assert client.get(path).json()["text"] == "Campaign live in DE"
    gone = send(client, "delete", path)
    assert gone.status_code == 200 and gone.json()["text"] == "Campaign live in DE"
    assert not Note.objects.exists()
    assert client.get(path).status_code == 404


def test_someone_elses_note_is_read_only(ana, bob):
    note = note_create(author=ana, at=AT, text="Mine")
    client = client_of(bob)
    seen = client.get(f"{NOTES}/{note.pk}").json()
    assert seen["author"] == "ana" and seen["editable"] is False
    for method, body in (("patch", {"text": "Yours now"}), ("delete", None)):
        answer = send(client, method, f"{NOTES}/{note.pk}", body)
        assert answer.status_code == 403
        assert answer.json() == {"detail": "Only its author may change or delete a note."}
    note.refresh_from_db()
    assert note.text == "Mine"


def test_writes_need_the_csrf_token_and_a_login(ana):
    client = client_of(ana)
    refused = client.post(NOTES, {"at": "2026-01-20", "text": "x"}, content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    anonymous = Client().get(LIST, WINDOW)
    assert anonymous.status_code == 403
    assert not Note.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "no time"}, "at"),
        ({"at": "20 January", "text": "x"}, "at"),
        ({"at": "1999-12-31", "text": "x"}, "at"),
        ({"at": "2026-01-20"}, "text"),
        ({"at": "2026-01-20", "text": "  "}, "text"),
        ({"at": "2026-01-20", "text": "x", "metric": "sla_breach_count"}, "metric"),
        ({"at": "2026-01-20", "text": "x", "dashboard": "nowhere"}, "dashboard"),
    ],
)
def test_bad_notes_are_400_naming_the_field(ana, body, field):
    answer = send(client_of(ana), "post", NOTES, body)
    assert answer.status_code == 400
    assert list(answer.json()) == [field]
    assert not Note.objects.exists()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"end": "2026-01-31"}, "start"),
        ({"start": "2026-01-31", "end": "2026-01-01"}, "end"),
        ({"start": "2000-01-01", "end": "2026-01-01"}, "end"),
        (WINDOW | {"metric": "sla_breach_count"}, "metric"),
        (WINDOW | {"dashboard": "nowhere"}, "dashboard"),
        (WINDOW | {"metric": "refund_rate", "dashboard": "growth"}, "dashboard"),
    ],
)
def test_bad_windows_are_400_naming_the_field(ana, params, field):
    answer = client_of(ana).get(LIST, params)
    assert answer.status_code == 400
    assert list(answer.json()) == [field]


def lifecycle(key: str, day: int) -> None:
    experiment = running(key, started=date(2026, 1, day))
    experiments.experiment_kill(experiment=experiment, user=experiment.owner, reason="Bug")


def test_experiment_names_only_for_roles_that_may_open_experiments(ana, settings):
    lifecycle("exp_secret_name", 12)
    alert_raise(key="lag:silver", source="pipeline", severity="alarm", title="Lag over budget")
    today = {"start": "2026-01-01", "end": datetime.now(UTC).date().isoformat()}
    shown = client_of(ana).get(LIST, today)
    assert "exp_secret_name" in shown.content.decode()
    assert {i["kind"] for i in shown.json()["items"]} == {
        "experiment_launch",
        "experiment_kill",
        "alarm_raised",
    }
    hidden = client_of(user_with_role("support")).get(LIST, today)
    assert hidden.status_code == 200
    assert "exp_secret_name" not in hidden.content.decode()
    assert [i["kind"] for i in hidden.json()["items"]] == ["alarm_raised"]


def test_the_list_costs_the_same_queries_however_many_annotations(
    ana, bob, django_assert_num_queries
):
    client = client_of(ana)
    params = WINDOW | {"dashboard": "growth"}
    lifecycle("exp_one", 10)
    note_create(author=ana, at=AT, text="One", metric="seo_nonbrand_clicks")
    with CaptureQueriesContext(connection) as one:
        assert len(client.get(LIST, params).json()["items"]) == 2
    for i in range(2, 6):
        lifecycle(f"exp_n{i}", 10 + i)
        note_create(author=bob if i % 2 else ana, at=AT, text=f"Note {i}", dashboard="growth")
        alert_raise(key=f"k{i}", source="pipeline", severity="warning", title=f"Alarm {i}")
    # Session, user, their roles; experiments, pipeline alarms, notes with their authors.
    with django_assert_num_queries(6):
        items = client.get(LIST, params | {"end": "2030-01-01"}).json()["items"]
    assert len(one) == 6
    assert len(items) == 5 + 5 + 5 + 4  # launches, kills (today), notes, alarms
