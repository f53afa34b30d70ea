"""The privacy team's pages: consent look-up (what the lake holds) and change (with its proof),
DSAR filing/approval/progress, the PII allowlist, retention and the audit log."""

import json
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from django.test import Client
from django.utils import timezone

from core.pii import ALLOWED_PII_KEYS
from privacy import services
from privacy.models import AuditEvent, ConsentChange, ConsentImport, DsarRequest, PayloadScan
from privacy.tests.builders import RUN_ANSWERS, request_in
from privacy.tests.conftest import previewed, read_table
from privacy.tests.test_consent_import import a_change, pipeline_writes
from privacy.tombstone import id_hash
from tests.support.users import user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(privacy_users) -> Client:
    client = Client()
    client.force_login(privacy_users[0])
    return client


PROOF = {"instruction": "support_ticket", "evidence": "ticket SUP-4471: asked to stop e-mails"}


def test_consent_lookup_shows_state_and_history_and_records_a_change(
    alice, settings, django_capture_on_commit_callbacks
):
    services.consent_set(
        identity_id="idn_7", flags={"marketing": True}, source="banner", actor="app"
    )
    page = alice.get("/privacy/consent/?identity_id=idn_7")
    assert page.status_code == 200
    assert page.context["consent"]["marketing"] is True
    assert [c.source for c in page.context["history"]] == ["banner"]
    assert page.context["lake_changes"] == 1  # the lake holds what the portal wrote

    with django_capture_on_commit_callbacks(execute=True):
        changed = alice.post(
            "/privacy/consent/",
            {"identity_id": "idn_7", "flag": "marketing", "value": "false", **PROOF},
        )
    assert changed.status_code == 302
    after = alice.get(changed["Location"])
    assert after.context["consent"]["marketing"] is False
    latest = ConsentChange.objects.first()
    assert (latest.source, latest.actor, latest.value) == ("privacy_team", "priv-alice", False)
    assert (latest.instruction, latest.evidence) == (PROOF["instruction"], PROOF["evidence"])
    html = after.content.decode()
    assert "support ticket: ticket SUP-4471" in html and "written to the lake" in html
    # In the lake, read with pyarrow: the change under its id, as the privacy team's.
    lake = [
        row
        for path in Path(settings.LAKE_ROOT).rglob("*.parquet")
        for row in pq.ParquetFile(path).read().to_pylist()
    ]
    assert {r["change_id"]: r["source"] for r in lake}[latest.lake_change_id] == "privacy_team"
    # Audited with its proof, the subject as a keyed hash only.
    event = AuditEvent.objects.get(action=AuditEvent.Action.CONSENT_CHANGED)
    assert event.actor == "priv-alice"
    assert event.subject_hash == id_hash(settings.PRIVACY_HASH_KEY, "idn_7")
    assert event.detail == {
        "given": [],
        "withdrawn": ["marketing"],
        **PROOF,
        "lake_change_ids": [latest.lake_change_id],
    }
    assert "idn_7" not in json.dumps(event.detail)


def test_consent_lookup_of_an_unknown_identity_and_bad_input(alice, lake_settings):
    page = alice.get("/privacy/consent/?identity_id=idn_unseen")
    assert "No consent recorded for this identity" in page.content.decode()
    assert page.context["lake_changes"] == 0 and "lake_error" not in page.context
    bad = alice.post(
        "/privacy/consent/", {"identity_id": "idn_7", "flag": "ads", "value": "true", **PROOF}
    )
    assert bad.status_code == 400 and not ConsentChange.objects.exists()
    assert alice.get("/privacy/consent/?identity_id=a b").context["lookup"].errors


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"evidence": PROOF["evidence"]}, "instruction"),
        ({"evidence": PROOF["evidence"], "instruction": "a hunch"}, "instruction"),
        ({"instruction": "phone_call"}, "evidence"),
        ({"instruction": "phone_call", "evidence": "   "}, "evidence"),
    ],
)
def test_a_grant_without_its_proof_is_refused_naming_the_field(alice, settings, given, field):
    answer = alice.post(
        "/privacy/consent/", {"identity_id": "idn_8", "flag": "marketing", "value": "true", **given}
    )
    assert answer.status_code == 400
    assert list(answer.context["change"].errors) == [field]
    assert not ConsentChange.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.CONSENT_CHANGED).exists()
    assert not list(Path(settings.LAKE_ROOT).rglob("*.parquet"))


