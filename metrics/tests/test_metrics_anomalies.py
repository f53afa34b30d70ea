"""`manage.py metrics anomalies`: its input, its history and what it says when it cannot judge.
The days it flags, and their ranges against pandas, are in tests/test_anomalies_planted.py (on a
90-day lake: this one has two weeks, too few to judge by)."""

import io

import pytest
from django.core.management import CommandError, call_command

from warehouse.models import QueryRun


def anomalies(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("metrics", "anomalies", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


WINDOW = ("--start", "2026-01-28", "--end", "2026-01-31")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", *WINDOW], "slug: no metric 'nope'"),
        (["refund_rate", "--start", "2026-01-32", "--end", "2026-01-31"],
         "--start: '2026-01-32' is not a date (YYYY-MM-DD)"),
        (["refund_rate", "--start", "2026-01-28", "--end", "2026-01-27"],
         "--end: must not be before --start"),
        (["refund_rate", *WINDOW, "--split-by", "city"],
         "--split-by: 'city' is not a dimension of refund_rate (dimensions: listing_kind)"),
        (["refund_rate", *WINDOW, "--filter", "city=x"],
         "--filter: 'city' is not a dimension of refund_rate (dimensions: listing_kind)"),
        (["refund_rate", *WINDOW, "--threshold", "0"],
         "--threshold: must be a number above 0, got 0.0"),
        (["refund_rate", *WINDOW, "--min-cases", "-1"], "--min-cases: must be 0 or more"),
        (["refund_rate", *WINDOW, "--method", "prophet"],
         "Error: argument --method: invalid choice: 'prophet' (choose from "),  # quotes vary
        (["refund_rate", *WINDOW, "--engine", "oracle"],
         "--engine: must be one of duckdb, athena, redshift, postgres"),
        (["refund_rate", "--start", "2025-01-01", "--end", "2026-01-31"],
         "--end: the window is 424 days; at most 400 days are allowed (with the 4 weeks of "
         "history before --start)"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_naming_the_option(args, message):
    with pytest.raises(CommandError) as raised:
        anomalies(*args)
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)


@pytest.mark.django_db
def test_the_metric_runs_from_four_weeks_before_start(lake_settings):
    out, err = anomalies("search_to_view_ctr", *WINDOW)
    run = QueryRun.objects.get()
    assert run.label == "metric:search_to_view_ctr"
    assert (run.params["start"]["value"], run.params["end"]["value"]) == (
        "2025-12-31",
        "2026-01-31",
    )
    assert run.params["grain"]["value"] == "day"
    # The small lake begins on 2026-01-18: no day has two earlier weeks of it.
    assert (
        out.strip()
        == "0 of 0 judged days flagged from 2026-01-28 to 2026-01-31 (median, threshold 4)"
    )
    assert err.strip() == (
        "no day was judged: nothing to compare with: a bucket needs its weekday in 2 earlier "
        "weeks of the series, which begins 2026-01-18"
    )
    assert anomalies("search_to_view_ctr", *WINDOW, "--json")[0].strip() == "[]"


@pytest.mark.django_db
def test_days_without_data_or_matured_cohorts_are_not_judged(lake_settings):
    _, err = anomalies("search_to_view_ctr", "--start", "2026-01-28", "--end", "2026-02-05")
    assert (
        err.splitlines()[0] == "days after 2026-01-31 are not judged: the data ends on 2026-01-31"
    )
    _, err = anomalies("repeat_booking_rate_7d", "--start", "2026-01-20", "--end", "2026-01-31")
    assert err.splitlines()[0] == (
        "days after 2026-01-24 are not judged: the data ends on 2026-01-31 and its cohorts "
        "mature after 7 days"
    )
    with pytest.raises(CommandError) as raised:
        anomalies("search_to_view_ctr", "--start", "2026-02-01", "--end", "2026-02-05")
    assert str(raised.value) == (
        "--start: no day from 2026-02-01 on can be judged: the data ends on 2026-01-31"
    )
