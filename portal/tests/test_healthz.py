from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from portal import health
from portal.models import WorkerHeartbeat
from tests.support.services import wait_until
from tests.support.users import user_with_role

CLOSED_PORT_REDIS = "redis://127.0.0.1:6417/0"


def beat(hostname: str, seconds_ago: float) -> None:
    at = timezone.now() - timedelta(seconds=seconds_ago)
    WorkerHeartbeat.objects.create(hostname=hostname, pid=1, started_at=at, beat_at=at)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_healthz_is_public_and_up_with_a_real_worker_beating(celery_worker, client, lake_settings):
    # The worker's main process beats every 10 s; rows of earlier tests were flushed.
    wait_until(lambda: WorkerHeartbeat.objects.exists(), timeout=30)
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok" and body["down"] == []
    assert set(body["checks"]) == {"database", "broker", "cache", "warehouse", "workers"}
    assert all(check["status"] == "up" for check in body["checks"].values())
    workers = body["checks"]["workers"]
    assert workers["live"] == 1
    assert 0 <= workers["newest_beat_age_s"] < 15
    row = WorkerHeartbeat.objects.get()
    assert row.pid == celery_worker.proc.pid


@pytest.mark.django_db
def test_healthz_is_503_naming_workers_when_no_worker_ever_beat(
    only_my_beats, client, lake_settings
):
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 503
    assert body["down"] == ["workers"]
    assert body["checks"]["workers"] == {"status": "down", "live": 0, "newest_beat_age_s": None}


@pytest.mark.django_db
def test_a_worker_silent_for_the_stale_limit_is_not_live(only_my_beats, client, lake_settings):
    beat("celery@old", seconds_ago=61)
    body = client.get("/healthz").json()
    assert body["down"] == ["workers"]
    assert body["checks"]["workers"]["live"] == 0
    assert 61 <= body["checks"]["workers"]["newest_beat_age_s"] < 70

    beat("celery@new", seconds_ago=5)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"]["workers"]["live"] == 1


@pytest.mark.django_db
def test_healthz_is_503_and_names_what_is_down(client, tmp_path):
    beat("celery@w", seconds_ago=1)
    with override_settings(LAKE_ROOT=tmp_path / "no-such-lake"):
        response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 503
    assert body["down"] == ["warehouse"]
    assert body["checks"]["warehouse"] == {"status": "down"}
    assert body["checks"]["database"]["status"] == "up"


@pytest.mark.django_db
def test_anonymous_callers_see_up_or_down_only_staff_see_why(client, lake_settings, monkeypatch):
    beat("celery@w", seconds_ago=1)

    def broken():
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6417. Connection refused.")

    monkeypatch.setitem(health.CHECKS, "cache", broken)
    anonymous = client.get("/healthz")
    assert anonymous.status_code == 503
    assert anonymous.json()["down"] == ["cache"]
    assert anonymous.json()["checks"]["cache"] == {"status": "down"}
    assert b"6417" not in anonymous.content and b"127.0.0.1" not in anonymous.content

    client.force_login(user_with_role("analyst"))
    assert "error" not in client.get("/healthz").json()["checks"]["cache"]

    client.force_login(user_with_role("admin"))
    error = client.get("/healthz").json()["checks"]["cache"]["error"]
    assert error == "ConnectionError: Error 111 connecting to 127.0.0.1:6417. Connection refused."


@pytest.mark.django_db
def test_healthz_with_redis_down_names_the_cache_without_its_address(client, lake_settings):
    beat("celery@w", seconds_ago=1)
    caches = {
        "default": {"BACKEND": "portal.cache.TolerantRedisCache", "LOCATION": CLOSED_PORT_REDIS},
    }
    with override_settings(CACHES=caches):
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.json()["down"] == ["cache"]
        assert b"6417" not in response.content and b"Error" not in response.content

        client.force_login(user_with_role("admin"))
        error = client.get("/healthz").json()["checks"]["cache"]["error"]
        assert error.startswith("ConnectionError: Error 111 connecting to 127.0.0.1:6417.")


@pytest.mark.django_db
def test_liveness_answers_without_touching_any_dependency(
    client, tmp_path, django_assert_num_queries
):
    with override_settings(LAKE_ROOT=tmp_path / "no-such-lake"), django_assert_num_queries(0):
        response = client.get("/healthz/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
