"""The schema registry on disk: ``<root>/<event name>/v<major>.<minor>.json``, and the same files
at a git revision (for the CI check against the base branch)."""

import json
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pipeline.schemas import (
    EventSchema,
    Finding,
    SchemaError,
    in_place_drift,
    parse_schema,
    registry_findings,
)


class GitError(RuntimeError):
    pass


@dataclass(frozen=True)
class Registry:
    schemas: tuple[EventSchema, ...]
    errors: tuple[Finding, ...]  # files that could not be read as schemas
    files: frozenset[str]  # every file read, relative to the registry root

    def findings(self) -> list[Finding]:
        return [*self.errors, *registry_findings(self.schemas)]


def _parse_file(relative: str, text: str) -> EventSchema:
    """A schema from one file's text; its place in the registry must match what it says."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise SchemaError(f"{relative}: not valid JSON ({err.msg}, line {err.lineno})") from None
    schema = parse_schema(document, source=relative)
    folder, name = Path(relative).parent.name, Path(relative).name
    if folder != schema.event:
        raise SchemaError(f"{relative}: x-event {schema.event!r} does not match folder {folder!r}")
    if name != f"{schema.version}.json":
        raise SchemaError(
            f"{relative}: x-version {schema.version} needs file name {schema.version}.json"
        )
    return schema


def _error(relative: str, err: SchemaError) -> Finding:
    parts = Path(relative).parts
    event = parts[-2] if len(parts) >= 2 else relative
    return Finding(event, Path(relative).stem, None, str(err).removeprefix(f"{relative}: "))


def _build(files: dict[str, str]) -> Registry:
    schemas, errors = [], []
    for relative, text in sorted(files.items()):
        try:
            schemas.append(_parse_file(relative, text))
        except SchemaError as err:
            errors.append(_error(relative, err))
    return Registry(tuple(schemas), tuple(errors), frozenset(files))


def _files_on_disk(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): path.read_text(encoding="utf-8")
        for path in sorted(root.glob("*/*.json"))
    }


def load(root: Path) -> Registry:
    return _build(_files_on_disk(root))


@lru_cache(maxsize=4)
def _cached(root: str, stamp: tuple) -> Registry:
    return load(Path(root))


def load_cached(root: Path) -> Registry:
    """The registry, re-read only when a file was added, removed or changed (for pages)."""
    stamp = tuple((str(p), p.stat().st_mtime_ns) for p in sorted(root.glob("*/*.json")))
    return _cached(str(root), stamp)


def _git(repo: Path, *args: str) -> str:
    try:
        proc = subprocess.run(
            ["git", "-C", str(repo), *args],  # noqa: S607 (git from PATH, as CI has it)
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        raise GitError("git is not installed") from None
    if proc.returncode != 0:
        raise GitError(proc.stderr.strip() or f"git {' '.join(args)} failed")
    return proc.stdout


def _repository(root: Path) -> tuple[Path, str]:
    """The git repository holding ``root``, and ``root``'s path inside it."""
    repo = Path(_git(root, "rev-parse", "--show-toplevel").strip())
    try:
        return repo, root.resolve().relative_to(repo.resolve()).as_posix()
    except ValueError:
        raise GitError(f"{root} is not inside the git repository {repo}") from None


def _is_schema_file(name: str, prefix: str) -> bool:
    return name.endswith(".json") and name.count("/") == prefix.count("/") + 2


def files_at(root: Path, ref: str) -> dict[str, str]:
    """The registry's files at git revision ``ref``, keyed like ``_files_on_disk``."""
    repo, prefix = _repository(root)
    try:
        _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except GitError:
        raise GitError(f"{ref!r} is not a git revision") from None
    names = _git(repo, "ls-tree", "-r", "--name-only", ref, "--", prefix).splitlines()
    return {
        name.removeprefix(prefix + "/"): _git(repo, "show", f"{ref}:{name}")
        for name in names
        if _is_schema_file(name, prefix)
    }


def files_as_released(root: Path) -> dict[str, str]:
    """Every registry file ever committed, as the commit that added it had it: a version is
    released once committed, so what it was then is what producers and readers rely on. A
    file never committed is not released yet."""
    repo, prefix = _repository(root)
    # The first parent only: a version first committed on a merged branch is released by the
    # merge, as the merge had it. Without renames: a moved file is a new one, and its old
    # path a deleted release.
    log = _git(
        repo, "log", "--first-parent", "--no-renames", "--diff-filter=A", "--reverse",
        "--format=commit %H", "--name-only", "--", prefix,
    )  # fmt: skip
    added: dict[str, str] = {}
    commit = ""
    for line in log.splitlines():
        if line.startswith("commit "):
            commit = line.removeprefix("commit ")
        elif _is_schema_file(line, prefix):
            added.setdefault(line, commit)
    return {
        name.removeprefix(prefix + "/"): _git(repo, "show", f"{commit}:{name}")
        for name, commit in added.items()
    }


def check(root: Path, base: str | None = None, released: bool = False) -> list[Finding]:
    """Every problem of the registry at ``root``; with ``base``, also released versions edited
    in place or deleted since that git revision; with ``released``, since the commit that
    added each (what CI checks: an edit in place is caught even once it is committed)."""
    registry = load(root)
    findings = registry.findings()
    if base is not None:
        findings += _changed(registry, _build(files_at(root, base)), f"since {base}")
    if released:
        findings += _changed(registry, _build(files_as_released(root)), "since its release")
    return findings


def _changed(registry: Registry, before: Registry, since: str) -> list[Finding]:
    current = {s.source: s for s in registry.schemas}
    findings = []
    for old in before.schemas:
        if old.source not in registry.files:
            message = f"deleted {since}; released versions stay in the registry"
            findings.append(Finding(old.event, str(old.version), None, message))
        elif (new := current.get(old.source)) is not None:
            findings += in_place_drift(old, new)
    return findings
