"""/support/: tickets with first response, resolution and SLA breach, and DMCA cases, from the
support views, checked against pandas over the lake files."""

import io

import numpy as np
import pandas as pd
import pytest

from privacy.tests.conftest import read_table
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
    return frame


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
    assert len(page.context["rows"]) == len(want)
    body = page.content.decode()
    assert "idn_" not in body and "usr_" not in body  # no requester ids in the view


def test_breached_only_and_dmca_cases(support_client, finance_lake, get_data):
    want = tickets(finance_lake)
    page = get_data(support_client, f"/support/?{WINDOW}&breached_only=on&priority=*")
    assert sorted(r["ticket_id"] for r in page.context["rows"]) == sorted(
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
    answer = support_client.get(f"/support/?{WINDOW}&format=csv")
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
    assert len(get_data(client, f"/support/?{WINDOW}").context["rows"]) == 60
