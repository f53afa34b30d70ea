"""The Notes block (templates/annotations/_notes.html) on metric pages, dashboards and pipeline
health: there for whoever the notes API takes a note from, offering exactly the scopes it
accepts, over the window of the page's charts."""

import re
from html import unescape

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template.loader import render_to_string
from django.test import RequestFactory

from annotations.models import Note
from annotations.tests.clients import NOTES, client_of, send
from metrics.dashboards import DASHBOARDS
from pipeline.tests import factories
from tests.support.users import user_with_role

ROLES = ("analyst", "pm", "support", "finance", "privacy", "admin")


def block(page: str) -> dict | None:
    """The block's data-* attributes, its scope options (value, label) and whether it brings
    its script; None if the page has no block."""
    found = re.search(
        r"<section class=\"block notes\" data-notes([^>]*)>(.*?)</section>", page, re.S
    )
    if found is None:
        return None
    attrs = {k: unescape(v) for k, v in re.findall(r'(data-[a-z-]+)(?:="([^"]*)")?', found[1])}
    options = re.findall(r'<option value="([^"]*)">([^<]*)</option>', found[2])
    script = re.search(r'</section>\s*<script src="[^"]*annotations/annotations\.js">', page)
    return {**attrs, "scopes": options, "script": script is not None}


@pytest.mark.django_db
def test_a_dashboard_offers_notes_on_itself_or_every_chart_over_its_window(lake_settings):
    client = client_of(user_with_role("analyst", "ana"))
    page = client.get("/dashboards/marketplace-health/").content.decode()
    found = block(page)
    assert found == {
        "data-dashboard": "marketplace-health",
        "data-start": "2026-01-04",  # the dashboard's default 28 days of the small lake
        "data-end": "2026-01-31",
        "scopes": [("dashboard", "this dashboard"), ("global", "every chart")],
        "script": True,
    }
    assert 'name="csrfmiddlewaretoken"' in page and 'value="2026-01-31" required' in page
    chosen = client.get("/dashboards/marketplace-health/?start=2026-01-20&end=2026-01-25")
    assert block(chosen.content.decode())["data-start"] == "2026-01-20"


@pytest.mark.django_db
def test_pipeline_health_offers_notes_on_every_chart_and_reloads_after_one(client):
    factories.health()  # as of 2026-02-01 00:30 UTC
    client.force_login(user_with_role("support"))
    found = block(client.get("/pipeline/?days=30").content.decode())
    assert found == {
        "data-start": "2026-01-02",
        "data-end": "2026-02-01",
        "data-reload": "",  # its charts are drawn by the server, with the notes
        "scopes": [("global", "every chart")],
        "script": True,
    }


@pytest.mark.django_db
def test_a_metric_page_still_offers_notes_on_its_metric_or_every_chart(lake_settings):
    client = client_of(user_with_role("analyst", "ana"))
    found = block(
        client.get("/metrics/refund_rate/?start=2026-01-20&end=2026-01-31").content.decode()
    )
    assert found["data-metric"] == "refund_rate"
    assert (found["data-start"], found["data-end"]) == ("2026-01-20", "2026-01-31")
    assert found["scopes"] == [("metric", "this metric"), ("global", "every chart")]


def offered(user, **include) -> list[str] | None:
    request = RequestFactory().get("/")
    request.user = user
    found = block(render_to_string("annotations/_notes.html", include, request=request))
    return None if found is None else [value for value, _ in found["scopes"]]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_the_block_offers_a_scope_exactly_when_the_api_takes_a_note_on_it(role, lake_settings):
    """Each role, each default dashboard: the dashboard scope is offered if and only if the API
    writes a note on that dashboard for that person; every chart always."""
    user = user_with_role(role, f"{role}-notes")
    client = client_of(user)
    for dashboard in DASHBOARDS:
        scopes = offered(user, notes_dashboard=dashboard.slug, notes_end="2026-01-31")
        answer = send(
            client, "post", NOTES, {"at": "2026-01-20", "text": "x", "dashboard": dashboard.slug}
        )
        assert answer.status_code in (201, 400), answer.content
        assert ("dashboard" in scopes) == (answer.status_code == 201), (role, dashboard.slug)
        assert scopes[-1] == "global"
    assert send(client, "post", NOTES, {"at": "2026-01-20", "text": "x"}).status_code == 201
    assert Note.objects.filter(author=user, dashboard="").count() == 1


@pytest.mark.django_db
def test_no_block_for_someone_the_api_takes_no_note_from():
    assert offered(AnonymousUser(), notes_end="2026-01-31") is None


@pytest.mark.django_db
def test_a_dashboard_the_person_may_not_read_is_not_offered(lake_settings):
    analyst = user_with_role("analyst", "ana")
    assert offered(analyst, notes_dashboard="support", notes_end="2026-01-31") == ["global"]
    answer = send(
        client_of(analyst), "post", NOTES, {"at": "2026-01-20", "text": "x", "dashboard": "support"}
    )
    assert answer.status_code == 400 and "dashboard" in answer.json()
