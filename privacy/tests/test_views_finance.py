"""/finance/: refunds, disputes and chargebacks from the finance view, checked against pandas;
filters, pages and sorting, totals, trend and previous period, CSV export, access by role,
results cached per scope."""

import io
import json
import re
from datetime import date

import pandas as pd
import pytest

from portal.roles import Access
from privacy.lake_queries import FINANCE_CASES_SQL
from privacy.restricted_views import CASES
from privacy.tests.builders import expected_finance_cases
from tests.support.users import user_with_role
from warehouse import services as warehouse
from warehouse.models import QueryRun

pytestmark = pytest.mark.django_db

WINDOW = "start=2026-01-18&end=2026-01-31"
CASE_ID_PREFIXES = ("rfd_", "dsp_", "chb_", "ref_x", "dis_x", "cha_x")


@pytest.fixture
def finance_client(client, finance_settings):
    client.force_login(user_with_role("finance"))
    return client


def in_window(frame: pd.DataFrame, start="2026-01-18", end="2026-01-31") -> pd.DataFrame:
    day = pd.to_datetime(frame["opened_ts"]).dt.date
    return frame[(day >= date.fromisoformat(start)) & (day <= date.fromisoformat(end))]


def every_row(client, get_data, url: str, table: str = "cases_table") -> tuple[list[dict], int]:
    """The rows of every page of the list, following its "next" links; and how many pages."""
    rows, pages = [], 0
    while url:
        page = get_data(client, url)
        assert page.status_code == 200
        rows += page.context["rows"]
        pages += 1
        next_url = page.context[table].next_url
        url = f"{url.split('?')[0]}{next_url}" if next_url else ""
    return rows, pages


def case_ids(rows: list[dict]) -> list[str]:
    return [r["case_id"] for r in rows]


def assert_summary_matches(page, want: pd.DataFrame) -> None:
    """The page's summary is pandas' count and sum of ``want`` per kind, outcome, currency."""
    summary = pd.DataFrame(page.context["summary_rows"])
    grouped = (
        want.assign(currency=want["currency"].fillna("unknown"))
        .groupby(["case_kind", "outcome", "currency"])
        .agg(cases=("case_id", "size"), amount_cents=("amount_cents", "sum"))
        .reset_index()
    )
    merged = summary.merge(grouped, on=["case_kind", "outcome", "currency"], suffixes=("", "_pd"))
    assert len(merged) == len(grouped) == len(summary)
    assert (merged["cases"] == merged["cases_pd"]).all()
    assert (merged["amount_cents"] == merged["amount_cents_pd"]).all()


def test_summary_and_cases_match_pandas(finance_client, finance_lake, get_data):
    page = get_data(finance_client, f"/finance/?{WINDOW}")
    assert page.status_code == 200
    body = page.content.decode()
    want = in_window(expected_finance_cases(finance_lake))
    assert len(page.context["rows"]) == 50 and len(want) == 80  # a page of 50 of them
    assert "rows 1\N{EN DASH}50 of 80" in body
    rows, pages = every_row(finance_client, get_data, f"/finance/?{WINDOW}")
    assert sorted(case_ids(rows)) == sorted(want["case_id"]) and pages == 2
    assert_summary_matches(page, want)
    refund_total = want.loc[want["case_kind"] == "refund", "amount_cents"].sum()
    assert refund_total > 0 and "unknown" in body
    assert "user_id" not in body and "usr_" not in body  # the view has no user ids


def test_filters_by_kind_outcome_and_currency(finance_client, finance_lake, get_data):
    want = in_window(expected_finance_cases(finance_lake))
    lost = get_data(finance_client, f"/finance/?{WINDOW}&kind=chargeback&outcome=lost")
    expected = want[(want["case_kind"] == "chargeback") & (want["outcome"] == "lost")]
    assert sorted(r["case_id"] for r in lost.context["rows"]) == sorted(expected["case_id"])
    assert len(expected) > 0
    eur, _ = every_row(finance_client, get_data, f"/finance/?{WINDOW}&currency=EUR")
    assert len(eur) == (want["currency"] == "EUR").sum() > 50
    narrow = get_data(finance_client, "/finance/?start=2026-01-20&end=2026-01-22")
    assert len(narrow.context["rows"]) == len(in_window(want, "2026-01-20", "2026-01-22"))


