"""/support/: tickets with first response, resolution and SLA breach, and DMCA cases, from the
support views, checked against pandas over the lake files: pages, sorting, totals, the trend
and the previous period."""

import dataclasses
import io
import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from privacy import restricted_views
from privacy.restricted_views import TICKETS
from privacy.tests.conftest import read_table
from privacy.tests.test_views_finance import every_row
from tests.support.users import user_with_role

pytestmark = pytest.mark.django_db

WINDOW = "start=2026-01-18&end=2026-01-31"


@pytest.fixture
def support_client(client, finance_settings):
    client.force_login(user_with_role("support"))
    return client


def tickets(root) -> pd.DataFrame:
    frame = read_table(root, "support_tickets")
    frame["frt"] = (frame["first_response_ts"] - frame["created_ts"]).dt.total_seconds() / 60
    frame["ttr"] = (frame["resolved_ts"] - frame["created_ts"]).dt.total_seconds() / 3600
    frame["breached"] = (frame["first_response_ts"] > frame["sla_due_ts"]) & frame[
        "sla_due_ts"
    ].notna()
    # As the view has it: unknown while unanswered or without a due time.
    unknown = frame["first_response_ts"].isna() | frame["sla_due_ts"].isna()
    frame["sla_breached"] = frame["breached"].astype("boolean").mask(unknown)
    frame["first_response_minutes"] = frame["frt"]
    frame["resolution_minutes"] = frame["ttr"] * 60
    frame["day"] = frame["created_ts"].dt.date
    return frame


def ticket_ids(rows: list[dict]) -> list[str]:
    return [r["ticket_id"] for r in rows]


def test_summary_by_priority_matches_pandas(support_client, finance_lake, get_data):
    page = get_data(support_client, f"/support/?{WINDOW}")
    assert page.status_code == 200
    want = tickets(finance_lake)
    summary = pd.DataFrame(page.context["summary_rows"]).set_index("priority")
    grouped = want.groupby("priority")
    assert summary["tickets"].to_dict() == grouped.size().to_dict()
    assert summary["breached"].to_dict() == grouped["breached"].sum().to_dict()
    assert (
        summary["open"].to_dict()
        == grouped["resolved_ts"].apply(lambda s: s.isna().sum()).to_dict()
    )
    assert np.allclose(summary["avg_first_response_minutes"], grouped["frt"].mean()[summary.index])
    assert np.allclose(summary["avg_resolution_hours"], grouped["ttr"].mean()[summary.index])
    total = page.context["summary_total"]
    assert (total["tickets"], total["breached"]) == (len(want), want["breached"].sum())
    assert total["open"] == want["resolved_ts"].isna().sum()
    assert total["answered"] == want["first_response_ts"].notna().sum()
    assert total["avg_first_response_minutes"] == pytest.approx(want["frt"].mean())
    assert total["avg_resolution_hours"] == pytest.approx(want["ttr"].mean())
    assert len(page.context["rows"]) == 50 and len(want) == 60
    rows, pages = every_row(support_client, get_data, f"/support/?{WINDOW}", "tickets_table")
    assert sorted(ticket_ids(rows)) == sorted(want["ticket_id"]) and pages == 2
    body = page.content.decode()
    assert "idn_" not in body and "usr_" not in body  # no requester ids in the view


def test_breached_only_and_dmca_cases(support_client, finance_lake, get_data):
    want = tickets(finance_lake)
    page = get_data(support_client, f"/support/?{WINDOW}&breached_only=on&priority=*")
    assert sorted(ticket_ids(page.context["rows"])) == sorted(
        want.loc[want["breached"], "ticket_id"]
    )
    dmca = read_table(finance_lake, "support_dmca_notices")
    rows = {r["notice_id"]: r for r in page.context["dmca_rows"]}
    assert set(rows) == set(dmca["notice_id"])
    hours = (dmca["actioned_ts"] - dmca["received_ts"]).dt.total_seconds() / 3600
    for notice_id, expected in zip(dmca["notice_id"], hours, strict=True):
        assert rows[notice_id]["cycle_hours"] == pytest.approx(expected)


def test_tickets_csv(support_client, finance_lake, get_data):
    get_data(support_client, f"/support/?{WINDOW}")
    answer = get_data(support_client, f"/support/?{WINDOW}&format=csv")
    frame = pd.read_csv(io.StringIO(answer.content.decode()))
    assert sorted(frame["ticket_id"]) == sorted(tickets(finance_lake)["ticket_id"])
    assert "identity_id" not in frame.columns and "user_id" not in frame.columns


@pytest.mark.parametrize("role", ["analyst", "pm", "finance", "privacy"])
def test_other_roles_get_403_and_no_data(client, finance_settings, role, get_data):
    client.force_login(user_with_role(role))
    answer = get_data(client, f"/support/?{WINDOW}")
    assert answer.status_code == 403 and "tkt_" not in answer.content.decode()


def test_admins_see_it(client, finance_settings, get_data):
    client.force_login(user_with_role("admin"))
    page = get_data(client, f"/support/?{WINDOW}")
    assert page.context["tickets_table"].total == 60


