"""GET/PUT /api/consent/<id> and GET /api/consent/<id>/pixels: service tokens with their own
scope, the privacy team (never without the subject's instruction and evidence), cache
invalidated on change, append-only history, every change in the lake first."""

import io
from datetime import UTC
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client

from privacy import selectors
from privacy.models import AuditEvent, ConsentChange, ConsentState
from tests.support.users import user_with_role

pytestmark = pytest.mark.django_db


def token(*scopes: str, name: str = "app") -> str:
    out = io.StringIO()
    call_command(
        "service_token", "create", name, *[a for s in scopes for a in ("--scope", s)], stdout=out
    )
    return out.getvalue().strip()


def bearer(value: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {value}"}


def put(client: Client, identity_id: str, body, **extra):
    return client.put(f"/api/consent/{identity_id}", body, content_type="application/json", **extra)


PROOF = {"instruction": "support_ticket", "evidence": "ticket SUP-4471"}


def test_unknown_identity_has_given_nothing_and_gets_no_pixels(client):
    reader = bearer(token("consent:read"))
    answer = client.get("/api/consent/idn_new", **reader)
    assert answer.status_code == 200
    assert answer.json() == {
        "identity_id": "idn_new",
        "known": False,
        "marketing": False,
        "analytics": False,
        "personalization": False,
        "updated_at": None,
    }
    pixels = client.get("/api/consent/idn_new/pixels", **reader).json()
    assert pixels == {"identity_id": "idn_new", "fire": False, "pixels": []}


def test_put_sets_flags_appends_history_and_refreshes_the_cache(
    client, settings, django_capture_on_commit_callbacks
):
    settings.PRIVACY_MARKETING_PIXELS = ["google_ads", "meta"]
    app = bearer(token("consent:read", "consent:write"))
    assert client.get("/api/consent/idn_1", **app).json()["marketing"] is False  # cached now

    with django_capture_on_commit_callbacks(execute=True):
        answer = put(
            client, "idn_1", {"marketing": True, "analytics": False, "source": "banner"}, **app
        )
    assert answer.status_code == 200, answer.json()
    assert answer.json()["marketing"] is True and answer.json()["known"] is True
    # The cached "no consent" is gone: the next read sees the change.
    assert client.get("/api/consent/idn_1", **app).json()["marketing"] is True
    assert client.get("/api/consent/idn_1/pixels", **app).json() == {
        "identity_id": "idn_1",
        "fire": True,
        "pixels": ["google_ads", "meta"],
    }

    with django_capture_on_commit_callbacks(execute=True):
        put(client, "idn_1", {"marketing": False}, **app)
    assert client.get("/api/consent/idn_1/pixels", **app).json()["pixels"] == []
    history = list(
        ConsentChange.objects.filter(identity_id="idn_1")
        .order_by("pk")
        .values_list("flag", "value", "source", "actor")
    )
    assert history == [
        ("marketing", True, "banner", "service:app"),
        ("analytics", False, "banner", "service:app"),
        ("marketing", False, "api", "service:app"),
    ]
    state = ConsentState.objects.get(identity_id="idn_1")
    assert (state.marketing, state.analytics, state.personalization) == (False, False, False)


def test_reads_come_from_the_cache(client, django_assert_max_num_queries):
    app = bearer(token("consent:read"))
    ConsentState.objects.create(identity_id="idn_2", marketing=True, updated_at="2026-01-01T00:00Z")
    client.get("/api/consent/idn_2", **app)
    # Only the token look-up is left: the consent itself is served from the cache.
    with django_assert_max_num_queries(1):
        assert client.get("/api/consent/idn_2", **app).json()["marketing"] is True
    assert cache.get(selectors.consent_cache_key("idn_2"))["marketing"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"marketing": True, "newsletter": True}, "newsletter"),
        ({"marketing": "maybe"}, "marketing"),
        ({"source": "banner"}, "non_field_errors"),
        ({"marketing": True, "source": "fax"}, "source"),
    ],
)
def test_bad_updates_are_400_naming_the_field_and_change_nothing(client, body, field):
    app = bearer(token("consent:write"))
    answer = put(client, "idn_3", body, **app)
    assert answer.status_code == 400
    assert field in answer.json()
    assert not ConsentChange.objects.exists() and not ConsentState.objects.exists()