def test_the_console_shows_what_the_lake_holds(alice, lake_copy):
    lake = read_table(lake_copy, "consent_changes")
    counts = lake["identity_id"].value_counts()
    identity_id = counts[counts == 4].index[0]  # the identity: 4 changes in the lake
    assert not ConsentChange.objects.exists()  # never imported

    page = alice.get(f"/privacy/consent/?identity_id={identity_id}")
    html = page.content.decode()
    assert "No consent recorded" not in html and "The lake has not been imported yet" in html
    mine = lake[lake["identity_id"] == identity_id]
    assert page.context["lake_changes"] == 4
    assert sorted(c.lake_change_id for c in page.context["history"]) == sorted(mine["change_id"])
    assert all(c.from_lake for c in page.context["history"])
    assert html.count("in the lake, imported") == 4
    for flag in ("marketing", "analytics", "personalization"):
        rows = mine[mine["flag"] == flag].sort_values(["changed_ts", "change_id"])
        expected = bool(rows["value"].iloc[-1]) if len(rows) else False
        assert page.context["consent"][flag] is expected, flag

    # A change made in the lake shows at the next look-up; looking again adds nothing.
    flipped = not page.context["consent"]["analytics"]
    pipeline_writes(lake_copy, [a_change(identity_id, "analytics", flipped, "cns_0ddba11c0ffe")])
    for _ in range(2):
        page = alice.get(f"/privacy/consent/?identity_id={identity_id}")
        assert page.context["consent"]["analytics"] is flipped
        assert page.context["history"][0].lake_change_id == "cns_0ddba11c0ffe"
        assert ConsentChange.objects.filter(identity_id=identity_id).count() == 5

    ConsentImport.objects.create(
        start=date(2000, 1, 1), end=date(2026, 1, 31), rows_read=5, rows_added=5
    )
    html = alice.get(f"/privacy/consent/?identity_id={identity_id}").content.decode()
    assert "The lake was last imported" in html and "2000-01-01 to 2026-01-31" in html


def test_a_change_the_lake_cannot_take_is_not_recorded_and_the_page_says_why(
    alice, settings, tmp_path
):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    settings.LAKE_ROOT = blocker / "lake"
    answer = alice.post(
        "/privacy/consent/",
        {"identity_id": "idn_9", "flag": "marketing", "value": "true", **PROOF},
    )
    assert answer.status_code == 503
    html = answer.content.decode()
    assert "Not recorded: the lake&#x27;s consent_changes could not be written" in html
    assert str(blocker) not in html
    assert not ConsentChange.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.CONSENT_CHANGED).exists()
    assert not list(tmp_path.rglob("*.parquet")) and not list(tmp_path.rglob(".tmp-*"))


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
    unverified = bob.get(f"/privacy/dsar/{dsar.pk}/")
    assert unverified.context["can_approve"] is False  # nobody verified the subject yet
    alice.post(f"/privacy/dsar/{dsar.pk}/verify", {"method": "account_login"})
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
    # Every request, and the open ones (the home page's list: a completed one is not there).
    for url, shown in (
        ("/privacy/dsar/?queue=all", set(ids)),
        ("/privacy/", set(ids) - {"overdue_but_completed"}),
    ):
        html = alice.get(url).content.decode()
        rows = {
            name: html.split(f'href="/privacy/dsar/{pk}/"', 1)[1].split("</tr>", 1)[0]
            for name, pk in ids.items()
            if name in shown
        }
        marked = {name for name, row in rows.items() if " overdue</span>" in row}
        assert marked == {"overdue_filed", "overdue_failed"}, url
        assert (
            "1 day overdue" in rows["overdue_filed"] and "3 days overdue" in rows["overdue_failed"]
        )
        assert "due today" in rows["due_today"] and "10 days left" in rows["due_later"]
        assert html.split("<table", 1)[1].count(" overdue</span>") == 2
