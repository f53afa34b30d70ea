"""Start-up with bad or production configuration, in fresh processes (settings load once)."""

import os
import subprocess
import sys

from django.conf import settings


def _django(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **env}
    full_env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_unknown_warehouse_stops_startup_naming_the_variable():
    result = _django({"WAREHOUSE": "oracle"}, "check")
    assert result.returncode != 0
    assert (
        "WAREHOUSE must be one of duckdb, athena, redshift, postgres; got 'oracle'" in result.stderr
    )


def test_engine_settings_are_required_for_the_chosen_engine():
    result = _django({"WAREHOUSE": "athena", "ATHENA_S3_OUTPUT": ""}, "check")
    assert result.returncode != 0
    assert "ATHENA_S3_OUTPUT is required when WAREHOUSE=athena" in result.stderr


def test_production_requires_a_secret_key():
    result = _django({"PORTAL_ENV": "production", "SECRET_KEY": ""}, "check")
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def test_production_settings_pass_the_deploy_check(tmp_path):
    result = _django(
        {
            "PORTAL_ENV": "production",
            "SECRET_KEY": "x" * 20 + "-a-long-random-production-secret-key-0123456789",
            "ALLOWED_HOSTS": "portal.example.com",
            "VAR_DIR": str(tmp_path),
        },
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout
