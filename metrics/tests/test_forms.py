"""WindowForm: the controls of dashboards and metric pages, from the query string."""

from datetime import date

import pytest

from metrics.forms import WindowForm

TODAY = date(2026, 12, 1)


def form(query: dict[str, str], dimensions: tuple[str, ...] = ("listing_kind",)) -> WindowForm:
    return WindowForm(
        query,
        data_as_of="2026-01-31",
        days=28,
        grain="day",
        compare=True,
        today=TODAY,
        dimensions=dimensions,
    )


def test_defaults_the_last_28_days_of_data_compared_with_the_previous_period_unfiltered():
    chosen = form({})
    assert chosen.is_valid()
    assert (chosen.cleaned_data["start"], chosen.cleaned_data["end"]) == (
        date(2026, 1, 4),
        date(2026, 1, 31),
    )
    assert chosen.comparison == "previous" and chosen.filters == {}


@pytest.mark.parametrize("compare", ["previous", "wow", "yoy", "none"])
def test_every_comparison_is_a_choice(compare):
    chosen = form({"compare": compare})
    assert chosen.is_valid() and chosen.comparison == compare


def test_filters_are_the_dimensions_given_a_value_and_nothing_else():
    chosen = form(
        {"listing_kind": " studio ", "channel": "email", "surface": ""},
        dimensions=("listing_kind", "surface"),
    )
    assert chosen.is_valid()
    assert chosen.filters == {"listing_kind": "studio"}


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"compare": "mom"}, "compare", "Select a valid choice."),
        ({"listing_kind": "*"}, "listing_kind", "'*' is not a value; leave it empty for all"),
        ({"listing_kind": "x" * 201}, "listing_kind", "Ensure this value has at most 200"),
        ({"listing_kind": "a\x00b"}, "listing_kind", "Null characters are not allowed."),
    ],
)
def test_a_bad_control_names_its_field(query, field, message):
    chosen = form(query)
    assert not chosen.is_valid()
    name, problem = chosen.first_error()
    assert name == field and problem.startswith(message)