def test_the_summary_follows_the_currency_filter_like_the_list(
    finance_client, finance_lake, get_data
):
    want = in_window(expected_finance_cases(finance_lake))
    eur = want[want["currency"] == "EUR"]
    assert 0 < len(eur) < len(want)  # cases of unknown currency are left out
    page = get_data(finance_client, f"/finance/?{WINDOW}&currency=EUR")
    rows, _ = every_row(finance_client, get_data, f"/finance/?{WINDOW}&currency=EUR")
    assert sorted(case_ids(rows)) == sorted(eur["case_id"])
    assert_summary_matches(page, eur)
    assert {r["currency"] for r in page.context["summary_rows"]} == {"EUR"}

    chargebacks = get_data(finance_client, f"/finance/?{WINDOW}&kind=chargeback&currency=EUR")
    expected = eur[eur["case_kind"] == "chargeback"]
    assert len(expected) > 0
    assert_summary_matches(chargebacks, expected)

    # A currency without cases: an empty list and an empty summary.
    none = get_data(finance_client, f"/finance/?{WINDOW}&currency=USD")
    assert none.context["rows"] == [] and none.context["summary_rows"] == []

    # No currency (the form's empty value, '*' in the SQL) keeps every case, unknown ones too.
    every = get_data(finance_client, f"/finance/?{WINDOW}&currency=")
    assert_summary_matches(every, want)
    assert "unknown" in {r["currency"] for r in every.context["summary_rows"]}


def test_csv_export_has_every_case(finance_client, finance_lake, get_data):
    # The page shows one page of the cases; the export runs their query without LIMIT.
    get_data(finance_client, f"/finance/?{WINDOW}")
    answer = get_data(finance_client, f"/finance/?{WINDOW}&format=csv")
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/csv")
    frame = pd.read_csv(io.StringIO(answer.content.decode()))
    want = in_window(expected_finance_cases(finance_lake))
    assert sorted(frame["case_id"]) == sorted(want["case_id"])
    assert frame["amount_cents"].sum() == want["amount_cents"].sum()
    assert "user_id" not in frame.columns


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start=2026-01-31&end=2026-01-01", "The start must not be after the end."),
        ("currency=euro", "Use a three-letter ISO 4217 code"),
        ("currency=e1r", "Use a three-letter ISO 4217 code"),
        ("outcome=stolen", "Select a valid choice"),
        ("start=2020-01-01&end=2026-01-31", "Choose at most 400 days."),
    ],
)
def test_bad_filters_are_400_naming_the_problem(finance_client, query, message):
    answer = finance_client.get(f"/finance/?{query}")
    assert answer.status_code == 400
    assert message in answer.content.decode()
    assert not QueryRun.objects.exists()


@pytest.mark.parametrize("role", ["analyst", "pm", "support", "privacy"])
def test_other_roles_get_403_and_no_data(client, finance_settings, role, get_data):
    client.force_login(user_with_role(role))
    for url in (f"/finance/?{WINDOW}", f"/finance/?{WINDOW}&format=csv"):
        answer = get_data(client, url)
        assert answer.status_code == 403
        # Case ids of the lake (rfd_, dsp_, chb_) and of the cases added to it (ref_x...).
        leaked = [m for m in CASE_ID_PREFIXES if m in answer.content.decode()]
        assert not leaked, (role, url, leaked)
    assert not QueryRun.objects.exists()