def pandas_order(want: pd.DataFrame, column: str, descending: bool) -> list[str]:
    ordered = want.sort_values(
        [column, "ticket_id"], ascending=[not descending, True], na_position="last", kind="stable"
    )
    return list(ordered["ticket_id"])


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("column", [c for c in TICKETS.columns if c.order])
def test_every_column_sorts_both_ways_like_pandas(
    support_client, finance_lake, get_data, column, descending
):
    want = tickets(finance_lake)
    sort = f"-{column.key}" if descending else column.key
    expected = pandas_order(want, column.order, descending)
    first = get_data(support_client, f"/support/?{WINDOW}&sort={sort}")
    second = get_data(support_client, f"/support/?{WINDOW}&sort={sort}&page=2")
    assert ticket_ids(first.context["rows"]) == expected[:50]
    assert ticket_ids(second.context["rows"]) == expected[50:]
    assert "rows 51\N{EN DASH}60 of 60" in second.content.decode()


def test_the_dmca_list_pages_and_sorts_on_its_own(
    support_client, finance_lake, get_data, monkeypatch
):
    monkeypatch.setattr(
        restricted_views, "DMCA", dataclasses.replace(restricted_views.DMCA, size=2)
    )
    dmca = read_table(finance_lake, "support_dmca_notices")
    dmca["cycle_hours"] = (dmca["actioned_ts"] - dmca["received_ts"]).dt.total_seconds() / 3600
    assert len(dmca) > 2
    expected = list(dmca.sort_values(["cycle_hours", "notice_id"], na_position="last")["notice_id"])
    tickets_page = f"/support/?{WINDOW}&sort=priority&page=2"
    seen = []
    url = f"{tickets_page}&dmca_sort=cycle"
    while url:
        page = get_data(support_client, url)
        seen += [r["notice_id"] for r in page.context["dmca_rows"]]
        # The tickets keep their own sort and page.
        assert page.context["tickets_table"].first_row == 51
        assert (
            ticket_ids(page.context["rows"])
            == pandas_order(tickets(finance_lake), "priority", False)[50:]
        )
        next_url = page.context["dmca_table"].next_url
        url = f"/support/{next_url}" if next_url else ""
        assert "dmca_page" in next_url or not next_url
    assert seen == expected


def test_trend_totals_and_previous_period_match_pandas(support_client, finance_lake, get_data):
    want = tickets(finance_lake)
    want = want[want["channel"] == "email"]
    now = want[want["day"] >= date(2026, 1, 25)]
    before = want[(want["day"] >= date(2026, 1, 18)) & (want["day"] <= date(2026, 1, 24))]
    assert len(now) and len(before)
    page = get_data(support_client, "/support/?start=2026-01-25&end=2026-01-31&channel=email")
    headlines = {h.label: h for h in page.context["headlines"]}
    assert (headlines["Tickets"].current, headlines["Tickets"].previous) == (
        len(now),
        len(before),
    )
    assert (headlines["SLA breached"].current, headlines["SLA breached"].previous) == (
        now["breached"].sum(),
        before["breached"].sum(),
    )
    assert set(headlines) == {"Tickets", "SLA breached", "Avg first response (min)"}
    assert headlines["Avg first response (min)"].current == pytest.approx(now["frt"].mean())
    assert headlines["Avg first response (min)"].previous == pytest.approx(before["frt"].mean())

    totals = page.context["totals"]
    assert totals["tickets"] == len(now) == page.context["tickets_table"].total
    assert totals["breached"] == now["breached"].sum()
    assert totals["open"] == now["resolved_ts"].isna().sum()
    body = page.content.decode()
    assert f"Total, every page: {len(now)} ticket" in body

    figure = json.loads(
        body.split('<script id="trend-figure" type="application/json">')[1].split("</script>")[0]
    )
    traces = {t["name"]: t for t in figure["data"]}
    days = [date(2026, 1, d) for d in range(25, 32)]
    assert traces["tickets"]["x"] == [d.isoformat() for d in days]
    assert traces["tickets"]["y"] == [int((now["day"] == d).sum()) for d in days]
    assert traces["SLA breached"]["y"] == [
        int(now.loc[now["day"] == d, "breached"].sum()) for d in days
    ]
    shifted = [d - pd.Timedelta(days=7) for d in days]
    assert traces["tickets, previous period"]["y"] == [
        int((before["day"] == d).sum()) for d in shifted
    ]


def test_a_long_list_links_the_first_last_and_nearby_pages(support_client, get_data, monkeypatch):
    monkeypatch.setattr(restricted_views, "TICKETS", dataclasses.replace(TICKETS, size=1))
    page = get_data(support_client, f"/support/?{WINDOW}&page=59")
    body = page.content.decode()
    assert "rows 59\N{EN DASH}59 of 60" in body
    links = [link.number for link in page.context["tickets_table"].links]
    assert links == [1, 0, 57, 58, 59, 60]  # 0: a gap


def test_still_computing_and_no_match_never_show_together(support_client, get_data):
    query = f"{WINDOW}&priority=urgent&channel=chat&category=dmca&breached_only=on"
    pending = support_client.get(f"/support/?{query}").content.decode()
    assert "Still computing" in pending
    for message in ("No tickets match.", "No tickets in this window.", "No DMCA notices"):
        assert message not in pending
    done = get_data(support_client, f"/support/?{query}").content.decode()
    assert "Still computing" not in done
    assert "No tickets match." in done


def test_the_date_inputs_show_the_window_applied(support_client, get_data):
    body = get_data(support_client, "/support/?priority=high").content.decode()
    assert 'name="start" value="2026-01-02"' in body and 'name="end" value="2026-01-31"' in body
