"""The catalogue: the 28 canonical metrics, areas, lookups, caching, and broken files."""

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings

from metrics.catalogue import BrokenMetric, UnknownMetric, load_catalogue
from metrics.definitions import AREAS

ISSUE_SLUGS = {
    "marketplace_health": {
        "search_to_view_ctr", "view_to_message_rate", "message_to_checkout_start_rate",
        "checkout_completion_rate", "refund_rate", "dispute_rate", "chargeback_win_rate",
        "time_to_first_booking", "repeat_booking_rate_7d", "repeat_booking_rate_30d",
        "repeat_booking_rate_90d", "supply_freshness", "availability_coverage",
    },
    "growth": {
        "email_digest_ctr", "alert_ctr", "referral_qualification_rate", "promo_roas",
        "seo_nonbrand_clicks", "seo_top100_landing_ctr", "seo_indexation_rate",
    },
    "support": {
        "support_first_response_time", "support_time_to_resolution",
        "support_auto_resolved_share", "dmca_cycle_time", "sla_breach_count",
    },
    "quality_safety": {
        "sfw_violation_rate", "doc_verification_lag", "takedown_propagation_time",
    },
}  # fmt: skip


@pytest.fixture
def metrics_copy(tmp_path) -> Path:
    """A private copy of the metrics directory that a test may break."""
    target = tmp_path / "metrics"
    shutil.copytree(settings.METRICS_DIR, target)
    return target


def test_every_metric_of_the_issue_in_its_area(catalogue):
    assert catalogue.broken == {}
    by_area = {
        area: {m.slug for m in catalogue.metrics.values() if m.area == area} for area in AREAS
    }
    assert by_area == ISSUE_SLUGS


def test_metrics_are_ordered_by_area_then_title(catalogue):
    keys = [(list(AREAS).index(m.area), m.title.lower()) for m in catalogue.metrics.values()]
    assert keys == sorted(keys)


def test_restricted_metrics_say_who_they_are_for(catalogue):
    restricted = {m.slug: m.audience for m in catalogue.metrics.values() if m.audience}
    assert restricted == {
        "support_first_response_time": "support",
        "support_time_to_resolution": "support",
        "support_auto_resolved_share": "support",
        "dmca_cycle_time": "support",
        "sla_breach_count": "support",
    }


def test_every_metric_filters_the_partition_and_reports_lineage(catalogue):
    for metric in catalogue.metrics.values():
        assert metric.tables, metric.slug
        assert set(metric.columns) == set(metric.tables), metric.slug
        for columns in metric.columns.values():
            assert columns, metric.slug


def test_get_and_unknown_slug(catalogue):
    assert catalogue.get("refund_rate").unit == "ratio"
    with pytest.raises(UnknownMetric):
        catalogue.get("no_such_metric")
    with pytest.raises(KeyError):  # UnknownMetric is a KeyError
        catalogue.get("")


def test_default_directory_comes_from_settings(settings, metrics_copy):
    (metrics_copy / "refund_rate.sql").unlink()
    settings.METRICS_DIR = metrics_copy
    assert "refund_rate" not in load_catalogue().metrics
    assert len(load_catalogue().metrics) == 27


def test_parsed_again_only_when_a_file_changes(metrics_copy):
    first = load_catalogue(metrics_copy)
    assert load_catalogue(metrics_copy) is first
    path = metrics_copy / "alert_ctr.sql"
    path.write_text(path.read_text().replace("title: Alert email CTR", "title: Alerts CTR"))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    again = load_catalogue(metrics_copy)
    assert again is not first
    assert again.get("alert_ctr").title == "Alerts CTR"
    (metrics_copy / "alert_ctr.sql").unlink()
    assert "alert_ctr" not in load_catalogue(metrics_copy).metrics


def test_a_broken_header_becomes_a_broken_metric(metrics_copy):
    path = metrics_copy / "refund_rate.sql"
    text = path.read_text()
    line = text[: text.index("-- area:")].count("\n") + 1
    path.write_text(text.replace("-- area: marketplace_health", "-- area: nowhere"))
    catalogue = load_catalogue(metrics_copy)
    assert "refund_rate" not in catalogue.metrics
    broken = catalogue.broken["refund_rate"]
    assert isinstance(broken, BrokenMetric)
    assert broken.path == path
    assert broken.errors[0].startswith(f"{path}:{line}: area: 'nowhere' is not one of")
    assert len(catalogue.metrics) == 27  # the others still load


def test_broken_sql_becomes_a_broken_metric_with_its_line(metrics_copy):
    path = metrics_copy / "seo_nonbrand_clicks.sql"
    lines = path.read_text().splitlines()
    number = next(i for i, line in enumerate(lines, 1) if line.startswith("FROM"))
    lines[number - 1] = "FROM fact_seo_landings WHERE WHERE"
    path.write_text("\n".join(lines))
    broken = load_catalogue(metrics_copy).broken["seo_nonbrand_clicks"]
    assert broken.errors[0].startswith(f"{path}:{number}: SQL does not parse")


def test_an_unreadable_file_is_broken_not_fatal(metrics_copy):
    (metrics_copy / "latin1.sql").write_bytes("-- title: caf\xe9\n".encode("latin-1"))
    broken = load_catalogue(metrics_copy).broken["latin1"]
    assert "cannot read" in broken.errors[0]


def test_errors_name_files_inside_the_project_relative_to_it(catalogue, metrics_copy, settings):
    project_dir = metrics_copy.parent
    settings.BASE_DIR = project_dir
    path = metrics_copy / "alert_ctr.sql"
    path.write_text(path.read_text().replace("-- version: 1", "-- version: x"))
    broken = load_catalogue(metrics_copy).broken["alert_ctr"]
    assert broken.errors[0].startswith("metrics/alert_ctr.sql:")