def test_results_are_cached_per_scope_never_served_to_another(finance_settings, get_data):
    params = {"start": date(2026, 1, 18), "end": date(2026, 1, 31), "kind": "*", "outcome": "*"}
    params["currency"] = "*"
    finance = frozenset({Access.GENERAL, Access.FINANCE_VIEW})
    run = warehouse.query_submit(sql=FINANCE_CASES_SQL, params=params, scope=finance).run
    warehouse.query_run_execute(run_id=run.pk)
    assert warehouse.query_submit(sql=FINANCE_CASES_SQL, params=params, scope=finance).cached
    with pytest.raises(warehouse.DataAccessDenied):
        warehouse.query_submit(
            sql=FINANCE_CASES_SQL, params=params, scope=frozenset({Access.GENERAL})
        )
    admin = warehouse.query_submit(sql=FINANCE_CASES_SQL, params=params, scope=frozenset(Access))
    assert admin.cached is None and admin.run.cache_key != run.cache_key


def test_a_cached_page_reads_few_queries(finance_client, get_data, django_assert_max_num_queries):
    get_data(finance_client, f"/finance/?{WINDOW}")
    with django_assert_max_num_queries(4):
        page = finance_client.get(f"/finance/?{WINDOW}")
    assert page.status_code == 200 and len(page.context["rows"]) == 50


def test_a_page_whose_run_is_not_done_says_so_and_reloads(finance_client):
    page = finance_client.get(f"/finance/?{WINDOW}")
    assert page.status_code == 200
    assert "Still computing" in page.content.decode()
    assert "No cases match." not in page.content.decode()
    assert '<meta http-equiv="refresh"' in page.content.decode()


def test_an_uncached_export_is_prepared_then_the_same_link_downloads(finance_client, finance_lake):
    preparing = finance_client.get(f"/finance/?{WINDOW}&format=csv")
    assert preparing.status_code == 202
    run = QueryRun.objects.get()
    assert run.status == QueryRun.Status.QUEUED and run.started_at is None  # not run inline
    page = preparing.content.decode()
    assert "Preparing the CSV of Finance" in page
    assert not [m for m in CASE_ID_PREFIXES if m in page]
    link = f"/finance/?{WINDOW.replace('&', '&amp;')}&amp;format=csv&amp;run={run.pk}"
    assert f'<a href="{link}">Download the CSV</a>' in page

    warehouse.query_run_execute(run_id=run.pk)  # what the worker's task does
    answer = finance_client.get(f"/finance/?{WINDOW}&format=csv&run={run.pk}")
    assert answer.status_code == 200 and answer["X-Query-Run"] == str(run.pk)
    frame = pd.read_csv(io.StringIO(answer.content.decode()))
    want = in_window(expected_finance_cases(finance_lake))
    assert sorted(frame["case_id"]) == sorted(want["case_id"])
    assert frame["amount_cents"].sum() == want["amount_cents"].sum()
    assert QueryRun.objects.count() == 1


def test_an_export_whose_run_failed_says_so_without_the_engine_message(finance_client):
    finance_client.get(f"/finance/?{WINDOW}&format=csv")
    run = QueryRun.objects.get()
    QueryRun.objects.filter(pk=run.pk).update(status="failed", error="rfd_123 is not a number")
    answer = finance_client.get(f"/finance/?{WINDOW}&format=csv&run={run.pk}")
    assert answer.status_code == 503
    assert answer.content.decode() == f"The query failed (query run {run.pk})."
    assert QueryRun.objects.count() == 1


# --- pages, sorting and totals


def pandas_order(want: pd.DataFrame, column: str, descending: bool) -> list[str]:
    """The list's order as pandas sorts it: missing values last either way, then by case id."""
    ordered = want.sort_values(
        [column, "case_id"], ascending=[not descending, True], na_position="last", kind="stable"
    )
    return list(ordered["case_id"])


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("column", [c for c in CASES.columns if c.order])
def test_every_column_sorts_both_ways_like_pandas(
    finance_client, finance_lake, get_data, column, descending
):
    want = in_window(expected_finance_cases(finance_lake))
    sort = f"-{column.key}" if descending else column.key
    expected = pandas_order(want, column.order, descending)
    first = get_data(finance_client, f"/finance/?{WINDOW}&sort={sort}")
    second = get_data(finance_client, f"/finance/?{WINDOW}&sort={sort}&page=2")
    assert case_ids(first.context["rows"]) == expected[:50]
    assert case_ids(second.context["rows"]) == expected[50:]
    assert "rows 51\N{EN DASH}80 of 80" in second.content.decode()
    header = next(h for h in first.context["cases_table"].headers if h.label == column.label)
    assert header.aria_sort == ("descending" if descending else "ascending")


