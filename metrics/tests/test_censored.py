"""Censored metrics (matures_after_days): tiles and headlines show the latest matured cohorts
and say so, warming computes exactly those views, and on a lake as long as the demo's no tile of
a default dashboard is empty."""

import io
import re
from datetime import date, timedelta
from html import unescape
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pandas as pd
import pytest
from django.core.management import call_command

from metrics.dashboards import DASHBOARDS
from metrics.tests import references
from metrics.tests.conftest import LakeFrames
from metrics.tests.definition_samples import HEADER, QUERY, errors, parse
from metrics.tests.ui_support import fetch_data, rows
from metrics.warming import default_views
from metrics.windows import matured_window, maturity_note
from tests.support.users import client_for

CENSORED = {
    "repeat_booking_rate_7d": 7,
    "repeat_booking_rate_30d": 30,
    "repeat_booking_rate_90d": 90,
    "chargeback_win_rate": 60,
}
# As `make demo` builds it (90 days), smaller: enough bookings for a few decided chargebacks
# in the 60-day-old cohorts.
DEMO_LIKE = {"days": 90, "scale": 0.5, "seed": 3, "end_date": "2026-01-31"}
DEMO_END = date(2026, 1, 31)
DEMO_FIRST = DEMO_END - timedelta(days=89)


def tiles(page: str) -> dict[str, dict[str, str]]:
    """data-* attributes of each tile, by metric slug, and its maturity note (if any)."""
    found = {}
    for tag, body in re.findall(
        r"(<section class=\"tile[^>]*data-tile[^>]*>)(.*?)</section>", page, re.S
    ):
        attrs = {k: unescape(v) for k, v in re.findall(r'(data-[a-z-]+)="([^"]*)"', tag)}
        note = re.search(r"<p class=\"maturity-note\" data-maturity-note>([^<]*)</p>", body)
        attrs["note"] = unescape(note[1]) if note else ""
        found[attrs["data-metric"]] = attrs
    return found


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


# ------------------------------------------------------------------------- pure: the windows


def test_a_matured_window_is_kept():
    window = (date(2025, 12, 1), date(2025, 12, 28))
    assert matured_window(*window, data_as_of=date(2026, 1, 31), matures_after_days=30) == window
    assert matured_window(*window, data_as_of=date(2026, 1, 1), matures_after_days=None) == window


def test_a_recent_window_moves_back_to_the_latest_matured_cohorts_keeping_its_length():
    start, end = matured_window(
        date(2026, 1, 4), date(2026, 1, 31), data_as_of=date(2026, 1, 31), matures_after_days=30
    )
    assert (start, end) == (date(2025, 12, 5), date(2026, 1, 1))
    # Partly matured: the whole window moves, so the headline keeps its number of cohorts.
    assert matured_window(
        date(2025, 12, 20), date(2026, 1, 5), data_as_of=date(2026, 1, 31), matures_after_days=30
    ) == (date(2025, 12, 16), date(2026, 1, 1))


def test_the_note_says_which_cohorts_and_why():
    note = maturity_note(date(2025, 12, 6), date(2026, 1, 2), matures_after_days=30)
    assert note == (
        "Cohorts 2025-12-06 to 2026-01-02, the latest matured: newer cohorts mature after 30 days."
    )


# ------------------------------------------------------------------------ the header field


def test_the_censored_metrics_declare_their_maturity(catalogue):
    declared = {
        slug: m.matures_after_days
        for slug, m in catalogue.metrics.items()
        if m.matures_after_days is not None
    }
    assert declared == CENSORED


def test_matures_after_days_is_optional_and_a_whole_number_of_days():
    assert parse(HEADER + QUERY).matures_after_days is None
    header = HEADER.replace("-- timezone: UTC\n", "-- timezone: UTC\n-- matures_after_days: 14\n")
    assert parse(header + QUERY).matures_after_days == 14
    for bad in ("0", "two weeks", "400"):
        broken = HEADER.replace(
            "-- timezone: UTC\n", f"-- timezone: UTC\n-- matures_after_days: {bad}\n"
        )
        assert errors(broken + QUERY) == (
            "demo_rate.sql:14: matures_after_days: a whole number of days from 1 to 365",
        )


# ------------------------------------------------------- pages and API over the small lake


@pytest.mark.django_db
def test_censored_tiles_read_their_latest_matured_window_and_say_so(lake_settings):
    page = client_for("analyst").get("/dashboards/marketplace-health/").content.decode()
    found = tiles(page)
    repeat = found["repeat_booking_rate_30d"]
    # Default window 2026-01-04..01-31; cohorts mature 30 days after, so to 2026-01-01.
    assert query_of(repeat["data-url"]) == {
        "start": "2025-12-05",
        "end": "2026-01-01",
        "grain": "day",
    }
    assert query_of(repeat["data-compare-url"])["end"] == "2025-12-04"
    assert repeat["data-start"] == "2025-12-05" and repeat["data-end"] == "2026-01-01"
    assert repeat["data-matures-after-days"] == "30"
    assert repeat["note"] == (
        "Cohorts 2025-12-05 to 2026-01-01, the latest matured: newer cohorts mature after 30 days."
    )
    assert "newer cohorts mature after 60 days" in found["chargeback_win_rate"]["note"]
    # An uncensored metric is unchanged: the dashboard's window, no note.
    ctr = found["search_to_view_ctr"]
    assert query_of(ctr["data-url"]) == {"start": "2026-01-04", "end": "2026-01-31", "grain": "day"}
    assert ctr["note"] == "" and "data-matures-after-days" not in ctr


