"""The registry on disk and in git, and the project's own registry against the lake."""

import json
from pathlib import Path

import jsonschema
import pandas as pd
import pytest

from pipeline import registry
from pipeline.schemas import by_event
from pipeline.tests.schema_files import git, write

PROJECT_REGISTRY = Path(__file__).resolve().parents[2] / "analytics" / "schemas"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "analytics" / "schemas"
    write(root, "search", "1.0")
    write(root, "search", "1.1", required=("a",))
    write(root, "page_view", "2.0", required=("a", "b"))
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "registry")
    return root


def test_files_that_are_not_schemas_are_findings_naming_the_file(tmp_path):
    write(tmp_path, "search", "1.0")
    (tmp_path / "search" / "v1.1.json").write_text("{not json")
    write(tmp_path, "elsewhere", "1.0", **{"x-event": "search"})
    moved = write(tmp_path, "page_view", "1.0")
    moved.rename(moved.with_name("v1.5.json"))
    loaded = registry.load(tmp_path)
    assert [s.label for s in loaded.schemas] == ["search v1.0"]
    messages = sorted(str(f) for f in loaded.findings())
    assert messages == [
        "elsewhere v1.0: x-event 'search' does not match folder 'elsewhere'",
        "page_view v1.5: x-version v1.0 needs file name v1.0.json",
        "search v1.1: not valid JSON (Expecting property name enclosed in double quotes, line 1)",
    ]


def test_a_released_version_edited_in_place_is_caught_against_the_base(repo):
    write(repo, "page_view", "2.0", required=("a",))  # relaxes b in place
    assert registry.load(repo).findings() == []  # nothing to compare with without git
    findings = registry.check(repo, base="HEAD")
    assert [(f.event, f.version, f.field) for f in findings] == [("page_view", "v2.0", "b")]
    assert "relaxed to optional in a released version" in findings[0].message


def test_a_deleted_version_is_caught_against_the_base(repo):
    (repo / "search" / "v1.1.json").unlink()
    findings = registry.check(repo, base="HEAD")
    assert [str(f) for f in findings] == [
        "search v1.1: deleted since HEAD; released versions stay in the registry"
    ]


def test_new_versions_are_compared_with_their_predecessor(repo):
    write(repo, "search", "1.2", required=("a", "b"))  # adds b in a minor version
    write(repo, "page_view", "3.0", required=())  # a new major may drop everything
    findings = registry.check(repo, base="HEAD")
    assert [(f.event, f.version, f.field) for f in findings] == [("search", "v1.2", "b")]


def test_an_unknown_base_is_an_error(repo):
    with pytest.raises(registry.GitError, match="'no-such-ref' is not a git revision"):
        registry.check(repo, base="no-such-ref")


def test_the_project_registry_has_no_problems():
    assert registry.check(PROJECT_REGISTRY) == []


def test_the_project_registry_describes_every_event_in_the_lake(small_lake):
    """Every event name and version in bronze is registered, and its payloads validate."""
    raw = pd.read_parquet(
        small_lake / "bronze" / "raw_events", columns=["event_name", "schema_version", "payload"]
    )
    versions = by_event(registry.load(PROJECT_REGISTRY).schemas)
    validators = {
        (event, s.version.major): jsonschema.Draft202012Validator(
            json.loads((PROJECT_REGISTRY / s.source).read_text())
        )
        for event, schemas in versions.items()
        for s in schemas  # the newest minor of a major wins: schemas are sorted
    }
    seen = set(zip(raw.event_name, raw.schema_version.astype(int), strict=True))
    assert seen <= validators.keys(), seen - validators.keys()
    sample = raw.groupby(["event_name", "schema_version"]).head(200)
    for row in sample.itertuples(index=False):
        validators[(row.event_name, int(row.schema_version))].validate(json.loads(row.payload))