def test_header_links_keep_the_filters_and_turn_the_sorted_column_round(finance_client, get_data):
    page = get_data(finance_client, f"/finance/?{WINDOW}&kind=refund&sort=amount&page=2")
    headers = {h.label: h for h in page.context["cases_table"].headers}
    assert headers["Amount"].url == f"?{WINDOW}&kind=refund&sort=-amount"  # back to page 1
    assert headers["Opened"].url == f"?{WINDOW}&kind=refund&sort=-opened"  # newest first
    assert headers["Case"].url == f"?{WINDOW}&kind=refund&sort=case"
    body = page.content.decode()
    assert f'href="?{WINDOW.replace("&", "&amp;")}&amp;kind=refund&amp;sort=-amount"' in body
    assert 'aria-sort="ascending"' in body


def test_an_unknown_sort_is_the_default_and_never_reaches_the_sql(finance_client, get_data):
    default = get_data(finance_client, f"/finance/?{WINDOW}")
    for sort in ("amount_cents;DROP TABLE x", "user_id", "-", "case_id"):
        page = get_data(finance_client, f"/finance/?{WINDOW}&sort={sort}")
        assert page.status_code == 200
        assert case_ids(page.context["rows"]) == case_ids(default.context["rows"])
    for sql in QueryRun.objects.values_list("canonical_sql", flat=True):
        assert "DROP" not in sql and "user_id" not in sql
        assert re.search(r"ORDER BY \w+ (ASC|DESC) NULLS LAST, case_id\s+LIMIT :limit", sql) or (
            "LIMIT" not in sql
        )


def test_a_page_past_the_end_says_so_and_links_the_first(finance_client, get_data):
    for page_number in ("99", "0", "-1", "x"):
        page = get_data(finance_client, f"/finance/?{WINDOW}&page={page_number}")
        body = page.content.decode()
        assert "No cases match." not in body
        if page_number == "99":
            assert page.context["rows"] == [] and "fewer rows than this page" in body
            assert f'href="?{WINDOW.replace("&", "&amp;")}"' in body
        else:  # not a page: the first one
            assert len(page.context["rows"]) == 50


def test_totals_are_per_currency_over_every_page(finance_client, finance_lake, get_data):
    want = in_window(expected_finance_cases(finance_lake))
    page = get_data(finance_client, f"/finance/?{WINDOW}")
    per_currency = (
        want.assign(currency=want["currency"].fillna("unknown"))
        .groupby("currency")
        .agg(cases=("case_id", "size"), amount_cents=("amount_cents", "sum"))
    )
    totals = {t["currency"]: (t["cases"], t["amount_cents"]) for t in page.context["totals"]}
    assert totals == {c: (r.cases, r.amount_cents) for c, r in per_currency.iterrows()}
    assert len(totals) > 1  # never one sum over currencies
    footer = page.content.decode().split("<tfoot>")[1].split("</tfoot>")[0]
    for currency, row in per_currency.iterrows():
        amount = f"{row.amount_cents / 100:,.2f}"
        assert f'<td class="num">{amount}</td><td>{currency}</td>' in footer
        assert "," in amount  # thousands separators


def test_csv_has_every_case_in_the_chosen_order(finance_client, finance_lake, get_data):
    want = in_window(expected_finance_cases(finance_lake))
    get_data(finance_client, f"/finance/?{WINDOW}&sort=-amount&page=2")
    answer = get_data(finance_client, f"/finance/?{WINDOW}&sort=-amount&page=2&format=csv")
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/csv")
    frame = pd.read_csv(io.StringIO(answer.content.decode()))
    assert list(frame["case_id"]) == pandas_order(want, "amount_cents", True)
    assert "total_rows" not in frame.columns
    page = get_data(finance_client, f"/finance/?{WINDOW}&sort=-amount&page=2")
    assert "page=2" not in page.context["csv_query"]


# --- filters as applied


