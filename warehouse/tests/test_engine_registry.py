"""The engines by name: one list (core.engines) that settings, the registry and the write paths
read, and a write session on every remote engine."""

import subprocess
import sys

import pytest
from django.conf import settings as django_settings

from core.engines import EMBEDDED_ENGINE, ENGINE_NAMES, REMOTE_ENGINES
from warehouse.engines.postgres import LAKE_SCHEMA
from warehouse.engines.registry import get_engine, get_remote_engine

# The apps besides portal, whose package holds the settings.
APPS = ("warehouse", "alerts", "metrics", "experiments", "privacy", "pipeline")


def test_every_named_engine_is_built_with_its_own_name(settings):
    settings.WAREHOUSE_POSTGRES_URL = "postgresql://u@h/db"
    assert [(get_engine(n).name, get_engine(n).dialect) for n in ENGINE_NAMES] == [
        (n, n) for n in ENGINE_NAMES
    ]
    assert set(REMOTE_ENGINES) == set(ENGINE_NAMES) - {EMBEDDED_ENGINE}


def test_every_remote_engine_has_a_write_session_where_the_lake_is(settings):
    settings.WAREHOUSE_POSTGRES_URL = "postgresql://u@h/db"
    settings.ATHENA = {**settings.ATHENA, "database": "analytics_prod"}
    engines = {name: get_remote_engine(name) for name in REMOTE_ENGINES}
    # The schema the statements name: Athena's database, the loader's schema, Redshift's own.
    assert {name: e.schema for name, e in engines.items()} == {
        "athena": "analytics_prod",
        "redshift": None,
        "postgres": LAKE_SCHEMA,
    }
    assert all(callable(e.write_session) for e in engines.values())
    settings.WAREHOUSE = "postgres"
    assert get_remote_engine().name == "postgres"


def test_the_embedded_lake_has_no_write_session(settings):
    settings.WAREHOUSE = EMBEDDED_ENGINE
    with pytest.raises(ValueError, match="no write session for engine 'duckdb'"):
        get_remote_engine()
    with pytest.raises(ValueError, match="unknown warehouse engine 'oracle'"):
        get_engine("oracle")


def test_settings_read_the_engine_list_without_importing_an_app():
    """Settings load before the apps: importing an app module from them would import
    django.conf.settings half-built (and make portal depend on every app)."""
    code = (
        "import sys, portal.settings as s; "
        f"print(s.WAREHOUSE, *sorted(m for m in sys.modules if m.split('.')[0] in {APPS!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=django_settings.BASE_DIR,
        env={
            "VAR_DIR": str(django_settings.VAR_DIR),
            "PATH": "",
            "WAREHOUSE": "redshift",
            "REDSHIFT_HOST": "h",
            "REDSHIFT_USER": "u",
            "REDSHIFT_PASSWORD": "p",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["redshift"]
