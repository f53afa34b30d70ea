"""/api/privacy/dsar/: file, approve (not one's own), run (only approved), show."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from privacy.dsar_preview import dsar_preview_compute
from privacy.models import AuditEvent, DsarRequest
from privacy.tests.builders import RUN_ANSWERS, busy_subject, request_in
from tests.support.users import user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(privacy_users) -> Client:
    client = Client()
    client.force_login(privacy_users[0])
    return client


@pytest.fixture
def bob(privacy_users) -> Client:
    client = Client()
    client.force_login(privacy_users[1])
    return client


def file(client: Client, **body):
    return client.post("/api/privacy/dsar/", body, content_type="application/json")


def test_file_approve_run_by_two_privacy_users(
    alice, bob, lake_copy, django_capture_on_commit_callbacks
):
    identity_id, _ = busy_subject(lake_copy)
    with django_capture_on_commit_callbacks() as scans:
        filed = file(alice, identity_id=identity_id, reason="asked by email")
    assert filed.status_code == 201, filed.json()
    body = filed.json()
    assert body["status"] == "filed" and body["requester"] == "priv-alice"
    assert body["due_date"] == (timezone.now().date() + timedelta(days=30)).isoformat()
    assert body["has_identity_id"] and not body["has_user_id"]
    assert identity_id not in filed.content.decode()  # the API shows hashes, not ids
    request_id = body["id"]
    assert len(scans) == 1 and body["preview"] is None  # the preview scan, sent on commit
    early = bob.post(f"/api/privacy/dsar/{request_id}/approve")
    assert early.status_code == 409 and "no preview yet" in early.json()["detail"]
    dsar_preview_compute(request_id=request_id)  # what the worker does with it
    preview = alice.get(f"/api/privacy/dsar/{request_id}").json()["preview"]
    assert preview["rows"] > 0 and preview["files"] > 0 and preview["unknown_ids"] == []
    assert preview["tables"] and identity_id not in str(preview)

    assert alice.post(f"/api/privacy/dsar/{request_id}/run").status_code == 409
    unverified = bob.post(f"/api/privacy/dsar/{request_id}/approve")
    assert unverified.status_code == 409 and "verified" in unverified.json()["detail"]
    verify = {"method": "id_document", "note": "checked on a call"}
    verified = alice.post(f"/api/privacy/dsar/{request_id}/verify", verify, "application/json")
    assert verified.json()["verification"]["method"] == "id_document"
    own = alice.post(f"/api/privacy/dsar/{request_id}/approve")
    assert own.status_code == 403 and "someone other" in own.json()["detail"]
    approved = bob.post(f"/api/privacy/dsar/{request_id}/approve")
    assert approved.status_code == 200 and approved.json()["approved_by"] == "priv-bob"
    assert bob.post(f"/api/privacy/dsar/{request_id}/approve").status_code == 409

    with django_capture_on_commit_callbacks() as callbacks:
        queued = alice.post(f"/api/privacy/dsar/{request_id}/run")
        again = bob.post(f"/api/privacy/dsar/{request_id}/run")
    assert queued.status_code == 202 and queued.json()["status"] == "queued"
    assert len(callbacks) == 1  # the Celery job, sent once the transaction commits
    assert again.status_code == 409 and "already queued" in again.json()["detail"]

    listed = alice.get("/api/privacy/dsar/").json()["requests"]
    assert [r["id"] for r in listed] == [request_id]
    actions = list(
        AuditEvent.objects.filter(action__startswith="dsar.").values_list("action", "actor")
    )
    assert actions == [
        ("dsar.filed", "priv-alice"),
        ("dsar.previewed", "dsar-preview"),
        ("dsar.identity_verified", "priv-alice"),
        ("dsar.approved", "priv-bob"),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "no ids"}, "identity_id"),
        ({"identity_id": "", "user_id": " ", "reason": "blank ids"}, "identity_id"),
        ({"identity_id": "idn 1", "reason": "a space"}, "identity_id"),
        # A city name is no identity: erasing it replaced "leipzig" in other people's data.
        ({"identity_id": "leipzig", "reason": "not an id"}, "identity_id"),
        ({"user_id": "idn_3fa9c01b2e7d", "reason": "an identity id as user id"}, "user_id"),
        ({"user_id": "usr_3FA9C01B2E7D", "reason": "upper case"}, "user_id"),
        ({"user_id": "usr_1"}, "reason"),
    ],
)
def test_bad_requests_are_400_naming_the_field(alice, body, field):
    answer = file(alice, **body)
    assert answer.status_code == 400
    assert field in answer.json()
    assert not DsarRequest.objects.exists()
    if body.get(field, "").strip():
        assert "lake contract" in answer.json()[field][0]


def test_only_the_privacy_team_and_admins_see_requests(alice, client):
    request_id = file(alice, user_id="usr_000000005ec7", reason="r").json()["id"]
    for role in ("analyst", "pm", "support", "finance"):
        client.force_login(user_with_role(role))
        for url in ("/api/privacy/dsar/", f"/api/privacy/dsar/{request_id}"):
            answer = client.get(url)
            assert answer.status_code == 403
            assert "usr_" not in answer.content.decode()
        assert file(client, user_id="usr_x", reason="r").status_code == 403
    client.force_login(user_with_role("admin"))
    assert client.get(f"/api/privacy/dsar/{request_id}").json()["has_user_id"] is True
    assert Client().get("/api/privacy/dsar/").status_code in (401, 403)


def test_unknown_request_is_404(alice):
    assert alice.get("/api/privacy/dsar/999").status_code == 404
    assert alice.post("/api/privacy/dsar/999/approve").status_code == 404


@pytest.mark.parametrize(("state", "answer"), RUN_ANSWERS, ids=lambda v: str(v))
def test_run_queues_only_what_may_run_and_says_why_not(
    alice, privacy_users, settings, django_capture_on_commit_callbacks, state, answer
):
    settings.PRIVACY_DSAR_STALE_SECONDS = 60
    dsar = request_in(privacy_users, *state)
    status, words = answer
    with django_capture_on_commit_callbacks() as jobs:
        response = alice.post(f"/api/privacy/dsar/{dsar.pk}/run")
    assert response.status_code == status, response.json()
    after = DsarRequest.objects.get(pk=dsar.pk)
    if status == 202:
        assert response.json()["status"] == after.status == "queued" and len(jobs) == 1
    else:
        assert words in response.json()["detail"]
        assert after.status == dsar.status and not jobs  # nothing changed, nothing sent


def test_the_preview_is_scanned_again_while_filed_only(
    alice, privacy_users, django_capture_on_commit_callbacks
):
    dsar = request_in(privacy_users, "filed")
    with django_capture_on_commit_callbacks() as scans:
        again = alice.post(f"/api/privacy/dsar/{dsar.pk}/preview")
    assert again.status_code == 202 and len(scans) == 1
    assert again.json()["preview"]["rows"] == 1  # the last scan's, shown until the new one
    approved = request_in(privacy_users, "approved")
    with django_capture_on_commit_callbacks() as scans:
        refused = alice.post(f"/api/privacy/dsar/{approved.pk}/preview")
    assert refused.status_code == 409 and "its preview is final" in refused.json()["detail"]
    assert not scans
