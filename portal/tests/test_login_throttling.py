"""Login lockout (django-axes, in the DB) and the throttle on bad service tokens."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone

from portal.models import ServiceToken

pytestmark = pytest.mark.django_db

CLOSED_PORT_REDIS = {
    "default": {
        "BACKEND": "portal.cache.TolerantRedisCache",
        "LOCATION": "redis://127.0.0.1:6417/0",
    }
}


def attempt(password: str, ip: str = "10.1.1.1", username: str = "ann"):
    client = Client(REMOTE_ADDR=ip)
    response = client.post("/login/", {"username": username, "password": password})
    logged_in = "_auth_user_id" in client.session
    return response, logged_in


@pytest.fixture
def ann():
    return User.objects.create_user("ann", password="right-horse-battery")


def test_fifty_wrong_passwords_lock_the_username_from_that_address(ann, settings):
    assert settings.AXES_FAILURE_LIMIT == 10
    statuses = [attempt("wrong")[0].status_code for _ in range(50)]
    assert statuses[:9] == [200] * 9  # the form again, "didn't match"
    assert set(statuses[9:]) == {429}  # locked from the 10th on

    response, logged_in = attempt("right-horse-battery")
    assert response.status_code == 429 and not logged_in
    body = response.content.decode()
    assert "<h1>Login locked</h1>" in body
    assert "Too many wrong passwords for “ann” from your address (10 failed attempts)." in body
    assert "Try again in 15 minutes." in body

    # The lock is per username and address: ann elsewhere, and others here, still log in.
    assert attempt("right-horse-battery", ip="10.2.2.2")[1]
    User.objects.create_user("bob", password="another-long-one")
    assert attempt("another-long-one", username="bob")[1]


def test_the_lock_lifts_after_the_cool_off(ann):
    for _ in range(10):
        attempt("wrong")
    assert attempt("right-horse-battery")[0].status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert attempt("right-horse-battery")[1]


def test_a_successful_login_resets_the_count(ann):
    for _ in range(9):
        attempt("wrong")
    assert attempt("right-horse-battery")[1]
    for _ in range(9):
        attempt("wrong")
    assert attempt("right-horse-battery")[1]


@override_settings(CACHES=CLOSED_PORT_REDIS)
def test_the_lockout_holds_with_the_cache_down(ann):
    for _ in range(10):
        attempt("wrong")
    response, logged_in = attempt("right-horse-battery")
    assert response.status_code == 429 and not logged_in


def _token() -> str:
    token = ServiceToken.generate()
    ServiceToken.objects.create(
        name="app", token_hash=ServiceToken.hash(token), scopes=["consent:read"]
    )
    return token


def consent(token: str, ip: str = "10.1.1.1"):
    client = Client(REMOTE_ADDR=ip)
    return client.get("/api/consent/u-1", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_bad_bearer_tokens_from_one_address_meet_429_with_retry_after(settings):
    assert settings.SERVICE_TOKEN_FAILURE_LIMIT == 20
    good = _token()
    statuses = [consent(f"pst_guess{i}").status_code for i in range(50)]
    assert statuses[:20] == [403] * 20  # DRF's refusal when the session comes first
    assert set(statuses[20:]) == {429}

    refused = consent(good)  # even a right guess from there, until the window ends
    assert refused.status_code == 429
    assert refused.json() == {
        "detail": "Too many invalid service tokens from this address. "
        f"Expected available in {refused['Retry-After']} seconds."
    }
    assert 0 < int(refused["Retry-After"]) <= settings.SERVICE_TOKEN_FAILURE_WINDOW_SECONDS

    assert consent(good, ip="10.9.9.9").status_code == 200  # other apps are not affected


def test_malformed_bearer_headers_count_too(settings):
    settings.SERVICE_TOKEN_FAILURE_LIMIT = 3
    client = Client(REMOTE_ADDR="10.1.1.1")
    statuses = [
        client.get("/api/consent/u-1", HTTP_AUTHORIZATION="Bearer a b").status_code
        for _ in range(4)
    ]
    assert statuses == [403, 403, 403, 429]


@override_settings(CACHES=CLOSED_PORT_REDIS)
def test_bad_tokens_are_still_refused_with_the_cache_down():
    assert consent("pst_guess").status_code == 403
    assert consent(_token()).status_code == 200


@pytest.mark.parametrize("password", ["password123", "demo", "12345678901", "qwertyuiop"])
def test_common_and_numeric_passwords_are_refused(password):
    with pytest.raises(ValidationError):
        validate_password(password)


def test_demo_users_keep_the_demo_password_an_exception_for_the_demo_only():
    call_command("demo_users")
    client = Client()
    client.post("/login/", {"username": "analyst", "password": "demo"})
    assert "_auth_user_id" in client.session
