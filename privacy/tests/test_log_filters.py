"""Identity and user ids do not reach the request logs: runserver's (django.server) and
gunicorn's access log, as the real servers write them, and Django's request warnings."""

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from privacy.log_filters import mask_ids

IDENTITY, USER = "idn_3fa9c01b2e7d", "usr_0c41d9e07a55"
# Paths carrying ids as apps and people call them; "leipzig" is an id no format matches.
PATHS = [
    f"/api/consent/{IDENTITY}",
    "/api/consent/leipzig/pixels",
    "/privacy/consent/?identity_id=leipzig&tab=history",
    f"/experiments/checkout/assignment?unit=someone-else&x={USER}",
]
SECRETS = (IDENTITY, USER, "leipzig", "someone-else")


CASES = [  # (logged, written)
    (f'"GET /api/consent/{IDENTITY} HTTP/1.1" 401', '"GET /api/consent/<id> HTTP/1.1" 401'),
    ("Unauthorized: /api/consent/a.b:c-d/pixels", "Unauthorized: /api/consent/<id>/pixels"),
    ("/privacy/consent/?identity_id=leipzig&f=x", "/privacy/consent/?identity_id=<id>&f=x"),
    (
        "/login/?next=/p/%3Fidentity_id%3Dleipzig%26t%3D1",
        "/login/?next=/p/%3Fidentity_id%3D<id>%26t%3D1",
    ),
    ("/x?referee_user_id=u1;unit=idn_1", "/x?referee_user_id=<id>;unit=<id>"),
    (f"for {USER}, not {USER}0 nor x{IDENTITY}", f"for <id>, not {USER}0 nor x{IDENTITY}"),
    ("/metrics/?start=2026-01-01&event=app.start", "/metrics/?start=2026-01-01&event=app.start"),
]


@pytest.mark.parametrize(("line", "masked"), CASES)
def test_ids_are_masked_and_nothing_else(line, masked):
    assert mask_ids(line) == masked


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_and_call(command: list[str], port: int, tmp_path: Path) -> str:
    """Start a real server, request every path of PATHS, stop it; what it logged."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CI")}
    env |= {"VAR_DIR": str(tmp_path), "CACHE_KEY_PREFIX": "logtest", "LOG_LEVEL": "INFO"}
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    assert server.poll() is None, log.read_text()
                    assert time.monotonic() < deadline, "the server did not start"
                    time.sleep(0.2)
            for path in PATHS:
                # 401, 403, 404: logged all the same.
                with contextlib.suppress(urllib.error.HTTPError):
                    urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=60)
            # A server logs a request after answering it: wait for the last one's line.
            last = PATHS[-1].partition("?")[0] + "?"
            while not any(last in line and "HTTP/1.1" in line for line in log.open()):
                assert time.monotonic() < deadline, "the server did not log the last request"
                time.sleep(0.1)
        finally:
            server.terminate()
            server.wait(timeout=60)
    return log.read_text()


def assert_masked(text: str) -> None:
    assert "/api/consent/<id>" in text and "/api/consent/<id>/pixels" in text, text
    assert "identity_id=<id>&tab=history" in text, text
    assert "unit=<id>&x=<id>" in text, text
    leaked = [s for s in SECRETS if s in text]
    assert not leaked, text


def test_runserver_request_lines_and_warnings_hold_no_ids(tmp_path):
    port = free_port()
    command = [sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks"]
    text = serve_and_call([*command, f"127.0.0.1:{port}"], port, tmp_path)
    assert '"GET /api/consent/<id> HTTP/1.1"' in text  # django.server's request line
    assert_masked(text)


def test_gunicorn_access_log_holds_no_ids(tmp_path):
    port = free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [str(gunicorn), "portal.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
    text = serve_and_call([*command, "--access-logfile", "-"], port, tmp_path)
    assert '"GET /api/consent/<id> HTTP/1.1" 40' in text  # gunicorn's access line
    assert_masked(text)
