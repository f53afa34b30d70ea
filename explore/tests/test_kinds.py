"""Breakdowns of metrics that are not ratios: a count's Other is a sum; a median has none (it
cannot be combined from its parts) and no quarter. Expectations from metrics' pandas references."""

from datetime import date

import pytest

from explore.tests.conftest import answer
from metrics.tests.conftest import LakeFrames
from metrics.tests.references import REFERENCES, Q
from tests.support.users import client_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("lake_settings")]

WINDOW = {"start": "2026-01-18", "end": "2026-01-31"}


def test_a_count_breakdown_sums_the_rest_into_other(small_lake):
    query = {"metric": "sla_breach_count", **WINDOW, "grain": "week", "compare": "none",
             "split_by": "priority", "top": "2"}  # fmt: skip
    payload = answer(client_for("support"), "/api/explore/data", query)
    q = Q(date(2026, 1, 18), date(2026, 1, 31), "week", split_by="priority")
    expected = REFERENCES["sla_breach_count"](LakeFrames(small_lake), q)
    ranked = expected.groupby("dimension_value")["value"].sum().sort_values(ascending=False)
    top = list(ranked.index[:2])
    expected["series"] = expected.dimension_value.where(expected.dimension_value.isin(top), "Other")
    expected = expected.groupby(["period", "series"], as_index=False)["value"].sum()
    got = {(r["period"], r["series"]): r["value"] for r in payload["table"]["rows"]}
    want = {(p.date().isoformat(), s): float(v) for p, s, v in expected.itertuples(index=False)}
    assert got == want
    assert [s["name"] for s in payload["series"]] == [*top, "Other"]


def test_a_median_breakdown_has_no_other_and_says_why(small_lake):
    query = {"metric": "support_first_response_time", **WINDOW, "grain": "week",
             "compare": "none", "split_by": "category", "top": "1"}  # fmt: skip
    client = client_for("support")
    payload = answer(client, "/api/explore/data", query)
    names = {s["name"] for s in payload["series"]}
    assert len(names) == 1 and "Other" not in names
    assert "cannot be combined" in payload["notes"][0]
    q = Q(date(2026, 1, 18), date(2026, 1, 31), "week", split_by="category")
    expected = REFERENCES["support_first_response_time"](LakeFrames(small_lake), q)
    [name] = names
    mine = expected[expected.dimension_value == name]
    got = [r["value"] for r in payload["table"]["rows"]]
    assert got == pytest.approx(mine.value.tolist())
    quarter = client.get("/api/explore/data", {**query, "grain": "quarter"})
    assert quarter.status_code == 400 and "months cannot be combined" in quarter.json()["grain"][0]
