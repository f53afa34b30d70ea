"""Errors in the portal's style for people (with the reason and the navigation), JSON for API
clients, with DEBUG on (the demo) as with it off."""

import pytest
from django.test import Client
from kombu.exceptions import OperationalError

from home import views
from portal import permissions
from tests.support.users import user_with_role

pytestmark = pytest.mark.django_db

DEBUG = pytest.mark.parametrize("debug", [True, False], ids=["debug", "production"])


@pytest.fixture
def analyst(analyst: Client) -> Client:
    """The shared analyst client (tests/support/users.py), answering errors as pages rather
    than raising them into the test."""
    analyst.raise_request_exception = False
    return analyst


def has_navigation(body: str) -> bool:
    return '<a href="/dashboards/"' in body and "Log out" in body


@DEBUG
def test_403_is_a_page_with_the_reason_and_the_navigation(analyst, settings, debug):
    settings.DEBUG = debug
    response = analyst.get("/privacy/")
    body = response.content.decode()
    assert response.status_code == 403
    assert "<h1>Not allowed</h1>" in body
    assert "Your role does not give access to this page." in body
    assert has_navigation(body)


@DEBUG
def test_404_is_the_portals_page_not_djangos_url_list(analyst, settings, debug):
    settings.DEBUG = debug
    for path in ("/no-such-page/", "/pipeline/schemas/no-such-event/"):
        response = analyst.get(path)
        body = response.content.decode()
        assert response.status_code == 404, path
        assert "<h1>Not found</h1>" in body and has_navigation(body), path
        assert "URLconf" not in body and "Traceback" not in body, path


def test_developers_can_ask_for_djangos_technical_pages(analyst, settings):
    settings.DEBUG = True
    settings.TECHNICAL_ERROR_PAGES = True
    assert "URLconf" in analyst.get("/no-such-page/").content.decode()


@DEBUG
def test_500_is_a_page_without_the_traceback(analyst, settings, monkeypatch, debug):
    settings.DEBUG = debug

    def broken(user):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views, "data_scope", broken)
    response = analyst.get("/")
    body = response.content.decode()
    assert response.status_code == 500
    assert "<h1>Something went wrong</h1>" in body
    assert "secret internals" not in body and "Traceback" not in body


@DEBUG
def test_a_broker_or_cache_away_is_a_503_page_saying_so(analyst, settings, monkeypatch, debug):
    settings.DEBUG = debug

    def unreachable(user):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6417")

    monkeypatch.setattr(views, "data_scope", unreachable)
    response = analyst.get("/")
    body = response.content.decode()
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert "A service the portal needs is unreachable" in body and has_navigation(body)
    assert "6417" not in body


@DEBUG
def test_pipeline_range_error_is_a_page_naming_the_field(analyst, settings, debug):
    settings.DEBUG = debug
    response = analyst.get("/pipeline/?days=0")
    body = response.content.decode()
    assert response.status_code == 400
    assert "days: Ensure this value is greater than or equal to 1." in body
    assert has_navigation(body)


@DEBUG
def test_api_errors_are_json_whatever_raised_them(analyst, settings, monkeypatch, debug):
    settings.DEBUG = debug
    missing = analyst.get("/api/no-such-endpoint", HTTP_ACCEPT="text/html")
    assert missing.status_code == 404
    assert missing["Content-Type"] == "application/json"
    assert missing.json() == {"detail": "There is nothing at this address."}

    def broken(self, request, view):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(permissions.IsPortalUser, "has_permission", broken)
    crashed = analyst.get("/api/metrics/")
    assert crashed.status_code == 500
    assert crashed.json() == {
        "detail": "The portal could not answer. The error is logged; try again in a minute."
    }

    def unreachable(self, request, view):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6417")

    monkeypatch.setattr(permissions.IsPortalUser, "has_permission", unreachable)
    away = analyst.get("/api/metrics/")
    assert away.status_code == 503 and away["Retry-After"] == "30"
    assert away.json()["detail"].startswith("A service the portal needs is unreachable")


def test_api_csrf_and_method_errors_stay_json(settings):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user_with_role("analyst"))
    refused = client.post("/api/queries", {}, content_type="application/json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]


def test_a_form_without_its_csrf_token_is_a_403_page_saying_what_to_do():
    client = Client(enforce_csrf_checks=True)
    client.force_login(user_with_role("analyst"))
    response = client.post("/pipeline/dead-letters/1/triage/", {"note": "x"})
    body = response.content.decode()
    assert response.status_code == 403
    assert "reload the page and send it again" in body and has_navigation(body)
