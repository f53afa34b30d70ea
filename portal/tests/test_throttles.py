"""Per-user limits on what submits warehouse queries: the API answers 429 in JSON with
Retry-After, a page answers a readable 429 page; one budget per user across pages and API;
a cache that fails lets requests through (logged) instead of failing them."""

import logging

import pytest
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse

from metrics.tests.ui_support import WINDOW
from portal import throttles
from portal.env import env_rate
from tests.support.users import client_for, user_with_role
from warehouse.models import QueryRun
from warehouse.services import query_run_execute

pytestmark = pytest.mark.django_db

SLUG = "search_to_view_ctr"
DATA = f"/api/metrics/{SLUG}/data"
CSV = f"/metrics/{SLUG}/data.csv"


@pytest.fixture
def three_a_minute(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"query_burst": "3/minute", "query_sustained": "100/hour"},
    }


def forget_counts(user_id) -> None:
    # Counters live in the shared cache; a user id of an earlier test must start from zero.
    cache.delete_many([f"throttle_{t.scope}_{user_id}" for t in throttles.QUERY_THROTTLES])


def fresh_client(role: str):
    client = client_for(role)
    forget_counts(client.session["_auth_user_id"])
    return client


def fresh_user(role: str):
    user = user_with_role(role)
    forget_counts(user.pk)
    return user


def test_the_api_answers_429_json_with_retry_after_per_user(lake_settings, three_a_minute):
    analyst = fresh_client("analyst")
    for _ in range(3):
        assert analyst.get(DATA, WINDOW).status_code in (200, 202)
    runs = QueryRun.objects.count()

    refused = analyst.get(DATA, {**WINDOW, "end": "2026-01-30"})

    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/json"
    assert "throttled" in refused.json()["detail"]
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert QueryRun.objects.count() == runs  # nothing was queued
    # Another user has a budget of their own.
    assert fresh_client("pm").get(DATA, WINDOW).status_code in (200, 202)


def test_pages_share_the_api_budget_and_answer_a_readable_page(lake_settings, three_a_minute):
    analyst = fresh_client("analyst")
    queued = analyst.get(DATA, WINDOW)
    query_run_execute(run_id=queued.json()["run_id"])  # as the worker would (no worker here)
    assert analyst.get(CSV, WINDOW).status_code == 200
    assert analyst.get(DATA, WINDOW).status_code == 200

    refused = analyst.get(CSV, WINDOW)

    assert refused.status_code == 429
    assert refused["Content-Type"].startswith("text/html")
    page = refused.content.decode()
    assert "Too many requests" in page and "Try again in" in page
    assert 1 <= int(refused["Retry-After"]) <= 60


def test_finance_page_is_limited_but_a_page_that_only_reads_is_not(
    lake_settings, settings, three_a_minute
):
    finance = fresh_client("finance")
    settings.QUERY_WAIT_SECONDS = 0
    answers = [finance.get("/finance/").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    # The dashboards list submits nothing: not counted, not limited.
    assert all(finance.get("/dashboards/").status_code == 200 for _ in range(5))


def test_only_the_listed_methods_are_counted(rf, three_a_minute):
    user = fresh_user("privacy")
    view = throttles.query_throttled(methods=("POST",))(lambda request: HttpResponse("ok"))

    def call(method: str) -> int:
        request = getattr(rf, method)("/privacy/pii/")
        request.user = user
        return view(request).status_code

    assert [call("get") for _ in range(5)] == [200] * 5
    assert [call("post") for _ in range(4)] == [200, 200, 200, 429]


def test_a_failing_cache_lets_requests_through_and_is_logged(rf, settings, monkeypatch, caplog):
    # A real Redis client for a port nothing listens on: every read and write fails.
    monkeypatch.setattr(throttles._FailOpen, "cache", RedisCache("redis://127.0.0.1:1", {}))
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"query_burst": "1/minute", "query_sustained": "1/hour"},
    }
    view = throttles.query_throttled(lambda request: HttpResponse("ok"))
    request = rf.get(CSV)
    request.user = fresh_user("analyst")

    with caplog.at_level(logging.WARNING, logger="portal.throttles"):
        answers = [view(request).status_code for _ in range(3)]

    assert answers == [200, 200, 200]
    assert "Throttle query_burst skipped: its cache failed" in caplog.text


@pytest.mark.parametrize(
    ("raw", "rate"),
    [("120/minute", "120/minute"), ("5/s", "5/s"), ("OFF", None), ("", "300/minute")],
)
def test_rates_come_from_the_environment(monkeypatch, raw, rate):
    monkeypatch.setenv("QUERY_THROTTLE_BURST", raw)
    assert env_rate("QUERY_THROTTLE_BURST", "300/minute") == rate


@pytest.mark.parametrize("raw", ["120", "0/minute", "ten/minute", "5/week"])
def test_a_bad_rate_fails_naming_the_variable(monkeypatch, raw):
    monkeypatch.setenv("QUERY_THROTTLE_BURST", raw)
    with pytest.raises(ImproperlyConfigured, match="QUERY_THROTTLE_BURST must be a rate"):
        env_rate("QUERY_THROTTLE_BURST", "300/minute")
