"""The privacy team's pages: consent look-up and change, DSAR filing/approval/progress,
the PII allowlist, retention and the audit log."""

import pytest
from django.test import Client

from privacy import services
from privacy.models import ConsentChange, DsarRequest, PayloadScan
from privacy.pii import ALLOWED_PII_KEYS
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
    filed = alice.post("/privacy/dsar/", {"identity_id": "idn_8", "reason": "asked"})
    assert filed.status_code == 302
    dsar = DsarRequest.objects.get()
    page = alice.get(f"/privacy/dsar/{dsar.pk}/")
    assert page.context["can_approve"] is False  # not one's own
    assert ">Approve</button>" not in page.content.decode()
    alice.post(f"/privacy/dsar/{dsar.pk}/approve")
    assert DsarRequest.objects.get().status == "filed"

    bob = Client()
    bob.force_login(privacy_users[1])
    assert bob.get(f"/privacy/dsar/{dsar.pk}/").context["can_approve"] is True
    bob.post(f"/privacy/dsar/{dsar.pk}/approve")
    with django_capture_on_commit_callbacks() as jobs:
        bob.post(f"/privacy/dsar/{dsar.pk}/run")
    assert DsarRequest.objects.get().status == "queued" and len(jobs) == 1
    running = bob.get(f"/privacy/dsar/{dsar.pk}/").content.decode()
    assert "privacy/dsar.js" in running and f"/api/privacy/dsar/{dsar.pk}" in running


def test_dsar_form_needs_an_id(alice):
    page = alice.post("/privacy/dsar/", {"reason": "asked"})
    assert page.status_code == 400
    assert "Give an identity_id, a user_id or both." in page.content.decode()
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
