"""The install refuses a lock that no longer satisfies pyproject.toml (tools/check_lock.py)."""

import tomllib
from pathlib import Path

from tools.check_lock import locked_versions, mismatches

ROOT = Path(__file__).resolve().parent.parent
LOCK = """\
django==5.2.20 \\
    --hash=sha256:00
celery[redis]==5.7.0 \\
    --hash=sha256:11
    # via portal
"""


def _project(*dependencies: str, dev: tuple[str, ...] = ()) -> dict:
    return {"dependencies": list(dependencies), "optional-dependencies": {"dev": list(dev)}}


def test_the_committed_lock_satisfies_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    locked = locked_versions((ROOT / "requirements.lock").read_text())
    assert mismatches(project, locked) == []
    # Every pin carries hashes: pip installs it with --require-hashes.
    assert "--hash=sha256:" in (ROOT / "requirements.lock").read_text()


def test_pins_are_read_with_normalised_names_and_extras_dropped():
    assert locked_versions(LOCK) == {"django": "5.2.20", "celery": "5.7.0"}


def test_a_range_the_pin_is_outside_of_is_reported():
    problems = mismatches(_project("Django>=5.1,<5.2"), locked_versions(LOCK))
    assert problems == ["Django==5.2.20 is outside <5.2,>=5.1"]


def test_a_requirement_missing_from_the_lock_is_reported_dev_extra_included():
    problems = mismatches(_project("celery[redis]>=5.4", dev=("pytest>=8",)), locked_versions(LOCK))
    assert problems == ["pytest is not in requirements.lock"]


def test_a_requirement_for_another_python_is_not_required():
    assert mismatches(_project("tomli>=2; python_version < '3.11'"), locked_versions(LOCK)) == []
