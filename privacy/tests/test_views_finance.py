"""/finance/: refunds, disputes and chargebacks from the finance view, checked against pandas;
filters, CSV export, access by role, results cached per scope."""

import io
from datetime import date

import pandas as pd
import pytest

from portal.roles import Access
from privacy.lake_queries import FINANCE_CASES_SQL
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
    assert len(page.context["rows"]) == len(want) == 78
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
    eur = get_data(finance_client, f"/finance/?{WINDOW}&currency=EUR")
    assert len(eur.context["rows"]) == (want["currency"] == "EUR").sum()
    narrow = get_data(finance_client, "/finance/?start=2026-01-20&end=2026-01-22")
    assert len(narrow.context["rows"]) == len(in_window(want, "2026-01-20", "2026-01-22"))


def test_the_summary_follows_the_currency_filter_like_the_list(
    finance_client, finance_lake, get_data
):
    want = in_window(expected_finance_cases(finance_lake))
    eur = want[want["currency"] == "EUR"]
    assert 0 < len(eur) < len(want)  # cases of unknown currency are left out
    page = get_data(finance_client, f"/finance/?{WINDOW}&currency=EUR")
    assert sorted(r["case_id"] for r in page.context["rows"]) == sorted(eur["case_id"])
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
    # The page ran the same query: the export comes from its cached result.
    get_data(finance_client, f"/finance/?{WINDOW}")
    answer = finance_client.get(f"/finance/?{WINDOW}&format=csv")
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
        ("currency=eur", "Use a three-letter ISO 4217 code"),
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
    assert page.status_code == 200 and len(page.context["rows"]) == 78


def test_a_page_whose_run_is_not_done_says_so_and_reloads(finance_client):
    page = finance_client.get(f"/finance/?{WINDOW}")
    assert page.status_code == 200
    assert "Still computing" in page.content.decode()
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
