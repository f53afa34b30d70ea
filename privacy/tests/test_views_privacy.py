"""The privacy team's pages: consent look-up and change, DSAR filing/approval/progress,
the PII allowlist, retention and the audit log."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from core.pii import ALLOWED_PII_KEYS
from privacy import services
from privacy.models import ConsentChange, DsarRequest, PayloadScan
from privacy.tests.builders import RUN_ANSWERS, request_in
from privacy.tests.conftest import previewed
from tests.support.users import user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(privacy_users) -> Client:
    client = Client()
    client.force_login(privacy_users[0])
    return client


def test_consent_lookup_shows_state_and_history_and_records_a_change(
    alice, django_capture_on_commit_callbacks
):
    services.consent_set(
        identity_id="idn_7", flags={"marketing": True}, source="banner", actor="app"
    )
    page = alice.get("/privacy/consent/?identity_id=idn_7")
    assert page.status_code == 200
    assert page.context["consent"]["marketing"] is True
    assert [c.source for c in page.context["history"]] == ["banner"]

    with django_capture_on_commit_callbacks(execute=True):
        changed = alice.post(
            "/privacy/consent/", {"identity_id": "idn_7", "flag": "marketing", "value": "false"}
        )
    assert changed.status_code == 302
    after = alice.get(changed["Location"])
    assert after.context["consent"]["marketing"] is False
    latest = ConsentChange.objects.first()
    assert (latest.source, latest.actor, latest.value) == ("privacy_team", "priv-alice", False)


def test_consent_lookup_of_an_unknown_identity_and_bad_input(alice):
    page = alice.get("/privacy/consent/?identity_id=idn_unseen")
    assert "No consent recorded for this identity" in page.content.decode()
    bad = alice.post("/privacy/consent/", {"identity_id": "idn_7", "flag": "ads", "value": "true"})
    assert bad.status_code == 400 and not ConsentChange.objects.exists()
    assert alice.get("/privacy/consent/?identity_id=a b").context["lookup"].errors


def test_dsar_filed_approved_and_run_from_the_pages(
    alice, privacy_users, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as scans:
        filed = alice.post("/privacy/dsar/", {"identity_id": "idn_000000000008", "reason": "asked"})
    assert filed.status_code == 302 and len(scans) == 1  # the preview scan
    dsar = DsarRequest.objects.get()
    bob = Client()
    bob.force_login(privacy_users[1])
    waiting = bob.get(f"/privacy/dsar/{dsar.pk}/")
    assert waiting.context["can_approve"] is False  # nothing to approve on yet
    assert "Approval waits for it" in waiting.content.decode()
    assert 'data-waiting-preview="1"' in waiting.content.decode()
    previewed(dsar.pk)
    page = alice.get(f"/privacy/dsar/{dsar.pk}/")
    assert page.context["can_approve"] is False  # not one's own
    assert ">Approve</button>" not in page.content.decode()
    alice.post(f"/privacy/dsar/{dsar.pk}/approve")
    assert DsarRequest.objects.get().status == "filed"

    preview = bob.get(f"/privacy/dsar/{dsar.pk}/")
    assert preview.context["can_approve"] is True
    shown = preview.content.decode()
    assert "<strong>1</strong> rows in <strong>1</strong> files of 1 tables" in shown
    assert "<td>raw_events</td>" in shown and ">Scan again</button>" in shown
    bob.post(f"/privacy/dsar/{dsar.pk}/approve")
    with django_capture_on_commit_callbacks() as jobs:
        bob.post(f"/privacy/dsar/{dsar.pk}/run")
    assert DsarRequest.objects.get().status == "queued" and len(jobs) == 1
    running = bob.get(f"/privacy/dsar/{dsar.pk}/").content.decode()
    assert "privacy/dsar.js" in running and f"/api/privacy/dsar/{dsar.pk}" in running
    assert "looked up in dim_identities when the job starts" in running
    DsarRequest.objects.filter(pk=dsar.pk).update(linked_count=3)
    assert "3 found in dim_identities" in bob.get(f"/privacy/dsar/{dsar.pk}/").content.decode()


def test_dsar_form_needs_an_id(alice):
    page = alice.post("/privacy/dsar/", {"reason": "asked"})
    assert page.status_code == 400
    assert "Give an identity_id, a user_id or both." in page.content.decode()
    assert not DsarRequest.objects.exists()


def test_dsar_form_refuses_what_is_not_an_id_of_the_lake(alice):
    page = alice.post("/privacy/dsar/", {"identity_id": "leipzig", "reason": "asked"})
    assert page.status_code == 400
    assert page.context["form"].errors["identity_id"] == [
        "Not an id of the lake contract: use idn_ followed by 12 lower-case hex digits, "
        "e.g. idn_3fa9c01b2e7d."
    ]
    assert not DsarRequest.objects.exists()


def test_pii_page_shows_the_allowlist_and_queues_a_check(
    alice, lake_settings, eager_celery, django_capture_on_commit_callbacks
):
    page = alice.get("/privacy/pii/").content.decode()
    assert all(f"<code>{key}</code>" in page for key in ALLOWED_PII_KEYS)
    with django_capture_on_commit_callbacks(execute=True):
        queued = alice.post("/privacy/pii/", {"start": "2026-01-18", "end": "2026-01-31"})
    assert queued.status_code == 302
    # The check ran (eagerly here: no worker); its result is on the page.
    scan = PayloadScan.objects.get()
    assert "email" in alice.get("/privacy/pii/").content.decode()
    assert [v["key"] for v in scan.violations if v["event_name"] == "page_view"] == ["email"]


def test_retention_and_audit_pages(alice, lake_settings):
    retention = alice.get("/privacy/retention/").content.decode()
    assert "raw_events" in retention and "forever" in retention
    assert alice.get("/privacy/audit/").status_code == 200


@pytest.mark.parametrize("role", ["analyst", "pm", "support", "finance"])
def test_other_roles_get_403(client, role, privacy_users):
    services.consent_set(identity_id="idn_9", flags={"marketing": True}, source="api", actor="a")
    client.force_login(user_with_role(role))
    for url in ("/privacy/", "/privacy/consent/?identity_id=idn_9", "/privacy/dsar/"):
        answer = client.get(url)
        assert answer.status_code == 403 and "idn_9" not in answer.content.decode()


@pytest.mark.parametrize(("state", "answer"), RUN_ANSWERS, ids=lambda v: str(v))
def test_run_from_the_page_gives_the_api_answers_as_messages(
    alice, privacy_users, settings, django_capture_on_commit_callbacks, state, answer
):
    settings.PRIVACY_DSAR_STALE_SECONDS = 60
    dsar = request_in(privacy_users, *state)
    status, words = answer
    with django_capture_on_commit_callbacks() as jobs:
        page = alice.post(f"/privacy/dsar/{dsar.pk}/run", follow=True)
    assert page.redirect_chain == [(f"/privacy/dsar/{dsar.pk}/", 302)]
    [message] = page.context["messages"]
    after = DsarRequest.objects.get(pk=dsar.pk)
    if status == 202:
        assert message.level_tag == "success" and "queued" in message.message
        assert after.status == "queued" and len(jobs) == 1
    else:
        assert message.level_tag == "error" and words in message.message
        assert after.status == dsar.status and not jobs


def test_overdue_requests_are_marked_in_the_list(alice, privacy_users):
    today = timezone.now().date()
    due = {
        "overdue_filed": ("filed", today - timedelta(days=1)),
        "overdue_failed": ("failed", today - timedelta(days=3)),
        "overdue_but_completed": ("completed", today - timedelta(days=1)),
        "due_today": ("running", today),
        "due_later": ("approved", today + timedelta(days=10)),
    }
    ids = {}
    for name, (status, due_date) in due.items():
        dsar = services.dsar_file(
            identity_id=f"idn_{len(ids):012x}", reason=name, requester=privacy_users[1]
        )
        DsarRequest.objects.filter(pk=dsar.pk).update(status=status, due_date=due_date)
        ids[name] = dsar.pk
    for url in ("/privacy/dsar/", "/privacy/"):
        html = alice.get(url).content.decode()
        rows = {
            name: html.split(f'href="/privacy/dsar/{pk}/"', 1)[1].split("</tr>", 1)[0]
            for name, pk in ids.items()
        }
        marked = {name for name, row in rows.items() if ">overdue</span>" in row}
        assert marked == {"overdue_filed", "overdue_failed"}, url
        assert html.count(">overdue</span>") == 2
