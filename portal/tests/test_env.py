import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.env import env_bool, env_choice, env_float, env_int, env_int_map, env_list, env_str


def test_env_str_required_names_the_variable(monkeypatch):
    monkeypatch.delenv("PORTAL_TEST_X", raising=False)
    with pytest.raises(ImproperlyConfigured, match="PORTAL_TEST_X"):
        env_str("PORTAL_TEST_X")
    assert env_str("PORTAL_TEST_X", "fallback") == "fallback"


@pytest.mark.parametrize(
    ("reader", "raw", "expected"),
    [
        (env_int, "42", 42),
        (env_float, "2.5", 2.5),
        (env_bool, "yes", True),
        (env_bool, "off", False),
    ],
)
def test_typed_readers_parse(monkeypatch, reader, raw, expected):
    monkeypatch.setenv("PORTAL_TEST_X", raw)
    assert reader("PORTAL_TEST_X", None) == expected


@pytest.mark.parametrize(
    ("reader", "raw"), [(env_int, "4.5"), (env_float, "abc"), (env_bool, "maybe")]
)
def test_typed_readers_fail_loudly(monkeypatch, reader, raw):
    monkeypatch.setenv("PORTAL_TEST_X", raw)
    with pytest.raises(ImproperlyConfigured, match=r"PORTAL_TEST_X.*" + raw):
        reader("PORTAL_TEST_X", None)


def test_env_choice_rejects_unknown_value(monkeypatch):
    monkeypatch.setenv("PORTAL_TEST_X", "Oracle")
    with pytest.raises(ImproperlyConfigured, match="PORTAL_TEST_X must be one of a, b"):
        env_choice("PORTAL_TEST_X", ("a", "b"), "a")
    monkeypatch.setenv("PORTAL_TEST_X", "B")
    assert env_choice("PORTAL_TEST_X", ("a", "b"), "a") == "b"


def test_env_list_splits_and_trims(monkeypatch):
    monkeypatch.setenv("PORTAL_TEST_X", " a.example, b.example ,,")
    assert env_list("PORTAL_TEST_X") == ["a.example", "b.example"]


def test_env_int_map_names_override_defaults_one_by_one(monkeypatch):
    defaults = {"kept": 0, "replaced": 5}
    monkeypatch.delenv("PORTAL_TEST_X", raising=False)
    assert env_int_map("PORTAL_TEST_X", defaults) == defaults
    monkeypatch.setenv("PORTAL_TEST_X", " replaced = 7 ,added=-1")
    assert env_int_map("PORTAL_TEST_X", defaults) == {"kept": 0, "replaced": 7, "added": -1}
    assert defaults == {"kept": 0, "replaced": 5}  # not changed in place
    for raw in ("a=x", "a", "=3", "a=1.5"):
        monkeypatch.setenv("PORTAL_TEST_X", raw)
        with pytest.raises(ImproperlyConfigured, match=f"PORTAL_TEST_X items .*{raw!r}"):
            env_int_map("PORTAL_TEST_X", defaults)
