"""/pipeline/dead-letters/: reasons with counts and masked samples; triage by admins and
analysts only, by POST with CSRF, recorded."""

from datetime import UTC, datetime

import pytest
from django.test import Client

from pipeline import services
from pipeline.models import DeadLetterReason, TriageNote
from pipeline.tests import factories, lake_edits
from pipeline.tests.conftest import AS_OF
from tests.support.users import user_with_role
from warehouse.models import QueryRun

pytestmark = pytest.mark.django_db


def test_reasons_with_counts_and_payloads_masked_end_to_end(client, scenario_lake):
    leak = '{"email":"guest7@example.com","phone_number":"+49 151 1234567","path":"/x"}'
    lake_edits.spike_dead_letters(
        scenario_lake, datetime(2026, 1, 31, 19, tzinfo=UTC), 4, "pii_key_not_allowed:email", leak
    )
    services.health_run(as_of=AS_OF)
    client.force_login(user_with_role("pm"))
    body = client.get("/pipeline/dead-letters/").content.decode()
    assert "pii_key_not_allowed:email" in body
    assert "guest7@example.com" not in body and "1234567" not in body
    assert "{&quot;email&quot;:&quot;***&quot;,&quot;phone_number&quot;:&quot;***&quot;" in body
    assert "Mark triaged" not in body  # a pm reads, does not triage


def test_the_run_behind_the_samples_is_masked_at_the_source_for_every_role(scenario_lake):
    # The review's bypass: the page masked, /api/runs/<id> of the same run did not.
    leak = '{"email":"guest9@example.com","referrer":"call +49 151 7654321 from 203.0.113.7"}'
    lake_edits.spike_dead_letters(
        scenario_lake, datetime(2026, 1, 31, 19, tzinfo=UTC), 3, "pii_key_not_allowed:email", leak
    )
    services.health_run(as_of=AS_OF)
    run = QueryRun.objects.get(label="pipeline:dead_letter_samples")
    shown = {
        s["payload"]
        for s in DeadLetterReason.objects.get(reason="pii_key_not_allowed:email").samples
    }
    assert shown == {'{"email":"***","referrer":"call *** from ***"}'}
    for role in ("analyst", "pm", "support", "finance", "privacy", "admin"):
        client = Client()
        client.force_login(user_with_role(role))
        answer = client.get(f"/api/runs/{run.pk}")
        assert answer.status_code == 200, role
        body = answer.content.decode()
        for raw in ("guest9@example.com", "7654321", "203.0.113.7"):
            assert raw not in body, (role, raw)
        result = answer.json()["result"]
        payloads = [row[result["columns"].index("payload")] for row in result["rows"]]
        # No more revealing than the page: the very payloads the page shows.
        assert shown <= set(payloads), role
        assert not any("@" in p for p in payloads), role


@pytest.mark.parametrize("role", ["analyst", "admin"])
def test_admins_and_analysts_mark_a_reason_triaged(client, role):
    group = factories.reason("unknown_event_name")
    user = user_with_role(role)
    client.force_login(user)
    response = client.post(
        f"/pipeline/dead-letters/{group.pk}/triage/", {"note": "typo in app 5.12.0"}
    )
    assert response.status_code == 302 and response["Location"] == "/pipeline/dead-letters/"
    group.refresh_from_db()
    assert group.triaged_by == user and group.triage_note == "typo in app 5.12.0"
    assert TriageNote.objects.get().user == user
    body = client.get("/pipeline/dead-letters/").content.decode()
    assert "triaged" in body and "typo in app 5.12.0" in body and "Update triage" in body


@pytest.mark.parametrize("role", ["pm", "support", "finance", "privacy"])
def test_other_roles_may_not_triage(client, role):
    group = factories.reason("unknown_event_name")
    client.force_login(user_with_role(role))
    response = client.post(f"/pipeline/dead-letters/{group.pk}/triage/", {"note": "x"})
    assert response.status_code == 403
    assert DeadLetterReason.objects.get().triaged_at is None


def test_triage_needs_a_csrf_token_a_note_and_a_post():
    group = factories.reason("malformed_json")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user_with_role("analyst"))
    url = f"/pipeline/dead-letters/{group.pk}/triage/"
    assert client.post(url, {"note": "x"}).status_code == 403  # no token
    page = client.get("/pipeline/dead-letters/")
    token = page.context["csrf_token"]
    blank = client.post(url, {"note": "  ", "csrfmiddlewaretoken": token})
    assert blank.status_code == 400 and "note: This field is required." in blank.content.decode()
    assert client.get(url).status_code == 405
    assert (
        client.post(
            "/pipeline/dead-letters/999/triage/", {"note": "x", "csrfmiddlewaretoken": token}
        ).status_code
        == 404
    )
    assert client.post(url, {"note": "ok", "csrfmiddlewaretoken": token}).status_code == 302


def test_the_list_makes_a_fixed_number_of_queries(client, django_assert_max_num_queries):
    analyst = user_with_role("analyst")
    for i in range(15):
        triaged = (
            {"triaged_at": AS_OF, "triaged_by": analyst, "triage_note": "known"} if i % 2 else {}
        )
        factories.reason(f"reason_{i}", **triaged)
    client.force_login(analyst)
    with django_assert_max_num_queries(9):
        body = client.get("/pipeline/dead-letters/").content.decode()
    assert body.count("Mark triaged") == 8 and body.count("Update triage") == 7
