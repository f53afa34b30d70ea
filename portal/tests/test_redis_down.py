"""Redis down (REDIS_URL at a closed port) in a real server process, as the demo runs it
(runserver, DEBUG on): login works, pages render or say what is unavailable, the API answers
JSON, never an HTML 500."""

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest
import requests
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import Group, User

from portal.models import ServiceToken
from tests.support.services import _database_url

pytestmark = pytest.mark.django_db(transaction=True)

CLOSED_PORT_REDIS = "redis://127.0.0.1:6417/0"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(small_lake, tmp_path):
    port = _free_port()
    # A copy of its own (hard links): a consent change writes a file into the lake.
    lake = tmp_path / "lake"
    shutil.copytree(small_lake, lake, copy_function=os.link)
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": CLOSED_PORT_REDIS,
        "LAKE_ROOT": str(lake),
        "VAR_DIR": str(settings.VAR_DIR),
        "DEBUG": "true",
    }
    env.pop("TECHNICAL_ERROR_PAGES", None)
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(f"{base}/healthz/live", timeout=2)
            break
        except requests.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("runserver did not start") from None
            time.sleep(0.2)
    yield base
    proc.terminate()
    proc.wait(timeout=15)


def _login(base: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{base}/login/", timeout=10)
    response = session.post(
        f"{base}/login/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{base}/login/"},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302 and response.headers["Location"] == "/", response.text
    return session


def test_with_redis_down_login_pages_and_api_keep_answering(server):
    # Hashed as the server checks it (the suite's own hasher is MD5, which the server lacks).
    password = PBKDF2PasswordHasher().encode("a-long-pass-phrase", "salt" * 4, iterations=1000)
    admin = User.objects.create(username="ada", password=password)
    admin.groups.add(Group.objects.get_or_create(name="admin")[0])
    token = ServiceToken.generate()
    ServiceToken.objects.create(
        name="app", token_hash=ServiceToken.hash(token), scopes=["consent:read", "consent:write"]
    )
    session = _login(server, "ada", "a-long-pass-phrase")

    for path in ("/", "/dashboards/", "/metrics/", "/pipeline/", "/runs/", "/privacy/", "/alerts/"):
        page = session.get(f"{server}{path}", timeout=30)
        assert page.status_code == 200, (path, page.status_code)
        assert "Log out" in page.text, path

    health = requests.get(f"{server}/healthz", timeout=30)
    assert health.status_code == 503
    assert {"broker", "cache"} <= set(health.json()["down"])
    assert "6417" not in health.text

    bearer = {"Authorization": f"Bearer {token}"}
    consent = requests.get(f"{server}/api/consent/u-12345", headers=bearer, timeout=30)
    assert consent.status_code == 200, consent.text
    assert consent.json()["identity_id"] == "u-12345"
    changed = requests.put(
        f"{server}/api/consent/u-12345",
        json={"marketing": True, "source": "api"},
        headers=bearer,
        timeout=30,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["marketing"] is True
    again = requests.get(f"{server}/api/consent/u-12345", headers=bearer, timeout=30)
    assert again.json()["marketing"] is True

    # A query needs the broker: a JSON 503 saying so, with a time to come back.
    params = {"start": {"type": "date", "value": "2026-01-25"}}
    params["end"] = {"type": "date", "value": "2026-01-31"}
    submitted = session.post(
        f"{server}/api/queries",
        json={
            "sql": "SELECT count(*) AS n FROM fact_funnel_events "
            "WHERE event_dt BETWEEN :start AND :end",
            "params": params,
        },
        headers={"X-CSRFToken": session.cookies["csrftoken"], "Referer": f"{server}/"},
        timeout=60,
    )
    assert submitted.status_code == 503, submitted.text
    assert submitted.headers["Content-Type"] == "application/json"
    assert submitted.json() == {
        "detail": "A service the portal needs is unreachable. Try again in a minute."
    }
    assert submitted.headers["Retry-After"] == "30"

    missing = session.get(f"{server}/api/no-such-endpoint", timeout=10)
    assert missing.status_code == 404
    assert missing.json() == {"detail": "There is nothing at this address."}
