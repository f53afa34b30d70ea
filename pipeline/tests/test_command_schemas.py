"""`manage.py schemas check`: what CI runs."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from pipeline.tests.schema_files import git, write


def check(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("schemas", "check", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_a_clean_registry_passes(tmp_path):
    write(tmp_path, "search", "1.0")
    out, err = check("--root", str(tmp_path))
    assert "no problems" in out and err == ""


def test_drift_fails_naming_event_version_and_field(tmp_path):
    write(tmp_path, "search", "1.0", required=("a",))
    write(tmp_path, "search", "1.1", required=("a", "b"))
    err = io.StringIO()
    with pytest.raises(CommandError, match=r"1 schema problem\(s\)"):
        call_command("schemas", "check", "--root", str(tmp_path), stderr=err)
    assert err.getvalue().strip() == (
        "search v1.1: required field 'b' added without a new major version (was v1.0)"
    )


def test_a_personal_data_field_fails(tmp_path):
    write(tmp_path, "page_view", "1.0", properties={"a": {}, "email": {"type": "string"}})
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("schemas", "check", "--root", str(tmp_path), stderr=err)
    assert "page_view v1.0: field 'email' looks like personal data" in err.getvalue()


def test_base_ref_catches_an_edit_in_place(tmp_path):
    root = tmp_path / "schemas"
    path = write(root, "search", "1.0", required=("a", "b"))
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "v1.0")
    document = json.loads(path.read_text())
    document["required"] = ["a"]
    path.write_text(json.dumps(document))
    check("--root", str(root))  # alone, the file is fine
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("schemas", "check", "--root", str(root), "--base", "HEAD", stderr=err)
    assert "search v1.0: required field 'b' relaxed to optional in a released version" in (
        err.getvalue()
    )


def commit(repo, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def test_released_catches_an_edit_in_place_even_once_committed(tmp_path):
    root = tmp_path / "schemas"
    path = write(root, "search", "1.0", required=("a", "b"))
    write(root, "page_view", "1.0", required=("a",))
    git(tmp_path, "init", "-q")
    commit(tmp_path, "v1.0")
    document = json.loads(path.read_text())
    document["required"] = ["a"]
    path.write_text(json.dumps(document))
    (root / "page_view" / "v1.0.json").unlink()
    commit(tmp_path, "relax search 1.0 in place, drop page_view 1.0")
    write(root, "search", "2.0", required=("a",))  # a new version: not released yet
    check("--root", str(root), "--base", "HEAD")  # against the last commit: nothing changed
    err = io.StringIO()
    with pytest.raises(CommandError, match=r"2 schema problem\(s\)"):
        call_command("schemas", "check", "--root", str(root), "--released", stderr=err)
    assert sorted(err.getvalue().splitlines()) == [
        "page_view v1.0: deleted since its release; released versions stay in the registry",
        "search v1.0: required field 'b' relaxed to optional in a released version "
        "(publish a new major version)",
    ]


def test_make_test_checks_the_registry_against_its_releases():
    """CI runs `make test`: a relaxed required field fails it even when committed on main."""
    with open("Makefile") as makefile:
        recipe = makefile.read().split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "manage.py schemas check --released" in recipe


def test_bad_arguments_are_one_readable_line(tmp_path):
    with pytest.raises(CommandError, match=r"--root .* is not a directory"):
        check("--root", str(tmp_path / "missing"))
    write(tmp_path, "search", "1.0")
    with pytest.raises(CommandError, match=r"--base: .*git"):
        check("--root", str(tmp_path), "--base", "main")