def test_a_lower_case_currency_is_the_upper_case_one(finance_client, finance_lake, get_data):
    upper = get_data(finance_client, f"/finance/?{WINDOW}&currency=EUR")
    lower = get_data(finance_client, f"/finance/?{WINDOW}&currency=eur")
    assert lower.status_code == 200
    assert case_ids(lower.context["rows"]) == case_ids(upper.context["rows"])
    assert lower.context["summary_rows"] == upper.context["summary_rows"]
    assert 'name="currency" value="EUR"' in lower.content.decode()
    # One query per list: the same runs answer both spellings.
    assert QueryRun.objects.filter(label="finance: cases").count() == 1


def test_the_date_inputs_show_the_window_applied(finance_client, get_data):
    # No dates: the last 30 days of data (the lake ends on 2026-01-31).
    body = get_data(finance_client, "/finance/").content.decode()
    assert 'name="start" value="2026-01-02"' in body and 'name="end" value="2026-01-31"' in body
    body = get_data(finance_client, "/finance/?end=2026-01-25").content.decode()
    assert 'name="start" value="2025-12-27"' in body and 'name="end" value="2026-01-25"' in body


def test_still_computing_and_no_match_never_show_together(finance_client, get_data):
    query = f"{WINDOW}&currency=USD"  # no case is in dollars
    pending = finance_client.get(f"/finance/?{query}").content.decode()
    assert "Still computing" in pending and "No cases match." not in pending
    assert "No cases in this window." not in pending
    done = get_data(finance_client, f"/finance/?{query}").content.decode()
    assert "No cases match." in done and "Still computing" not in done


# --- trend and previous period


def test_trend_and_previous_period_match_pandas(finance_client, finance_lake, get_data):
    cases = expected_finance_cases(finance_lake)
    cases = cases.assign(
        day=pd.to_datetime(cases["opened_ts"]).dt.date, currency=cases["currency"].fillna("unknown")
    )
    now = in_window(cases, "2026-01-25", "2026-01-31")
    before = in_window(cases, "2026-01-18", "2026-01-24")  # the 7 days before
    assert len(now) and len(before)
    page = get_data(finance_client, "/finance/?start=2026-01-25&end=2026-01-31")
    headlines = {(h.label, h.currency): h for h in page.context["headlines"]}
    assert (headlines["Cases", ""].current, headlines["Cases", ""].previous) == (
        len(now),
        len(before),
    )
    for currency in set(now["currency"]) | set(before["currency"]):
        h = headlines["Amount", currency]
        assert h.current == now.loc[now["currency"] == currency, "amount_cents"].sum()
        assert h.previous == before.loc[before["currency"] == currency, "amount_cents"].sum()
    assert len(headlines) == 1 + len(set(now["currency"]) | set(before["currency"]))
    cases_h = headlines["Cases", ""]
    change = (len(now) - len(before)) / len(before) * 100
    assert cases_h.delta_text == f"{len(now) - len(before):+,} ({change:+,.1f}%)"
    body = page.content.decode()
    assert cases_h.delta_text in body

    figure = json.loads(
        body.split('<script id="trend-figure" type="application/json">')[1].split("</script>")[0]
    )
    traces = {t["name"]: t for t in figure["data"]}
    days = [f"2026-01-{d}" for d in range(25, 32)]
    per_day = now.groupby("day").size()
    assert traces["cases"]["x"] == days
    assert traces["cases"]["y"] == [int(per_day.get(date.fromisoformat(d), 0)) for d in days]
    previous_per_day = before.groupby("day").size()
    assert traces["cases, previous period"]["y"] == [
        int(previous_per_day.get(date.fromisoformat(d) - pd.Timedelta(days=7), 0)) for d in days
    ]
    for currency, rows in now.groupby("currency"):
        amounts = rows.groupby("day")["amount_cents"].sum() / 100
        want_y = [round(float(amounts.get(date.fromisoformat(d), 0)), 2) for d in days]
        assert traces[f"amount {currency}"]["y"] == pytest.approx(want_y)
    assert "plotly/plotly.min.js" in body
