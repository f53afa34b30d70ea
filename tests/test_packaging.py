"""A built (non-editable) install ships every package the running portal imports."""

import fnmatch
import tomllib
from pathlib import Path

from tests.test_import_graph import NOT_APPS, apps

ROOT = Path(__file__).resolve().parent.parent


def test_every_app_and_the_bottom_layer_are_in_the_package_list():
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = find["packages"]["find"]["include"]
    missing = [app for app in sorted(apps()) if not any(fnmatch.fnmatch(app, p) for p in patterns)]
    assert missing == [], f"not shipped by pyproject.toml's packages.find: {missing}"
    assert "core" in apps() and not NOT_APPS & set(apps())
