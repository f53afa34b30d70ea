"""The registry's rules on schema pairs: required fields added, removed or relaxed, under minor
and major versions; the PII allowlist; what changed; change rates."""

from datetime import date

import pytest

from pipeline.schemas import (
    SchemaError,
    Version,
    change_counts,
    diff,
    drift,
    in_place_drift,
    parse_schema,
    pii_findings,
    registry_findings,
)


def schema(version="1.0", required=("a", "b"), properties=None, event="search", released=None):
    props = properties or {name: {"type": "string"} for name in ("a", "b", "c")}
    document = {
        "x-event": event,
        "x-version": version,
        "x-released": released or "2026-01-01",
        "type": "object",
        "properties": props,
        "required": list(required),
    }
    return parse_schema(document, source=f"{event}/v{version}.json")


def fields(findings):
    return [(f.event, f.version, f.field) for f in findings]


def test_a_minor_version_that_adds_a_required_field_drifts():
    findings = drift(schema("1.0", ("a",)), schema("1.1", ("a", "b")))
    assert fields(findings) == [("search", "v1.1", "b")]
    assert "required field 'b' added without a new major version (was v1.0)" in str(findings[0])


def test_a_minor_version_that_removes_a_required_field_drifts():
    without_b = {"a": {"type": "string"}}
    findings = drift(schema("1.0", ("a", "b")), schema("1.1", ("a",), properties=without_b))
    assert fields(findings) == [("search", "v1.1", "b")]
    assert "'b' removed" in findings[0].message


def test_a_minor_version_that_relaxes_a_required_field_drifts():
    findings = drift(schema("2.3", ("a", "b")), schema("2.4", ("a",)))
    assert fields(findings) == [("search", "v2.4", "b")]
    assert "'b' relaxed to optional" in findings[0].message


def test_a_minor_version_may_add_an_optional_field():
    old = schema("1.0", ("a",), properties={"a": {"type": "string"}})
    new = schema("1.1", ("a",), properties={"a": {"type": "string"}, "z": {"type": "integer"}})
    assert drift(old, new) == []


@pytest.mark.parametrize("required", [("a",), ("a", "b", "c"), ("c",)])
def test_a_major_version_may_change_required_fields(required):
    assert drift(schema("1.4", ("a", "b")), schema("2.0", required)) == []


def test_registry_compares_each_version_with_the_one_before_not_the_first():
    versions = [schema("1.0", ("a",)), schema("2.0", ("a", "b")), schema("2.1", ("a", "b", "c"))]
    assert fields(registry_findings(versions)) == [("search", "v2.1", "c")]


def test_registry_orders_versions_numerically():
    # v1.10 comes after v1.9: the same required fields, so no drift between them.
    versions = [schema("1.10", ("a", "b")), schema("1.9", ("a", "b")), schema("1.2", ("a", "b"))]
    assert registry_findings(versions) == []


def test_a_version_registered_twice_is_a_finding():
    findings = registry_findings([schema("1.0"), schema("1.0")])
    assert fields(findings) == [("search", "v1.0", None)]
    assert "registered twice" in findings[0].message


def test_editing_a_released_version_in_place():
    base = schema("1.2", ("a", "b"))
    assert fields(in_place_drift(base, schema("1.2", ("a",)))) == [("search", "v1.2", "b")]
    assert in_place_drift(base, schema("1.2", ("a", "b"), properties={"a": {}, "b": {}})) == []
    renamed = in_place_drift(base, schema("2.0", ("a", "b")))
    assert "now says v2.0" in renamed[0].message


def test_fields_that_look_like_personal_data_must_be_on_the_allowlist():
    properties = {
        "city": {"type": "string"},  # allowlisted
        "email": {"type": "string"},
        "contact": {"type": "object", "properties": {"phone_number": {"type": "string"}}},
        "guests": {"type": "array", "items": {"properties": {"first_name": {}}}},
        "results_count": {"type": "integer"},
    }
    findings = pii_findings(schema("1.0", (), properties=properties))
    assert fields(findings) == [
        ("search", "v1.0", "email"),
        ("search", "v1.0", "first_name"),
        ("search", "v1.0", "phone_number"),
    ]


def test_diff_says_what_changed():
    old = schema("1.0", ("a", "b"), properties={"a": {"type": "string"}, "b": {}, "c": {}})
    new = schema(
        "2.0", ("a", "c"), properties={"a": {"type": "integer"}, "b": {}, "c": {}, "d": {}}
    )
    changes = diff(old, new)
    assert changes.added == ("d",) and changes.removed == ()
    assert changes.now_required == ("c",) and changes.now_optional == ("b",)
    assert changes.retyped == ("a",) and not changes.is_empty
    assert diff(old, old).is_empty


def test_change_counts_count_replacements_inside_the_window():
    versions = [
        schema("1.0", released="2025-01-01"),  # birth, never a change
        schema("1.1", released="2025-12-20"),  # 42 days before as_of
        schema("2.0", released="2026-01-25"),  # 6 days before
        schema("2.1", released="2026-02-05"),  # after as_of: not yet
        schema("1.0", event="page_view", released="2026-01-30"),
    ]
    as_of = date(2026, 1, 31)
    assert change_counts(versions, as_of, 30) == {"search": 1, "page_view": 0}
    assert change_counts(versions, as_of, 90) == {"search": 2, "page_view": 0}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "must be a JSON object"),
        ({"x-version": "1.0"}, "x-event must be the event name"),
        ({"x-event": "e", "x-version": "1"}, "x-version must look like 3.1"),
        ({"x-event": "e", "x-version": "1.0", "x-released": "31/01/2026"}, "Invalid isoformat"),
        (
            {"x-event": "e", "x-version": "1.0", "x-released": "2026-01-31", "type": "array"},
            'type must be "object"',
        ),
        (
            {
                "x-event": "e",
                "x-version": "1.0",
                "x-released": "2026-01-31",
                "type": "object",
                "properties": {"a": {}},
                "required": ["b"],
            },
            "required field 'b' is not in properties",
        ),
    ],
)
def test_malformed_schemas_are_refused_with_a_reason(document, message):
    with pytest.raises(SchemaError, match=message):
        parse_schema(document, source="e/v1.0.json")


def test_versions_compare_numerically():
    assert Version.parse("1.10") > Version.parse("1.9") > Version.parse("0.12")
    assert str(Version.parse("3.0")) == "v3.0"
