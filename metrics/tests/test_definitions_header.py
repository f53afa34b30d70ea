"""The header of a metric file: fields, values, and errors naming file and line."""

import pytest

from metrics.definitions import Metric
from metrics.tests.definition_samples import HEADER, QUERY, errors, parse


def replaced(line_start: str, new: str) -> str:
    lines = [new if line.startswith(line_start) else line for line in HEADER.splitlines()]
    return "\n".join(line for line in lines if line is not None) + "\n" + QUERY


def test_a_good_file_gives_a_metric():
    metric = parse(HEADER + QUERY)
    assert isinstance(metric, Metric)
    assert metric.slug == "demo_rate"
    assert metric.description == (
        "Share of demo things; a long description continues on the next line."
    )
    assert metric.grains == ("day", "week")  # in canonical order
    assert metric.dimensions == ("listing_kind",)
    assert metric.higher_is_better is True
    assert metric.version == 2
    assert metric.history == ((1, "First."), (2, "Second."))
    assert metric.audience is None
    assert metric.is_ratio
    assert metric.header_line_count == 15
    assert metric.sql.startswith("SELECT")
    assert metric.area_title == "Growth"


@pytest.mark.parametrize(
    ("line_start", "new", "line", "fragment"),
    [
        ("-- area:", "-- area: finance", 6, "area: 'finance' is not one of"),
        ("-- unit:", "-- unit: furlongs", 7, "unit: 'furlongs' is not one of"),
        ("-- format:", "-- format: duration", 8, "does not suit unit ratio"),
        ("-- grains:", "-- grains: day, hour", 9, "grains:"),
        ("-- higher_is_better:", "-- higher_is_better: yes", 11, "true or false"),
        ("-- version:", "-- version: two", 12, "a whole number"),
        ("-- timezone:", "-- timezone: Mars/Olympus", 13, "not an IANA time zone"),
        ("-- slug:", "-- slug: other_rate", 1, "does not match the file name demo_rate.sql"),
        ("-- history: 2", "-- history: two: Second.", 15, "should read '<version>: <what"),
        ("-- dimensions:", "-- dimensions: split_by", 10, "not a usable dimension name"),
    ],
)
def test_bad_values_name_file_and_line(line_start, new, line, fragment):
    found = errors(replaced(line_start, new))
    assert any(e.startswith(f"demo_rate.sql:{line}: ") and fragment in e for e in found), found


def test_missing_fields_are_named():
    text = HEADER.replace("-- owner: someone\n", "").replace("-- timezone: UTC\n", "") + QUERY
    assert errors(text) == ("demo_rate.sql:1: header is missing owner, timezone",)


def test_unknown_and_repeated_fields():
    text = HEADER.replace(
        "-- owner: someone\n", "-- owner: someone\n-- owner: else\n-- colour: red\n"
    )
    found = errors(text + QUERY)
    assert "demo_rate.sql:6: header field 'owner' given twice" in found
    assert "demo_rate.sql:7: unknown header field 'colour'" in found


def test_the_current_version_needs_a_history_note():
    found = errors(HEADER.replace("-- history: 2: Second.\n", "") + QUERY)
    assert any("no history note for version 2" in e for e in found)


def test_a_line_that_is_no_field():
    found = errors(
        HEADER.replace("-- owner: someone\n", "-- owner: someone\n-- just words\n") + QUERY
    )
    assert "demo_rate.sql:6: header lines must read '-- key: value'" in found


def test_a_continuation_before_any_field():
    assert "demo_rate.sql:1: continuation line before any header field" in errors(
        "--   dangling\n" + HEADER + QUERY
    )


def test_audience_must_be_a_restricted_role():
    text = HEADER.replace("-- timezone: UTC\n", "-- timezone: UTC\n-- audience: everyone\n")
    assert any(
        "audience: 'everyone' is not one of support, finance, privacy" in e
        for e in errors(text + QUERY)
    )
