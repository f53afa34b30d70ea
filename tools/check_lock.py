"""Fail when requirements.lock does not satisfy pyproject.toml (run `make lock` to refresh it).

Every requirement of the project and of its dev extra must be pinned in the lock, at a version
inside pyproject's range; the lock is what every install uses, so a range edited without
re-locking would otherwise go unnoticed.
"""

import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def locked_versions(lock_text: str) -> dict[str, str]:
    return {
        canonicalize_name(match.group(1)): match.group(2)
        for line in lock_text.splitlines()
        if (match := PIN.match(line))
    }


def mismatches(project: dict, locked: dict[str, str]) -> list[str]:
    wanted = [*project["dependencies"], *project["optional-dependencies"].get("dev", [])]
    problems = []
    for text in wanted:
        requirement = Requirement(text)
        if requirement.marker and not requirement.marker.evaluate({"python_version": "3.11"}):
            continue
        version = locked.get(canonicalize_name(requirement.name))
        if version is None:
            problems.append(f"{requirement.name} is not in requirements.lock")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{requirement.name}=={version} is outside {requirement.specifier}")
    return problems


def main() -> int:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    problems = mismatches(project, locked_versions((ROOT / "requirements.lock").read_text()))
    for problem in problems:
        print(f"requirements.lock disagrees with pyproject.toml: {problem}; run `make lock`.")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