def test_each_token_holds_only_its_scope(client):
    reader, writer = (
        bearer(token("consent:read", name="r")),
        bearer(token("consent:write", name="w")),
    )
    assignments = bearer(token("assignment:read", name="a"))
    assert put(client, "idn_4", {"marketing": True}, **reader).status_code == 403
    assert client.get("/api/consent/idn_4", **writer).status_code == 403
    assert client.get("/api/consent/idn_4", **assignments).status_code == 403
    assert client.get("/api/consent/idn_4/pixels", **assignments).status_code == 403
    assert put(client, "idn_4", {"marketing": True}, **writer).status_code == 200
    assert client.get("/api/consent/idn_4", **bearer("pst_wrong")).status_code in (401, 403)
    assert client.get("/api/consent/idn_4").status_code in (401, 403)


def test_the_privacy_team_reads_and_writes_other_roles_do_not(client):
    client.force_login(user_with_role("privacy"))
    assert put(client, "idn_5", {"personalization": True, **PROOF}).status_code == 200
    change = ConsentChange.objects.get()
    assert (change.actor, change.source) == ("privacy-user", "privacy_team")
    assert (change.instruction, change.evidence) == ("support_ticket", "ticket SUP-4471")
    for role in ("analyst", "pm", "support", "finance"):
        other = Client()
        other.force_login(user_with_role(role))
        assert other.get("/api/consent/idn_5").status_code == 403
        assert "personalization" not in other.get("/api/consent/idn_5").content.decode()


def test_history_is_append_only():
    change = ConsentChange.objects.create(
        identity_id="idn_6",
        flag="marketing",
        value=True,
        source="api",
        actor="app",
        changed_at="2026-01-01T00:00Z",
    )
    change.value = False
    with pytest.raises(ValueError, match="append-only"):
        change.save()
    with pytest.raises(ValueError, match="append-only"):
        change.delete()


@pytest.mark.parametrize(
    "identity_id",
    ["bad%20id", "x" * 129, "-idn_1", "idn_1%3Cb%3E", "idn%2C1", "%C3%A9tienne"],
)
def test_ids_that_cannot_be_ids_are_a_json_400_naming_identity_id(client, identity_id):
    app = bearer(token("consent:read", "consent:write"))
    for answer in (
        client.get(f"/api/consent/{identity_id}", **app),
        client.get(f"/api/consent/{identity_id}/pixels", **app),
        put(client, identity_id, {"marketing": True}, **app),
    ):
        assert answer.status_code == 400, answer.content
        assert answer["Content-Type"] == "application/json"
        assert "identity_id" in answer.json()
    assert not ConsentChange.objects.exists() and not ConsentState.objects.exists()


@pytest.mark.parametrize(
    "identity_id", ["idn_0a1b2c3d4e5f", "usr_0a1b2c3d4e5f", "3f2b8c1e-9a7d-4c1b-8e2f-1a2b3c4d5e6f"]
)
def test_real_ids_are_accepted(client, identity_id):
    app = bearer(token("consent:read", "consent:write"))
    assert put(client, identity_id, {"analytics": True}, **app).status_code == 200
    assert client.get(f"/api/consent/{identity_id}", **app).json()["analytics"] is True
    assert client.get(f"/api/consent/{identity_id}/pixels", **app).status_code == 200
    assert client.get("/api/consent/" + "x" * 128, **app).status_code == 200


def test_a_malformed_id_is_refused_only_after_the_caller_is_let_in(client):
    # No hint about ids to callers who may not ask at all.
    assert client.get("/api/consent/bad%20id").status_code in (401, 403)
    reader = bearer(token("consent:read"))
    assert put(client, "bad%20id", {"marketing": True}, **reader).status_code == 403


