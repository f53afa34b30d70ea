"""Independent pandas computations of every metric's definition over a lake's Parquet files,
and the comparison with what its SQL gives (test_metric_values.py runs them; other tests reuse
the references and the windows).

One reference function per metric below: each reads the definition in the metric's header and
computes it with pandas from the raw tables (never from the SQL or the contract's views).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from metrics.params import metric_params
from warehouse.engines.registry import get_engine

SMALL_WINDOW = (date(2026, 1, 18), date(2026, 1, 31))  # the whole small lake
INNER_WINDOW = (date(2026, 1, 20), date(2026, 1, 29))  # edges inside the lake
LONG_WINDOW = (date(2025, 9, 1), date(2026, 1, 31))
LONG_INNER = (date(2025, 10, 6), date(2026, 1, 20))
# Metrics checked on the long lake too (see conftest): they look back or ahead further than
# two weeks, or count cases the small lake barely has.
LONG_METRICS = (
    "refund_rate",
    "dispute_rate",
    "chargeback_win_rate",
    "time_to_first_booking",
    "repeat_booking_rate_7d",
    "repeat_booking_rate_30d",
    "repeat_booking_rate_90d",
    "supply_freshness",
    "availability_coverage",
    "support_first_response_time",
    "support_time_to_resolution",
    "support_auto_resolved_share",
    "sla_breach_count",
)
SPARSE_ON_SMALL_LAKE = (
    "chargeback_win_rate",
    "repeat_booking_rate_30d",
    "repeat_booking_rate_90d",
    "time_to_first_booking",
)


@dataclass(frozen=True)
class Q:
    start: date
    end: date
    grain: str
    split_by: str | None = None
    filters: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- helpers


def day(value: date) -> pd.Timestamp:
    return pd.Timestamp(value)


def period_of(days: pd.Series, grain: str) -> pd.Series:
    """Start of the day, ISO week (Monday) or month of each timestamp."""
    days = pd.to_datetime(days).dt.normalize()
    if grain == "week":
        return days - pd.to_timedelta(days.dt.weekday, unit="D")
    if grain == "month":
        return days.dt.to_period("M").dt.to_timestamp()
    return days


def in_window(frame: pd.DataFrame, column: str, q: Q) -> pd.DataFrame:
    days = pd.to_datetime(frame[column]).dt.normalize()
    return frame[(days >= day(q.start)) & (days <= day(q.end))]


def only(frame: pd.DataFrame, q: Q) -> pd.DataFrame:
    for name, value in q.filters.items():
        frame = frame[frame[name] == value]
    return frame


def keyed(frame: pd.DataFrame, day_column: str, q: Q) -> pd.DataFrame:
    out = pd.DataFrame(index=frame.index)
    out["period"] = period_of(frame[day_column], q.grain)
    out["dimension_value"] = (
        frame[q.split_by].fillna("unknown") if q.split_by else pd.Series("all", frame.index)
    )
    return out


def ratio(frame: pd.DataFrame, day_column: str, q: Q, numerator, denominator) -> pd.DataFrame:
    out = keyed(frame, day_column, q)
    out["numerator"] = np.asarray(numerator, dtype=np.int64)
    out["denominator"] = np.asarray(denominator, dtype=np.int64)
    out = out.groupby(["period", "dimension_value"], as_index=False)[
        ["numerator", "denominator"]
    ].sum()
    out["value"] = out.numerator / out.denominator.where(out.denominator != 0)
    return out[["period", "dimension_value", "value", "numerator", "denominator"]]


def median(frame: pd.DataFrame, day_column: str, q: Q, values: pd.Series) -> pd.DataFrame:
    out = keyed(frame, day_column, q)
    out["value"] = values.astype(float)
    return out.groupby(["period", "dimension_value"], as_index=False)["value"].median()


def count(frame: pd.DataFrame, day_column: str, q: Q, values) -> pd.DataFrame:
    out = keyed(frame, day_column, q)
    out["value"] = np.asarray(values, dtype=np.int64)
    return out.groupby(["period", "dimension_value"], as_index=False)["value"].sum()


def seconds(later: pd.Series, earlier: pd.Series) -> pd.Series:
    return (later - earlier).dt.total_seconds()


# --------------------------------------------------------------------------- marketplace health


def _funnel_ratio(lake, q: Q, numerator_step: str, denominator_step: str) -> pd.DataFrame:
    f = in_window(lake["fact_funnel_events"], "event_dt", q)
    f = only(f[f.step.isin([numerator_step, denominator_step])], q)
    return ratio(f, "event_dt", q, f.step == numerator_step, f.step == denominator_step)


def search_to_view_ctr(lake, q):
    return _funnel_ratio(lake, q, "profile_view", "search")


def view_to_message_rate(lake, q):
    return _funnel_ratio(lake, q, "message", "profile_view")


def message_to_checkout_start_rate(lake, q):
    return _funnel_ratio(lake, q, "checkout_start", "message")


def checkout_completion_rate(lake, q):
    return _funnel_ratio(lake, q, "checkout_complete", "checkout_start")


def refund_rate(lake, q):
    b = only(in_window(lake["fact_bookings"], "booked_ts", q), q)
    return ratio(b, "booked_ts", q, b.is_refunded, np.ones(len(b)))


def dispute_rate(lake, q):
    b = only(in_window(lake["fact_bookings"], "booked_ts", q), q)
    return ratio(b, "booked_ts", q, b.is_disputed, np.ones(len(b)))


def chargeback_win_rate(lake, q):
    b = only(in_window(lake["fact_bookings"], "booked_ts", q), q)
    b = b[b.has_chargeback]
    decided = b.chargeback_outcome.isin(["won", "lost"])
    return ratio(b, "booked_ts", q, b.chargeback_outcome == "won", decided)


def time_to_first_booking(lake, q):
    listings = only(in_window(lake["dim_listings"], "created_ts", q), q)
    bookings = lake["fact_bookings"][["profile_id", "booked_ts"]]
    pairs = listings.merge(bookings, left_on="listing_id", right_on="profile_id")
    pairs = pairs[pairs.booked_ts >= pairs.created_ts]
    first = pairs.groupby("listing_id", as_index=False).booked_ts.min()
    booked = listings.merge(first, on="listing_id")
    return median(booked, "created_ts", q, seconds(booked.booked_ts, booked.created_ts) / 86400)


def _repeat_booking_rate(lake, q: Q, days: int) -> pd.DataFrame:
    b = lake["fact_bookings"].sort_values(["user_id", "booked_ts", "booking_id"])
    by_user = b.groupby("user_id").booked_ts
    b["previous"], b["next"] = by_user.shift(1), by_user.shift(-1)
    last_day = b.booked_ts.max().normalize()
    first = b[b.previous.isna() | (b.previous < b.booked_ts - pd.Timedelta(days=365))]
    followed_up = first.booked_ts.dt.normalize() + pd.Timedelta(days=days) <= last_day
    cohort = only(in_window(first[followed_up], "booked_ts", q), q)
    again = cohort.next <= cohort.booked_ts + pd.Timedelta(days=days)
    return ratio(cohort, "booked_ts", q, again, np.ones(len(cohort)))


def repeat_booking_rate_7d(lake, q):
    return _repeat_booking_rate(lake, q, 7)


def repeat_booking_rate_30d(lake, q):
    return _repeat_booking_rate(lake, q, 30)


def repeat_booking_rate_90d(lake, q):
    return _repeat_booking_rate(lake, q, 90)


def supply_freshness(lake, q):
    active = only(in_window(lake["fact_availability_snapshots"], "event_dt", q), q)
    edits = lake["fact_listing_updates"]
    edits = edits.assign(edit_day=edits.updated_ts.dt.normalize())[["listing_id", "edit_day"]]
    pairs = active.reset_index().merge(edits, on="listing_id")
    recent = (pairs.edit_day <= pairs.event_dt) & (
        pairs.edit_day >= pairs.event_dt - pd.Timedelta(days=29)
    )
    fresh = active.index.isin(pairs.loc[recent, "index"])
    return ratio(active, "event_dt", q, fresh, np.ones(len(active)))


def availability_coverage(lake, q):
    s = only(in_window(lake["fact_availability_snapshots"], "event_dt", q), q)
    return ratio(s, "event_dt", q, s.open_slots_next_14d > 0, np.ones(len(s)))


# --------------------------------------------------------------------------- growth


def _email_ctr(lake, q: Q, kind: str) -> pd.DataFrame:
    m = in_window(lake["fact_messages_sent"], "sent_ts", q)
    m = m[m.kind == kind]
    return ratio(m, "sent_ts", q, m.clicked_ts.notna(), np.ones(len(m)))


def email_digest_ctr(lake, q):
    return _email_ctr(lake, q, "digest")


def alert_ctr(lake, q):
    return _email_ctr(lake, q, "alert")


def referral_qualification_rate(lake, q):
    r = in_window(lake["fact_referrals"], "invited_ts", q)
    return ratio(r, "invited_ts", q, r.qualified_ts.notna(), np.ones(len(r)))


def promo_roas(lake, q):
    revenue = in_window(lake["fact_attribution_conversions"], "converted_ts", q)
    revenue = revenue[revenue.model == "last_touch"]
    spend = in_window(lake["fact_promo_spend"], "event_dt", q)
    money = pd.concat(
        [
            pd.DataFrame(
                {
                    "day": revenue.converted_ts,
                    "channel": revenue.channel,
                    "revenue": revenue.revenue_cents,
                    "spend": 0,
                }
            ),
            pd.DataFrame(
                {
                    "day": spend.event_dt,
                    "channel": spend.channel,
                    "revenue": 0,
                    "spend": spend.spend_cents,
                }
            ),
        ],
        ignore_index=True,
    )
    money = only(money, q)
    return ratio(money, "day", q, money.revenue, money.spend)


def seo_nonbrand_clicks(lake, q):
    s = in_window(lake["fact_seo_landings"], "event_dt", q)
    s = s[s.query_class == "non_brand"]
    return count(s, "event_dt", q, s.clicks)


def seo_top100_landing_ctr(lake, q):
    s = in_window(lake["fact_seo_landings"], "event_dt", q)
    s = s[s.query_class == "non_brand"]
    top = (
        s.sort_values(["event_dt", "impressions", "landing_path"], ascending=[True, False, True])
        .groupby("event_dt")
        .head(100)
    )
    return ratio(top, "event_dt", q, top.clicks, top.impressions)


def seo_indexation_rate(lake, q):
    s = only(in_window(lake["fact_seo_landings"], "event_dt", q), q)
    s = s[s.is_submitted]
    return ratio(s, "event_dt", q, s.is_indexed, np.ones(len(s)))


# --------------------------------------------------------------------------- support


def _agent_tickets(lake, q: Q) -> pd.DataFrame:
    t = only(in_window(lake["support_tickets"], "created_ts", q), q)
    return t[~t.auto_resolved]


def support_first_response_time(lake, q):
    t = _agent_tickets(lake, q)
    t = t[t.first_response_ts.notna()]
    return median(t, "created_ts", q, seconds(t.first_response_ts, t.created_ts) / 60)


def support_time_to_resolution(lake, q):
    t = _agent_tickets(lake, q)
    t = t[t.resolved_ts.notna()]
    return median(t, "created_ts", q, seconds(t.resolved_ts, t.created_ts) / 3600)


def support_auto_resolved_share(lake, q):
    t = only(in_window(lake["support_tickets"], "created_ts", q), q)
    return ratio(t, "created_ts", q, t.auto_resolved, np.ones(len(t)))


def sla_breach_count(lake, q):
    tickets = lake["support_tickets"]
    as_of = tickets.loc[tickets.created_ts >= day(q.start), "created_ts"].max()
    t = only(in_window(tickets, "created_ts", q), q)
    late = t.first_response_ts > t.sla_due_ts
    unanswered = t.first_response_ts.isna() & (t.sla_due_ts < as_of)
    return count(t, "created_ts", q, late | unanswered)


def dmca_cycle_time(lake, q):
    n = only(in_window(lake["support_dmca_notices"], "received_ts", q), q)
    n = n[n.actioned_ts.notna()]
    return median(n, "received_ts", q, seconds(n.actioned_ts, n.received_ts) / 3600)


# --------------------------------------------------------------------------- quality & safety


def sfw_violation_rate(lake, q):
    c = only(in_window(lake["fact_sfw_checks"], "checked_ts", q), q)
    c = c[c.is_public_surface]
    return ratio(c, "checked_ts", q, c.is_violation, np.ones(len(c)))


def doc_verification_lag(lake, q):
    v = only(in_window(lake["fact_doc_verifications"], "submitted_ts", q), q)
    v = v[v.verified_ts.notna()]
    return median(v, "submitted_ts", q, seconds(v.verified_ts, v.submitted_ts) / 3600)


def takedown_propagation_time(lake, q):
    t = only(in_window(lake["fact_takedowns"], "requested_ts", q), q)
    t = t[t.propagated_ts.notna()]
    return median(t, "requested_ts", q, seconds(t.propagated_ts, t.requested_ts) / 60)


REFERENCES: dict[str, Callable] = {
    f.__name__: f
    for f in (
        search_to_view_ctr, view_to_message_rate, message_to_checkout_start_rate,
        checkout_completion_rate, refund_rate, dispute_rate, chargeback_win_rate,
        time_to_first_booking, repeat_booking_rate_7d, repeat_booking_rate_30d,
        repeat_booking_rate_90d, supply_freshness, availability_coverage, email_digest_ctr,
        alert_ctr, referral_qualification_rate, promo_roas, seo_nonbrand_clicks,
        seo_top100_landing_ctr, seo_indexation_rate, support_first_response_time,
        support_time_to_resolution, support_auto_resolved_share, dmca_cycle_time,
        sla_breach_count, sfw_violation_rate, doc_verification_lag, takedown_propagation_time,
    )
}  # fmt: skip


# --------------------------------------------------------------------------- running and comparing


def run_sql(metric, q: Q) -> pd.DataFrame:
    params = metric_params(
        metric, start=q.start, end=q.end, grain=q.grain, split_by=q.split_by,
        filters=q.filters, max_window_days=400,
    )  # fmt: skip
    return get_engine("duckdb").run(metric.sql, params.bind(metric)).frame


def normalised(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.sort_values(["period", "dimension_value"]).reset_index(drop=True)
    frame["period"] = pd.to_datetime(frame["period"]).astype("datetime64[us]")
    return frame


def assert_same(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    actual, expected = normalised(actual), normalised(expected)
    assert list(actual.columns) == list(expected.columns)
    assert actual[["period", "dimension_value"]].equals(expected[["period", "dimension_value"]]), (
        f"periods differ:\n{actual[['period', 'dimension_value']]}\n"
        f"{expected[['period', 'dimension_value']]}"
    )
    for column in actual.columns[2:]:
        np.testing.assert_allclose(
            actual[column].astype(float), expected[column].astype(float), rtol=1e-7,
            equal_nan=True, err_msg=column,
        )  # fmt: skip


def cases(metric, lake, windows: tuple[tuple[date, date], ...]) -> list[Q]:
    """The day and the week grain over the first window, split by the first dimension (if any);
    the month grain over the second window, filtered to the first dimension's most common
    value; and the week grain split by each further dimension."""
    (start, end), (inner_start, inner_end) = windows
    first = metric.dimensions[0] if metric.dimensions else None
    found = [Q(start, end, "day", split_by=first), Q(start, end, "week", split_by=first)]
    filters = {}
    if first is not None:
        split = REFERENCES[metric.slug](lake, Q(start, end, "month", split_by=first))
        if len(split):
            filters = {first: split.groupby("dimension_value").size().idxmax()}
    found.append(Q(inner_start, inner_end, "month", filters=filters))
    found += [Q(start, end, "week", split_by=d) for d in metric.dimensions[1:]]
    return found


def assert_reaggregates(days: pd.DataFrame, weeks: pd.DataFrame) -> None:
    """A ratio's week is the sum of its days' numerators over the sum of their denominators."""
    days = days.assign(period=period_of(days.period, "week"))
    summed = days.groupby(["period", "dimension_value"], as_index=False)[
        ["numerator", "denominator"]
    ].sum()
    summed["value"] = summed.numerator / summed.denominator.where(summed.denominator != 0)
    assert_same(weeks, summed[["period", "dimension_value", "value", "numerator", "denominator"]])


def check_metric(metric, lake, windows) -> None:
    results = []
    for q in cases(metric, lake, windows):
        expected = REFERENCES[metric.slug](lake, q)
        actual = run_sql(metric, q)
        assert_same(actual, expected)
        results.append(actual)
    if metric.is_ratio:
        assert_reaggregates(results[0], results[1])