@pytest.mark.django_db
def test_the_metric_page_headline_shifts_only_a_window_that_has_not_matured(lake_settings):
    analyst = client_for("analyst")
    page = analyst.get("/metrics/repeat_booking_rate_7d/").content.decode()
    tile = tiles(page)["repeat_booking_rate_7d"]
    assert query_of(tile["data-url"])["end"] == "2026-01-24"
    assert "newer cohorts mature after 7 days" in tile["note"]
    assert "Cohorts mature after" in page

    chosen = {"start": "2026-01-18", "end": "2026-01-24", "grain": "day"}
    page = analyst.get("/metrics/repeat_booking_rate_7d/", chosen).content.decode()
    tile = tiles(page)["repeat_booking_rate_7d"]
    assert query_of(tile["data-url"]) == chosen and tile["note"] == ""


@pytest.mark.django_db
def test_the_data_api_says_which_cohorts_of_the_window_have_matured(lake_settings):
    analyst = client_for("analyst")
    body = fetch_data(analyst, "repeat_booking_rate_7d", start="2026-01-18", end="2026-01-31")
    assert body["maturity"] == {
        "matures_after_days": 7,
        "matured_through": "2026-01-24",
        "note": "Cohorts to 2026-01-24 only: newer cohorts mature after 7 days.",
    }
    assert max(r["period"][:10] for r in rows(body)) <= "2026-01-24"
    body = fetch_data(analyst, "repeat_booking_rate_7d", start="2026-01-18", end="2026-01-20")
    assert body["maturity"]["note"] == ""
    body = fetch_data(analyst, "search_to_view_ctr", start="2026-01-18", end="2026-01-31")
    assert body["maturity"] is None
    assert analyst.get("/api/metrics/chargeback_win_rate").json()["matures_after_days"] == 60


@pytest.mark.django_db
def test_the_dashboard_api_gives_each_tile_the_window_it_reads(lake_settings):
    body = client_for("analyst").get("/api/dashboards/marketplace-health").json()
    windows = {t["metric"]: t["window"] for t in body["tiles"]}
    assert windows["search_to_view_ctr"] == body["default_window"]
    assert windows["repeat_booking_rate_90d"] == {"start": "2025-10-06", "end": "2025-11-02"}


@pytest.mark.django_db
def test_warming_computes_exactly_the_views_the_tiles_read(lake_settings):
    """Same metric, window, grain and split: the tile then finds its result warm."""
    admin = client_for("admin")
    asked = set()
    for dashboard in DASHBOARDS:
        page = admin.get(f"/dashboards/{dashboard.slug}/").content.decode()
        for slug, attrs in tiles(page).items():
            for url in (attrs["data-url"], attrs["data-compare-url"]):
                q = query_of(url)
                asked.add((slug, q["start"], q["end"], q["grain"], q.get("split_by")))
    warmed = {
        (m.slug, p.start.isoformat(), p.end.isoformat(), p.grain, p.split_by)
        for m, p in default_views("2026-01-31")
    }
    assert asked == warmed
    assert ("chargeback_win_rate", "2025-11-05", "2025-12-02", "day", None) in warmed


# ------------------------------------------------------------- a lake as long as the demo's


@pytest.fixture(scope="session")
def demo_like_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo_like_lake") / "lake"
    call_command("demo_lake", root=str(root), stdout=io.StringIO(), **DEMO_LIKE)
    return root


def _reference_headline(lake: LakeFrames, slug: str, start: str, end: str) -> float:
    q = references.Q(start=date.fromisoformat(start), end=date.fromisoformat(end), grain="day")
    frame = getattr(references, slug)(lake, q)
    return frame.numerator.sum() / frame.denominator.sum()


@pytest.mark.django_db
def test_no_tile_of_a_default_dashboard_is_empty_on_a_lake_as_long_as_the_demo(
    demo_like_lake, settings
):
    settings.WAREHOUSE = "duckdb"
    settings.LAKE_ROOT = demo_like_lake
    frames = LakeFrames(demo_like_lake)
    admin = client_for("admin")  # every role: every tile of every dashboard
    for dashboard in DASHBOARDS:
        page = admin.get(f"/dashboards/{dashboard.slug}/").content.decode()
        found = tiles(page)
        assert set(found) == {t.metric for t in dashboard.tiles}
        for slug, attrs in found.items():
            q = query_of(attrs["data-url"])
            body = fetch_data(admin, slug, **q)
            values = [r["value"] for r in rows(body) if r["value"] is not None]
            assert values, f"{dashboard.slug}: {slug} has no data"
            if slug == "repeat_booking_rate_90d":
                # 90 days of follow-up need more than the events' 90 days: its matured cohorts
                # are bookings from before the events start (the lake keeps a year of them),
                # each day's rate as pandas computes it from the Parquet files.
                assert q["end"] < str(DEMO_FIRST)
                window = references.Q(
                    start=date.fromisoformat(q["start"]), end=date.fromisoformat(q["end"]),
                    grain=q["grain"],
                )  # fmt: skip
                expected = references.repeat_booking_rate_90d(frames, window)
                references.assert_same(pd.DataFrame(rows(body)), expected)
            if body["summary"]["method"] != "none":
                assert body["summary"]["value"] is not None, f"{dashboard.slug}: {slug}"
            if slug in CENSORED:
                days = CENSORED[slug]
                assert q["end"] == str(DEMO_END - timedelta(days=days))
                assert attrs["note"].endswith(f"newer cohorts mature after {days} days.")
                expected = _reference_headline(frames, slug, q["start"], q["end"])
                assert body["summary"]["value"] == pytest.approx(expected)
            else:
                assert attrs["note"] == ""