@pytest.mark.parametrize("value", ["yes", "on", "1", 1, 0, "true", "false", None, [], {}])
def test_flags_take_only_json_booleans(client, value):
    app = bearer(token("consent:write"))
    answer = put(client, "idn_10", {"marketing": value}, **app)
    assert answer.status_code == 400
    assert list(answer.json()) == ["marketing"]
    assert not ConsentChange.objects.exists() and not ConsentState.objects.exists()
    assert put(client, "idn_10", {"marketing": False}, **app).status_code == 200


def test_a_change_made_through_the_api_is_in_the_lake(client, settings):
    app = bearer(token("consent:write"))
    answer = put(client, "idn_0a1b2c3d4e5f", {"marketing": True, "source": "banner"}, **app)
    assert answer.status_code == 200
    change = ConsentChange.objects.get()
    # The lake's files, read with pyarrow: the same change under the same id.
    (path,) = Path(settings.LAKE_ROOT).glob("gold/consent_changes/event_dt=*/*.parquet")
    assert path.parent.name == f"event_dt={change.changed_at.astimezone(UTC).date()}"
    assert pq.ParquetFile(path).read().to_pylist() == [
        {
            "change_id": change.lake_change_id,
            "identity_id": "idn_0a1b2c3d4e5f",
            "user_id": None,
            "flag": "marketing",
            "value": True,
            "source": "banner",
            "changed_ts": change.changed_at.astimezone(UTC).replace(tzinfo=None),
        }
    ]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"marketing": True}, ["evidence", "instruction"]),
        ({"marketing": True, "instruction": "phone_call"}, ["evidence"]),
        ({"marketing": True, "instruction": "phone_call", "evidence": "  "}, ["evidence"]),
        ({"marketing": True, "evidence": "ticket SUP-1"}, ["instruction"]),
        ({"marketing": True, "instruction": "a hunch", "evidence": "x"}, ["instruction"]),
        ({"marketing": True, "source": "banner", **PROOF}, ["source"]),
    ],
)
def test_a_person_cannot_grant_without_instruction_and_evidence(client, settings, body, fields):
    client.force_login(user_with_role("privacy"))
    answer = put(client, "idn_11", body)
    assert answer.status_code == 400
    assert sorted(answer.json()) == fields
    assert not ConsentChange.objects.exists() and not ConsentState.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.CONSENT_CHANGED).exists()
    assert not list(Path(settings.LAKE_ROOT).rglob("*.parquet"))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"marketing": True, "source": "privacy_team"}, "source"),
        ({"marketing": True, "instruction": "phone_call"}, "instruction"),
        ({"marketing": True, "evidence": "trust me"}, "evidence"),
    ],
)
def test_apps_pass_on_the_subjects_answer_and_nothing_else(client, body, field):
    answer = put(client, "idn_12", body, **bearer(token("consent:write")))
    assert answer.status_code == 400 and list(answer.json()) == [field]
    assert not ConsentChange.objects.exists()


def test_a_lake_that_cannot_be_written_is_a_503_and_nothing_changes(
    client, settings, tmp_path, django_capture_on_commit_callbacks
):
    app = bearer(token("consent:read", "consent:write"))
    with django_capture_on_commit_callbacks(execute=True):
        assert put(client, "idn_13", {"marketing": True}, **app).status_code == 200
    lake = Path(settings.LAKE_ROOT)
    files = sorted(lake.rglob("*.parquet"))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    settings.LAKE_ROOT = blocker / "lake"

    with django_capture_on_commit_callbacks(execute=True):
        answer = put(client, "idn_13", {"marketing": False}, **app)
    assert answer.status_code == 503
    assert "consent was not changed" in answer.json()["detail"]
    assert str(blocker) not in answer.json()["detail"]
    assert ConsentChange.objects.count() == 1
    assert client.get("/api/consent/idn_13", **app).json()["marketing"] is True
    assert ConsentState.objects.get(identity_id="idn_13").marketing is True
    assert sorted(lake.rglob("*.parquet")) == files
    assert not list(tmp_path.rglob(".tmp-*"))
