"""metric_data_submit, metric_data_run_sync and parse_metric_params."""

from datetime import date

import pytest
from django.conf import settings
from django.http import QueryDict

from core.errors import InputError
from metrics.params import metric_params
from metrics.services import (
    MetricParams,
    metric_data_run_sync,
    metric_data_submit,
    parse_metric_params,
)
from metrics.tests.references import REFERENCES, Q, assert_same
from tests.support.users import user_with_role
from warehouse.models import QueryRun
from warehouse.services import DataAccessDenied, query_run_execute

START, END = date(2026, 1, 19), date(2026, 1, 25)


def submit(metric, user, force_refresh=False, **overrides):
    """Parameters checked as every caller checks them, then submitted."""
    values = {"start": START, "end": END, "grain": "day", **overrides}
    params = metric_params(metric, **values, max_window_days=settings.METRICS_MAX_WINDOW_DAYS)
    return metric_data_submit(metric=metric, params=params, user=user, force_refresh=force_refresh)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"end": date(2026, 1, 18)}, "end", "must not be before start"),
        ({"start": date(2024, 1, 1)}, "end", "the window is 756 days; at most 400 days"),
        ({"grain": "quarter"}, "grain", "must be one of day, week, month"),
        ({"split_by": "city"}, "split_by", "'city' is not a dimension of refund_rate"),
        ({"filters": {"city": "berlin"}}, "city", "'city' is not a dimension of refund_rate"),
        ({"filters": {"listing_kind": ""}}, "listing_kind", "must be a non-empty value"),
        ({"filters": {"listing_kind": "*"}}, "listing_kind", "must be a non-empty value"),
    ],
)
def test_bad_parameters_name_the_field(overrides, field, message, catalogue, analyst_user):
    with pytest.raises(InputError) as raised:
        submit(catalogue.get("refund_rate"), analyst_user, **overrides)
    assert raised.value.field == field
    assert message in raised.value.message
    assert not QueryRun.objects.exists()


def test_the_window_limit_is_a_setting(settings, catalogue, analyst_user):
    settings.METRICS_MAX_WINDOW_DAYS = 7
    assert submit(catalogue.get("refund_rate"), analyst_user).run is not None  # 7 days
    with pytest.raises(InputError, match="end: the window is 8 days; at most 7"):
        submit(catalogue.get("refund_rate"), analyst_user, end=date(2026, 1, 26))


def test_an_analyst_is_refused_support_metrics(catalogue, analyst_user):
    for slug in ("sla_breach_count", "dmca_cycle_time", "support_first_response_time"):
        with pytest.raises(DataAccessDenied):
            submit(catalogue.get(slug), analyst_user)
    assert not QueryRun.objects.exists()


def test_support_reads_support_metrics(db, catalogue, lake_settings):
    support = user_with_role("support")
    submission = submit(catalogue.get("sla_breach_count"), support, split_by="priority")
    run = submission.run
    assert run.label == "metric:sla_breach_count"
    assert run.requested_by == support
    assert run.tables == ["support_tickets_v"]
    assert run.params == {
        "channel": {"type": "str", "value": "*"},
        "end": {"type": "date", "value": "2026-01-25"},
        "grain": {"type": "str", "value": "day"},
        "priority": {"type": "str", "value": "*"},
        "split_by": {"type": "str", "value": "priority"},
        "start": {"type": "date", "value": "2026-01-19"},
    }


def test_queued_then_cached_with_the_metrics_numbers(
    catalogue, analyst_user, lake_settings, small_frames, settings
):
    settings.QUERY_FORCE_REFRESH_MIN_AGE_SECONDS = 0  # any cached result is old enough
    metric = catalogue.get("checkout_completion_rate")
    first = submit(metric, analyst_user, grain="week", filters={"listing_kind": "profile"})
    assert first.cached is None
    assert first.run.label == "metric:checkout_completion_rate"
    assert first.run.params["listing_kind"] == {"type": "str", "value": "profile"}
    assert first.run.params["split_by"] == {"type": "str", "value": "none"}
    assert first.run.canonical_sql == metric.sql
    query_run_execute(run_id=first.run.pk)

    again = submit(metric, analyst_user, grain="week", filters={"listing_kind": "profile"})
    assert again.run is None
    q = Q(START, END, "week", filters={"listing_kind": "profile"})
    assert_same(again.cached.frame, REFERENCES["checkout_completion_rate"](small_frames, q))

    refreshed = submit(metric, analyst_user, grain="week", filters={"listing_kind": "profile"},
                       force_refresh=True)  # fmt: skip
    assert refreshed.run is not None and refreshed.run.pk != first.run.pk


def test_metrics_without_dimensions_bind_only_the_window(catalogue, analyst_user):
    run = submit(catalogue.get("search_to_view_ctr"), analyst_user).run
    assert set(run.params) == {"start", "end", "grain"}


def test_run_sync_reads_with_full_access(db, catalogue, lake_settings, small_frames):
    metric = catalogue.get("dmca_cycle_time")
    params = MetricParams(start=date(2026, 1, 18), end=date(2026, 1, 31), grain="month")
    result = metric_data_run_sync(metric=metric, params=params)
    expected = REFERENCES["dmca_cycle_time"](small_frames, Q(params.start, params.end, "month"))
    assert_same(result.frame, expected)
    assert QueryRun.objects.get().label == "metric:dmca_cycle_time"


# --------------------------------------------------------------------------- parse_metric_params


def test_parse_from_request_strings(catalogue):
    metric = catalogue.get("support_first_response_time")
    query = QueryDict(
        "start=2026-01-01&end=2026-01-31&grain=week&split_by=channel&priority=high&category="
        "&unrelated=1"
    )
    params = parse_metric_params(metric, query)
    assert params == MetricParams(
        start=date(2026, 1, 1), end=date(2026, 1, 31), grain="week", split_by="channel",
        filters={"priority": "high"},
    )  # fmt: skip
    assert params.days == 31
    assert params.bind(metric) == {
        "start": date(2026, 1, 1), "end": date(2026, 1, 31), "grain": "week",
        "split_by": "channel", "channel": "*", "priority": "high", "category": "*",
    }  # fmt: skip


def test_parse_defaults(catalogue):
    params = parse_metric_params(
        catalogue.get("refund_rate"),
        {"start": "2026-01-01", "end": "2026-01-02", "split_by": "none"},
    )
    assert params.grain == "day"
    assert params.split_by is None
    assert params.filters == {}


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"end": "2026-01-02"}, "start", "is required (YYYY-MM-DD)"),
        ({"start": "2026-01-02"}, "end", "is required (YYYY-MM-DD)"),
        ({"start": "yesterday", "end": "2026-01-02"}, "start", "'yesterday' is not a date"),
        ({"start": "2026-01-02", "end": "2026-02-30"}, "end", "'2026-02-30' is not a date"),
        ({"start": "2026-01-03", "end": "2026-01-02"}, "end", "must not be before start"),
        ({"start": "2026-01-01", "end": "2026-01-02", "grain": "year"}, "grain", "must be one"),
        ({"start": "2026-01-01", "end": "2026-01-02", "split_by": "colour"}, "split_by",
         "'colour' is not a dimension"),
        ({"start": "2026-01-01", "end": "2026-01-02", "listing_kind": "x" * 201}, "listing_kind",
         "at most 200 characters"),
    ],
)  # fmt: skip
def test_parse_errors_name_the_field(query, field, message, catalogue):
    with pytest.raises(InputError) as raised:
        parse_metric_params(catalogue.get("refund_rate"), query)
    assert raised.value.field == field
    assert message in raised.value.message
