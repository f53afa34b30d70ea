"""Event schema files written for the registry tests, and the git they are committed with."""

import json
import subprocess
from pathlib import Path


def write(root: Path, event: str, version: str, required=("a",), **extra) -> Path:
    document = {
        "x-event": event,
        "x-version": version,
        "x-released": "2026-01-01",
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
        "required": list(required),
        **extra,
    }
    path = root / event / f"v{version}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return path


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        check=True,
        capture_output=True,
    )
