"""GET/PUT /api/consent/<id> and GET /api/consent/<id>/pixels: service tokens with their own
scope, the privacy team, cache invalidated on change, append-only history."""

import io

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client

from privacy import selectors
from privacy.models import ConsentChange, ConsentState
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
    assert put(client, "idn_5", {"personalization": True}).status_code == 200
    assert ConsentChange.objects.get().actor == "privacy-user"
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
