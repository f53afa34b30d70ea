import io

import pytest
from django.core.management import CommandError, call_command
from django.http import HttpRequest
from rest_framework.request import Request

from portal.authentication import ServiceTokenAuthentication, has_token_scope
from portal.models import ServiceToken
from portal.roles import data_scope

pytestmark = pytest.mark.django_db


def create(name: str, *scopes: str) -> str:
    out = io.StringIO()
    argv = ["create", name] + [arg for s in scopes for arg in ("--scope", s)]
    call_command("service_token", *argv, stdout=out)
    return out.getvalue().strip()


def request_with(header: str | None) -> Request:
    raw = HttpRequest()
    if header is not None:
        raw.META["HTTP_AUTHORIZATION"] = header
    return Request(raw, authenticators=[ServiceTokenAuthentication()])


def test_token_authenticates_with_its_scopes_and_no_data_scope():
    token = create("booking-app", "assignment:read", "consent:read")
    stored = ServiceToken.objects.get(name="booking-app")
    assert token not in stored.token_hash and stored.token_hash == ServiceToken.hash(token)

    request = request_with(f"Bearer {token}")
    assert request.user.username == "service:booking-app"
    assert request.auth.scopes == ["assignment:read", "consent:read"]
    assert data_scope(request.user) == frozenset()
    assert has_token_scope("consent:read")().has_permission(request, None)
    assert not has_token_scope("consent:write")().has_permission(request, None)


@pytest.mark.parametrize("header", ["Bearer nope", "Bearer a b", "Bearer "])
def test_bad_tokens_are_refused(header):
    from rest_framework.exceptions import AuthenticationFailed

    create("app", "consent:read")
    with pytest.raises(AuthenticationFailed):
        request_with(header).user  # noqa: B018 - authentication runs on access


def test_revoked_tokens_stop_working():
    from rest_framework.exceptions import AuthenticationFailed

    token = create("app", "consent:read")
    call_command("service_token", "revoke", "app", stdout=io.StringIO())
    with pytest.raises(AuthenticationFailed):
        request_with(f"Bearer {token}").user  # noqa: B018
    with pytest.raises(CommandError, match="no active service token named 'app'"):
        call_command("service_token", "revoke", "app")


def test_duplicate_names_and_unknown_scopes_are_refused():
    create("app", "consent:read")
    with pytest.raises(CommandError, match="already exists"):
        create("app", "consent:read")
    with pytest.raises(CommandError):
        create("other", "everything")
