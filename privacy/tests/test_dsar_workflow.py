"""The steps around a DSAR's job: identity verification before approval, rejection and
cancellation with a reason, deadline extensions, the overdue queue and its countdown, the
completion certificate, and audit details as text; on the pages, the API and the command."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from privacy import services
from privacy.models import AuditEvent, DsarRequest, DsarTableResult
from privacy.tests.builders import busy_subject
from privacy.tests.conftest import previewed

pytestmark = pytest.mark.django_db

SUBJECT = "idn_00000000a5a7"


def filed(alice, kind: str = "erasure", reason: str = "asked by mail") -> DsarRequest:
    dsar = services.dsar_file(
        kind=kind, identity_id=SUBJECT, reason=reason, requester=alice, enqueue=False
    )
    previewed(dsar.pk)
    return dsar


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_approval_needs_a_recorded_verification(privacy_users):
    alice, bob = privacy_users
    dsar = filed(alice)
    with pytest.raises(services.DsarRefused, match="identity was verified"):
        services.dsar_approve(request_id=dsar.pk, approver=bob)
    with pytest.raises(Exception, match="method"):
        services.dsar_verify(request_id=dsar.pk, method="gut_feeling", actor=alice)
    with pytest.raises(Exception, match="note"):  # an agent's mandate is described
        services.dsar_verify(request_id=dsar.pk, method="authorised_agent", actor=alice)
    verified = services.dsar_verify(
        request_id=dsar.pk, method="id_document", note=f"video call, {SUBJECT} shown", actor=alice
    )
    assert verified.verified_by == alice and verified.verified_at is not None
    assert services.dsar_approve(request_id=dsar.pk, approver=bob).status == "approved"
    with pytest.raises(services.DsarRefused, match="verify before approval"):
        services.dsar_verify(request_id=dsar.pk, method="id_document", actor=alice)
    event = AuditEvent.objects.get(action="dsar.identity_verified")
    assert event.actor == "priv-alice" and event.detail["method"] == "id_document"
    assert SUBJECT not in json.dumps(event.detail)


@pytest.mark.parametrize("status", ["rejected", "cancelled"])
def test_a_request_closed_with_a_reason_never_runs(privacy_users, status):
    alice, bob = privacy_users
    dsar = filed(alice)
    with pytest.raises(Exception, match="reason"):
        services.dsar_close(request_id=dsar.pk, status=status, reason="  ", actor=bob)
    closed = services.dsar_close(
        request_id=dsar.pk, status=status, reason=f"no proof that {SUBJECT} is theirs", actor=bob
    )
    assert closed.status == status and closed.is_closed and closed.finished_at
    # Nothing will run: the ids are forgotten, from the reason typed too (the hash stays).
    closed.refresh_from_db()
    assert closed.identity_id == "" and closed.identity_hash
    assert closed.close_reason == "no proof that [id] is theirs"
    assert SUBJECT not in json.dumps(list(AuditEvent.objects.values("detail")))
    assert closed.closed_by == bob and not closed.is_overdue
    with pytest.raises(services.DsarRefused, match="nothing runs"):
        services.dsar_queue(request_id=dsar.pk, enqueue=False)
    with pytest.raises(services.DsarRefused, match="closed"):
        services.dsar_close(request_id=dsar.pk, status=status, reason="again", actor=bob)
    assert AuditEvent.objects.filter(action=f"dsar.{status}").count() == 1


def test_a_request_that_ran_cannot_be_rejected(privacy_users):
    alice, bob = privacy_users
    dsar = filed(alice)
    DsarRequest.objects.filter(pk=dsar.pk).update(status="failed")
    with pytest.raises(services.DsarRefused, match="has not run"):
        services.dsar_close(request_id=dsar.pk, status="cancelled", reason="r", actor=bob)


def test_extensions_move_the_due_date_up_to_the_limit(privacy_users, settings):
    settings.PRIVACY_DSAR_MAX_EXTENSION_DAYS = 60
    alice, _ = privacy_users
    dsar = filed(alice)
    due = dsar.due_date
    assert dsar.days_left == settings.PRIVACY_DSAR_DUE_DAYS
    with pytest.raises(Exception, match="reason"):
        services.dsar_extend(request_id=dsar.pk, days=10, reason="", actor=alice)
    longer = services.dsar_extend(
        request_id=dsar.pk, days=45, reason="the subject's data spans 3 systems", actor=alice
    )
    assert longer.due_date == due + timedelta(days=45) and longer.extended_days == 45
    with pytest.raises(Exception, match="1 to 15 days"):
        services.dsar_extend(request_id=dsar.pk, days=16, reason="more", actor=alice)
    services.dsar_extend(request_id=dsar.pk, days=15, reason="more", actor=alice)
    with pytest.raises(Exception, match="as far as it may be"):
        services.dsar_extend(request_id=dsar.pk, days=1, reason="more", actor=alice)
    detail = AuditEvent.objects.filter(action="dsar.extended").first().detail
    assert detail["was_due"] == due.isoformat() and detail["days"] == 45


def test_the_overdue_queue_and_the_countdown(privacy_users):
    alice, bob = privacy_users
    today = timezone.now().date()
    late, soon, later, done = (filed(alice) for _ in range(4))
    DsarRequest.objects.filter(pk=late.pk).update(due_date=today - timedelta(days=3))
    DsarRequest.objects.filter(pk=soon.pk).update(due_date=today + timedelta(days=2))
    DsarRequest.objects.filter(pk=done.pk).update(
        due_date=today - timedelta(days=9), status="completed"
    )
    page = client_for(bob).get("/privacy/dsar/?queue=overdue")
    assert [r.pk for r in page.context["requests"]] == [late.pk]
    assert "3 days overdue" in page.content.decode()
    assert page.context["counts"] == {"open": 3, "overdue": 1, "closed": 1, "all": 4}
    opened = client_for(bob).get("/privacy/dsar/")  # open, soonest due first
    assert [r.pk for r in opened.context["requests"]] == [late.pk, soon.pk, later.pk]
    assert "2 days left" in opened.content.decode()
    api = client_for(bob).get("/api/privacy/dsar/?queue=overdue").json()["requests"]
    assert [(r["id"], r["days_left"], r["overdue"]) for r in api] == [(late.pk, -3, True)]
    assert client_for(bob).get("/api/privacy/dsar/?queue=late").status_code == 400
    home = client_for(bob).get("/privacy/").content.decode()
    assert "3 open" in home and "1 overdue" in home


def test_steps_on_the_page_with_errors_named(privacy_users):
    alice, bob = privacy_users
    dsar = filed(alice)
    page = client_for(alice).get(f"/privacy/dsar/{dsar.pk}/")
    assert "not yet; approval waits for it" in page.content.decode()
    assert page.context["can_approve"] is False
    bad = client_for(alice).post(f"/privacy/dsar/{dsar.pk}/verify", {"method": "authorised_agent"})
    assert bad.status_code == 400 and bad.context["verify_form"].errors["note"]
    ok = client_for(alice).post(f"/privacy/dsar/{dsar.pk}/verify", {"method": "account_login"})
    assert ok.status_code == 302
    assert client_for(bob).get(f"/privacy/dsar/{dsar.pk}/").context["can_approve"] is True
    too_long = client_for(bob).post(f"/privacy/dsar/{dsar.pk}/extend", {"days": 61, "reason": "x"})
    assert too_long.status_code == 400 and too_long.context["extend_form"].errors["days"]
    client_for(bob).post(f"/privacy/dsar/{dsar.pk}/extend", {"days": 20, "reason": "backlog"})
    shown = client_for(bob).get(f"/privacy/dsar/{dsar.pk}/").content.decode()
    assert "extended by 20 days: backlog" in shown and "50 days left" in shown
    # Audit details read as text (in the order the database keeps the keys: jsonb sorts them).
    audit = shown.split("Audit log")[1]
    assert "days: 20;" in audit and "was due: " in audit and "{" not in audit
    client_for(bob).post(f"/privacy/dsar/{dsar.pk}/close", {"status": "rejected", "reason": "dup"})
    closed = DsarRequest.objects.get(pk=dsar.pk)
    assert closed.status == "rejected" and closed.close_reason == "dup"
    again = client_for(bob).get(f"/privacy/dsar/{dsar.pk}/")
    assert again.context["close_form"] is None and again.context["extend_form"] is None


def test_steps_through_the_api(privacy_users):
    alice, _ = privacy_users
    api = client_for(alice)
    body = api.post(
        "/api/privacy/dsar/",
        {"kind": "access", "identity_id": SUBJECT, "reason": "copy please"},
        content_type="application/json",
    ).json()
    assert body["kind"] == "access" and body["verification"] is None and body["days_left"] == 30
    url = f"/api/privacy/dsar/{body['id']}"
    bad = api.post(f"{url}/verify", {"method": "nope"}, content_type="application/json")
    assert bad.status_code == 400 and "method" in bad.json()
    verified = api.post(f"{url}/verify", {"method": "account_login"}, "application/json").json()
    assert verified["verification"]["by"] == "priv-alice"
    long = api.post(f"{url}/extend", {"days": 99, "reason": "x"}, "application/json")
    assert long.status_code == 400 and "days" in long.json()
    cancelled = api.post(f"{url}/cancel", {"reason": "withdrawn"}, "application/json")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = api.post(f"{url}/reject", {"reason": "x"}, "application/json")
    assert again.status_code == 409 and "closed" in again.json()["detail"]
    assert api.get(f"{url}/export").status_code == 404


def test_the_certificate_says_what_was_done_without_ids_or_names(privacy_users):
    alice, bob = privacy_users
    dsar = filed(alice, reason=f"mail from {SUBJECT}")
    services.dsar_verify(request_id=dsar.pk, method="email_confirmation", actor=alice)
    services.dsar_approve(request_id=dsar.pk, approver=bob)
    assert client_for(bob).get(f"/privacy/dsar/{dsar.pk}/certificate").status_code == 404
    DsarTableResult.objects.create(
        request=dsar, target="lake", table="raw_events", rows_changed=1234, state="done"
    )
    DsarTableResult.objects.create(
        request=dsar, target="lake", table="sessions", rows_changed=0, state="done"
    )
    DsarRequest.objects.filter(pk=dsar.pk).update(
        status="completed",
        finished_at=timezone.now(),
        rows_changed=1234,
        files_rewritten=7,
        linked_count=2,
        identity_id="",
        identity_hash=dsar.identity_hash,
    )
    services.audit_log(action="dsar.verified", actor="dsar-job", request=dsar)
    page = client_for(bob).get(f"/privacy/dsar/{dsar.pk}/certificate")
    text = client_for(bob).get(f"/privacy/dsar/{dsar.pk}/certificate?format=txt")
    assert text["Content-Type"].startswith("text/plain")
    article = page.content.decode().split('<article class="certificate"')[1].split("</article>")[0]
    for body in (article, text.content.decode()):
        assert "1,234 records in 7 files" in body and "2 other identifiers" in body
        assert "raw_events (lake): 1,234 records" in body and "sessions" not in body
        assert "A second search afterwards found no record holding them." in body
        assert "closed on time" in body
        for secret in (SUBJECT, dsar.identity_hash, "priv-alice", "priv-bob"):
            assert secret not in body
    assert "<" not in text.content.decode()


def test_the_command_files_verifies_and_rejects(privacy_users, lake_copy):
    identity_id, _ = busy_subject(lake_copy)
    out = StringIO()
    call_command(
        "dsar", "file", "--type", "access", "--identity-id", identity_id,
        "--reason", "copy", "--requester", "priv-alice", stdout=out, stderr=StringIO(),
    )  # fmt: skip
    request_id = int(out.getvalue().split()[0])
    assert DsarRequest.objects.get(pk=request_id).kind == "access"
    call_command(
        "dsar", "verify", str(request_id), "--method", "account_login", "--by", "priv-alice",
        stdout=StringIO(),
    )  # fmt: skip
    with pytest.raises(CommandError, match="days: Extend by 1 to 60"):
        call_command(
            "dsar", "extend", str(request_id), "--days", "90", "--reason", "x", "--by", "priv-bob"
        )
    call_command(
        "dsar", "reject", str(request_id), "--reason", "duplicate", "--by", "priv-bob",
        stdout=StringIO(),
    )  # fmt: skip
    assert DsarRequest.objects.get(pk=request_id).status == "rejected"
