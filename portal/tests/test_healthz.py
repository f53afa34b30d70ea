import pytest
from django.test import override_settings

from portal import health


@pytest.mark.django_db
def test_healthz_is_public_and_reports_every_dependency(client, lake_settings):
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "cache", "warehouse"}
    assert all(check["status"] == "up" for check in body["checks"].values())


@pytest.mark.django_db
def test_healthz_is_503_and_names_what_is_down(client, tmp_path):
    with override_settings(LAKE_ROOT=tmp_path / "no-such-lake"):
        response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 503
    assert body["down"] == ["warehouse"]
    assert body["checks"]["warehouse"]["status"] == "down"
    assert body["checks"]["database"]["status"] == "up"


@pytest.mark.django_db
def test_healthz_reports_a_broken_cache(client, lake_settings, monkeypatch):
    def broken():
        raise ConnectionError("cache unreachable")

    monkeypatch.setitem(health.CHECKS, "cache", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["cache"]
    assert "cache unreachable" in response.json()["checks"]["cache"]["error"]
