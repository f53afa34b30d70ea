"""Metric files sharing one query: a header naming a .sql.tmpl beside it and its holes."""

import json
import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings

from metrics.catalogue import load_catalogue
from metrics.definitions import BrokenMetric, Metric, parse_definition
from metrics.validation import read_versions
from warehouse.sql import parse as parse_sql

HEADER = """\
-- slug: demo_rate
-- title: Demo rate
-- description: Share of bookings flagged.
-- owner: someone
-- area: growth
-- unit: ratio
-- format: percent
-- grains: day
-- dimensions: none
-- higher_is_better: true
-- version: 1
-- timezone: UTC
-- template: flag_rate.sql.tmpl
-- template_params: flag=is_refunded
-- history: 1: First.
"""
TEMPLATE = """\
-- The share of bookings whose {flag} is set.
SELECT
    CAST(event_dt AS DATE) AS period,
    'all' AS dimension_value,
    CAST(count_if({flag}) AS DOUBLE) / nullif(count(*), 0) AS value,
    count_if({flag}) AS numerator,
    count(*) AS denominator
FROM fact_bookings
WHERE event_dt BETWEEN :start AND :end AND :grain = :grain
GROUP BY 1
"""
PATH = Path("analytics/metrics/demo_rate.sql")


def parse(header: str = HEADER, template: str = TEMPLATE, body: str = "") -> Metric | BrokenMetric:
    templates = {"flag_rate.sql.tmpl": template}
    return parse_definition(PATH, header + body, display="m/demo_rate.sql", templates=templates)


def errors(**kwargs) -> tuple[str, ...]:
    parsed = parse(**kwargs)
    assert isinstance(parsed, BrokenMetric), "expected a broken metric"
    return parsed.errors


def test_the_query_is_the_template_with_its_holes_filled():
    metric = parse()
    assert isinstance(metric, Metric), metric
    assert "count_if(is_refunded)" in metric.sql and "{" not in metric.sql
    assert not metric.sql.startswith("--")  # the template's opening comment is dropped
    assert metric.template == "flag_rate.sql.tmpl"
    assert metric.template_params == {"flag": "is_refunded"}
    assert metric.sql_path == PATH.with_name("flag_rate.sql.tmpl")
    assert metric.columns == {"fact_bookings": frozenset({"event_dt", "is_refunded"})}
    plain_header = "".join(line for line in HEADER.splitlines(True) if "template" not in line)
    written_out = TEMPLATE.split("\n", 1)[1].replace("{flag}", "is_refunded")
    plain = parse_definition(PATH, plain_header + written_out)
    assert isinstance(plain, Metric), plain
    assert metric.definition_hash == plain.definition_hash


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (
            {"header": HEADER.replace("flag_rate.sql", "nope.sql")},
            "m/demo_rate.sql:13: template: nope.sql.tmpl is not a .sql.tmpl file beside this one",
        ),
        (
            {"header": HEADER.replace("flag_rate.sql.tmpl", "../x/flag_rate.sql.tmpl")},
            "m/demo_rate.sql:13: template: '../x/flag_rate.sql.tmpl' is not the name of a",
        ),
        (
            {"header": HEADER.replace("flag=is_refunded", "flag=x' OR '1")},
            "m/demo_rate.sql:14: template_params: name=value pairs",
        ),
        (
            {"header": HEADER.replace("flag=is_refunded", "other=is_refunded")},
            "m/demo_rate.sql:14: template_params: no value for {flag} of flag_rate.sql.tmpl",
        ),
        (
            {"header": HEADER.replace("flag=is_refunded", "flag=is_refunded, days=7")},
            "m/demo_rate.sql:14: template_params: flag_rate.sql.tmpl has no {days}",
        ),
        (
            {"header": HEADER.replace("-- template: flag_rate.sql.tmpl\n", "")},
            "m/demo_rate.sql:13: template_params: name=value pairs",
        ),
        (
            {"body": "SELECT 1\n"},
            "m/demo_rate.sql:16: a metric with a template has no SQL of its own",
        ),
        (
            # Errors in the query name the template and its line.
            {"template": TEMPLATE.replace("FROM fact_bookings", "FROM fact_nope")},
            "m/flag_rate.sql.tmpl:8: table fact_nope is not in the lake contract",
        ),
    ],
)
def test_template_errors_name_the_file_and_line(kwargs, expected):
    assert any(e.startswith(expected) for e in errors(**kwargs)), errors(**kwargs)


def test_repeat_booking_rates_share_one_template_and_keep_their_versions(catalogue):
    versions = read_versions(settings.METRICS_DIR)
    for days in (7, 30, 90):
        metric = catalogue.get(f"repeat_booking_rate_{days}d")
        assert metric.template == "repeat_booking_rate.sql.tmpl"
        assert f"INTERVAL '{days}' DAY" in metric.sql
        assert f"date_add('day', {days}, b.event_dt)" in metric.sql
        assert versions[metric.slug][str(metric.version)] == metric.definition_hash
        assert all(line.startswith("--") for line in metric.path.read_text().splitlines())
        parse_sql(metric.sql)


def test_metrics_differing_in_a_constant_share_a_template(catalogue):
    shared = {
        slug: (m.template, m.template_params)
        for slug, m in catalogue.metrics.items()
        if m.template and not slug.startswith("repeat_booking_rate")
    }
    assert shared == {
        "checkout_completion_rate": (
            "funnel_step_rate.sql.tmpl",
            {"from_step": "checkout_start", "to_step": "checkout_complete"},
        ),
        "message_to_checkout_start_rate": (
            "funnel_step_rate.sql.tmpl",
            {"from_step": "message", "to_step": "checkout_start"},
        ),
        "view_to_message_rate": (
            "funnel_step_rate.sql.tmpl",
            {"from_step": "profile_view", "to_step": "message"},
        ),
        "dispute_rate": ("booking_flag_rate.sql.tmpl", {"flag": "is_disputed"}),
        "refund_rate": ("booking_flag_rate.sql.tmpl", {"flag": "is_refunded"}),
    }
    assert "count_if(step = 'message') AS numerator" in catalogue.get("view_to_message_rate").sql
    versions = read_versions(settings.METRICS_DIR)
    for slug in shared:  # the same query as before: the version's hash holds
        metric = catalogue.get(slug)
        assert versions[slug][str(metric.version)] == metric.definition_hash


def test_a_changed_template_reloads_the_metrics_using_it(tmp_path):
    directory = tmp_path / "metrics"
    shutil.copytree(settings.METRICS_DIR, directory)
    first = load_catalogue(directory)
    path = directory / "repeat_booking_rate.sql.tmpl"
    path.write_text(path.read_text().replace("INTERVAL '{days}' DAY", "INTERVAL '{days}' HOUR"))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    again = load_catalogue(directory)
    assert again is not first
    assert "INTERVAL '7' HOUR" in again.get("repeat_booking_rate_7d").sql
    assert json.loads((directory / "versions.json").read_text())  # untouched by loading
    path.unlink()
    broken = load_catalogue(directory).broken
    assert set(broken) == {f"repeat_booking_rate_{d}d" for d in (7, 30, 90)}
