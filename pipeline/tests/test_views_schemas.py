"""/pipeline/schemas/: every event schema with its versions, what changed and when."""

import json
import shutil

import pytest

from pipeline.models import SchemaVersionSeen
from tests.support.users import user_with_role

pytestmark = pytest.mark.django_db


def test_the_list_shows_every_event_with_its_change_rate(client):
    client.force_login(user_with_role("support"))
    body = client.get("/pipeline/schemas/").content.decode()
    for event in ("app.start", "search", "checkout_complete", "experiment_exposure"):
        assert f'href="/pipeline/schemas/{event}/"' in body
    assert "Problems" not in body


def test_an_event_page_shows_versions_what_changed_and_when(client):
    SchemaVersionSeen.objects.create(
        day="2026-01-30", event_name="search", schema_version=3, events=7
    )
    SchemaVersionSeen.objects.create(
        day="2026-01-31", event_name="search", schema_version=3, events=5
    )
    client.force_login(user_with_role("pm"))
    body = client.get("/pipeline/schemas/search/").content.decode()
    assert body.index("v3.0") < body.index("v2.0")  # newest first
    assert "released 2026-09-01" in body and "added <code>filters</code>" in body
    assert "<code>filters</code> now required" not in body  # new field, not a relaxation
    assert "12 bronze events of v3 in the checked days, last on 2026-01-31" in body
    assert "No bronze events of v2 in the checked days." in body
    assert "First version in the registry." in body


def test_registry_problems_are_shown(client, settings, tmp_path):
    registry = tmp_path / "schemas"
    shutil.copytree(settings.PIPELINE_SCHEMA_DIR, registry)
    settings.PIPELINE_SCHEMA_DIR = registry
    document = json.loads((registry / "page_view" / "v2.0.json").read_text())
    document["x-version"] = "2.1"
    document["properties"]["email"] = {"type": "string"}
    (registry / "page_view" / "v2.1.json").write_text(json.dumps(document))
    client.force_login(user_with_role("analyst"))
    listing = client.get("/pipeline/schemas/").content.decode()
    assert "page_view v2.1: field &#x27;email&#x27; looks like personal data" in listing
    detail = client.get("/pipeline/schemas/page_view/").content.decode()
    assert "looks like personal data" in detail and "added <code>email</code>" in detail


def test_an_unknown_event_is_a_404(client):
    client.force_login(user_with_role("analyst"))
    assert client.get("/pipeline/schemas/no.such.event/").status_code == 404
