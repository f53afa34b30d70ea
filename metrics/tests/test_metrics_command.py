"""`manage.py metrics validate | list | run`."""

import io
import json
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from metrics.definitions import TEMPLATE_SUFFIX
from metrics.tests.references import REFERENCES, Q, assert_same
from warehouse.models import QueryRun


def metrics(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("metrics", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def failing(*args: str) -> tuple[str, str]:
    err = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("metrics", *args, stdout=io.StringIO(), stderr=err)
    return str(raised.value), err.getvalue()


@pytest.fixture
def copy_dir(tmp_path) -> Path:
    target = tmp_path / "metrics"
    shutil.copytree(settings.METRICS_DIR, target)
    return target


def edit(path: Path, old: str, new: str) -> int:
    """Replace text in a file; returns the line of the edit."""
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return text[: text.index(old)].count("\n") + 1


# --------------------------------------------------------------------------- validate


def test_the_catalogue_validates():
    """CI runs this: every file sound and every version's SQL recorded in versions.json."""
    out, err = metrics("validate")
    assert out.strip() == "28 metrics OK"
    assert err == ""


def test_broken_files_fail_naming_file_and_line(copy_dir):
    line = edit(copy_dir / "refund_rate.sql", "-- unit: ratio", "-- unit: ratios")
    sql_line = edit(copy_dir / "alert_ctr.sql", "FROM fact_messages_sent", "FROM fact_message_sent")
    message, err = failing("validate", "--dir", str(copy_dir))
    assert message == "2 problem(s) in 28 metric files"
    problems = err.strip().splitlines()
    assert f"{copy_dir}/refund_rate.sql:{line}: unit: 'ratios' is not one of" in problems[1]
    assert problems[0] == (
        f"{copy_dir}/alert_ctr.sql:{sql_line}: table fact_message_sent is not in the lake contract"
    )


def test_a_changed_query_needs_a_new_version(copy_dir):
    path = copy_dir / "alert_ctr.sql"
    edit(path, "AND kind = 'alert'", "AND kind = 'alert' AND opened_ts IS NOT NULL")
    version_line = path.read_text().splitlines().index("-- version: 1") + 1
    _, err = failing("validate", "--dir", str(copy_dir))
    assert err.strip() == (
        f"{copy_dir}/alert_ctr.sql:{version_line}: the SQL of alert_ctr changed but its version "
        "is still 1: raise the version and add a history line saying what changed"
    )
    # --record never overwrites the hash of a version that exists.
    _, err = failing("validate", "--record", "--dir", str(copy_dir))
    assert "changed but its version is still 1" in err


def test_a_new_version_is_recorded_atomically_and_then_validates(copy_dir):
    path = copy_dir / "alert_ctr.sql"
    edit(path, "AND kind = 'alert'", "AND kind = 'alert' AND opened_ts IS NOT NULL")
    edit(path, "-- version: 1", "-- version: 2")
    first_note = "-- history: 1: First canonical definition."
    edit(path, first_note, f"{first_note}\n-- history: 2: Opened alerts only.")
    _, err = failing("validate", "--dir", str(copy_dir))
    assert (
        "version 2 of alert_ctr is not recorded: run `manage.py metrics validate --record`" in err
    )
    before = json.loads((copy_dir / "versions.json").read_text())
    out, _ = metrics("validate", "--record", "--dir", str(copy_dir))
    assert out.splitlines() == ["recorded alert_ctr v2", "28 metrics OK"]
    after = json.loads((copy_dir / "versions.json").read_text())
    assert after["alert_ctr"]["1"] == before["alert_ctr"]["1"]
    assert after["alert_ctr"]["2"] != before["alert_ctr"]["1"]
    assert {k: v for k, v in after.items() if k != "alert_ctr"} == {
        k: v for k, v in before.items() if k != "alert_ctr"
    }
    definitions = (".sql", TEMPLATE_SUFFIX)  # no temporary file left beside them
    assert [p.name for p in copy_dir.iterdir() if not p.name.endswith(definitions)] == [
        "versions.json"
    ]
    assert metrics("validate", "--dir", str(copy_dir))[0].strip() == "28 metrics OK"


def test_a_version_may_not_go_backwards(copy_dir):
    versions = json.loads((copy_dir / "versions.json").read_text())
    versions["alert_ctr"]["3"] = "0" * 16
    (copy_dir / "versions.json").write_text(json.dumps(versions))
    _, err = failing("validate", "--dir", str(copy_dir))
    assert "version 1 is below the recorded version 3" in err


def test_a_corrupt_versions_file_is_one_clear_error(copy_dir):
    (copy_dir / "versions.json").write_text("[1, 2]")
    message, _ = failing("validate", "--dir", str(copy_dir))
    assert message.endswith("versions.json: expected an object of slug -> version -> hash")


def test_a_missing_directory():
    message, _ = failing("validate", "--dir", "/nonexistent/metrics")
    assert message == "--dir: /nonexistent/metrics is not a directory"


# --------------------------------------------------------------------------- list


def test_list_json(catalogue):
    rows = json.loads(metrics("list", "--json")[0])
    assert [r["slug"] for r in rows] == list(catalogue.metrics)
    refund = next(r for r in rows if r["slug"] == "refund_rate")
    assert refund["title"] == "Refund rate"
    assert refund["area"] == "marketplace_health"
    assert refund["unit"] == "ratio"
    assert refund["version"] == 1
    assert refund["tables"] == ["fact_bookings"]
    assert refund["columns"] == {"fact_bookings": ["event_dt", "is_refunded", "listing_kind"]}
    assert refund["dimensions"] == ["listing_kind"]
    sla = next(r for r in rows if r["slug"] == "sla_breach_count")
    assert sla["audience"] == "support" and sla["tables"] == ["support_tickets_v"]


def test_list_shows_broken_metrics(copy_dir):
    edit(copy_dir / "refund_rate.sql", "-- unit: ratio", "-- unit: ratios")
    rows = json.loads(metrics("list", "--json", "--dir", str(copy_dir))[0])
    broken = [r for r in rows if r.get("broken")]
    assert [b["slug"] for b in broken] == ["refund_rate"]
    assert "unit: 'ratios'" in broken[0]["errors"][0]
    text = metrics("list", "--dir", str(copy_dir))[0]
    assert "refund_rate" in text and "BROKEN" in text


# --------------------------------------------------------------------------- run


@pytest.mark.django_db
def test_run_prints_csv_recorded_as_a_query_run(lake_settings, small_frames):
    out, _ = metrics(
        "run", "view_to_message_rate", "--start", "2026-01-19", "--end", "2026-01-31",
        "--grain", "week", "--split-by", "listing_kind",
    )  # fmt: skip
    frame = pd.read_csv(io.StringIO(out), keep_default_na=False)
    assert list(frame.columns) == ["period", "dimension_value", "value", "numerator", "denominator"]
    q = Q(date(2026, 1, 19), date(2026, 1, 31), "week", split_by="listing_kind")
    assert_same(frame, REFERENCES["view_to_message_rate"](small_frames, q))
    run = QueryRun.objects.get()
    assert run.label == "metric:view_to_message_rate"
    assert run.status == QueryRun.Status.SUCCEEDED
    assert run.params["split_by"] == {"type": "str", "value": "listing_kind"}


@pytest.mark.django_db
def test_run_json_with_a_filter(lake_settings, small_frames):
    out, _ = metrics(
        "run", "sfw_violation_rate", "--start", "2026-01-20", "--end", "2026-01-22",
        "--filter", "surface=search_results", "--format", "json",
    )  # fmt: skip
    payload = json.loads(out)
    assert payload["metric"] == "sfw_violation_rate"
    assert payload["version"] == 1
    assert payload["data_as_of"] == "2026-01-31"
    assert payload["params"]["surface"] == "search_results"
    assert [r["period"] for r in payload["rows"]] == ["2026-01-20", "2026-01-21", "2026-01-22"]
    q = Q(date(2026, 1, 20), date(2026, 1, 22), "day", filters={"surface": "search_results"})
    assert_same(pd.DataFrame(payload["rows"]), REFERENCES["sfw_violation_rate"](small_frames, q))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "--start", "2026-01-01", "--end", "2026-01-02"], "slug: no metric 'nope'"),
        (["refund_rate", "--start", "2026-13-01", "--end", "2026-01-02"],
         "--start: '2026-13-01' is not a date (YYYY-MM-DD)"),
        (["refund_rate", "--start", "2026-01-05", "--end", "2026-01-02"],
         "--end: must not be before start"),
        (["refund_rate", "--start", "2024-01-01", "--end", "2026-01-02"],
         "--end: the window is 733 days; at most 400 days are allowed"),
        (["refund_rate", "--start", "2026-01-01", "--end", "2026-01-02", "--grain", "hour"],
         "--grain: must be one of day, week, month"),
        (["refund_rate", "--start", "2026-01-01", "--end", "2026-01-02", "--split-by", "city"],
         "--split-by: 'city' is not a dimension of refund_rate (dimensions: listing_kind)"),
        (["refund_rate", "--start", "2026-01-01", "--end", "2026-01-02", "--filter", "kind"],
         "--filter: 'kind' should read DIMENSION=VALUE"),
        (["refund_rate", "--start", "2026-01-01", "--end", "2026-01-02", "--filter", "city=x"],
         "--filter: 'city' is not a dimension of refund_rate (dimensions: listing_kind)"),
        (["refund_rate", "--start", "2026-01-01", "--end", "2026-01-02", "--engine", "oracle"],
         "--engine: must be one of duckdb, athena, redshift, postgres"),
    ],
)  # fmt: skip
def test_run_bad_input_names_the_option(args, message):
    assert failing("run", *args)[0] == message


@pytest.mark.django_db
def test_run_engine_failure_is_one_line(settings, tmp_path):
    settings.WAREHOUSE = "duckdb"
    settings.LAKE_ROOT = tmp_path  # an empty lake
    message, _ = failing("run", "refund_rate", "--start", "2026-01-01", "--end", "2026-01-02")
    assert message.startswith("refund_rate failed on duckdb: table fact_bookings has no data")


def test_run_a_broken_metric(copy_dir):
    line = edit(copy_dir / "refund_rate.sql", "-- unit: ratio", "-- unit: ratios")
    message, _ = failing(
        "run", "refund_rate", "--start", "2026-01-01", "--end", "2026-01-02", "--dir", str(copy_dir)
    )
    assert message.startswith(f"refund_rate is broken: {copy_dir}/refund_rate.sql:{line}: unit:")
