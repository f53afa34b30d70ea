"""Segments of the results by dimension, from rows shaped as segment_stats.sql returns them."""

import dataclasses

import pytest

from demo_lake.clients import PLATFORMS, USER_AGENTS
from experiments.outcomes import VariantTotals, totals_by_variant
from experiments.segments import OTHER, platform_of, segment_rows

SUMS = [field.name for field in dataclasses.fields(VariantTotals) if field.type is float]
# The operating systems of the demo lake's agents, read off the agents by hand.
DEMO_PLATFORMS = ["iOS", "Android", "Windows", "Mac OS X", "iOS"]


def test_the_demo_agents_platforms():
    people = [ua for ua, kind in zip(USER_AGENTS, PLATFORMS, strict=True) if kind != "crawler"]
    assert [platform_of(ua) for ua in people] == DEMO_PLATFORMS
    assert platform_of("") == OTHER
    assert platform_of("curl/8.5.0") == OTHER


def row(dimension: str, segment: str, variant: str, units: int, conversions: int) -> dict:
    return {
        "grouped_by": dimension,
        "segment": segment,
        "variant": variant,
        "units": units,
        "matured_units": units,
        "conversions": conversions,
        "pre_conversions": 0,
        "conversion_products": 0,
        "units_pre_conversions": 0,
        **dict.fromkeys(SUMS, 1.5),
    }


AGENTS = {
    "iOS": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15",
    "Android": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/131.0",
    "Windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130.0",
    "Mac OS X": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15",
    "Linux": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Chrome OS": "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 Chrome/131.0",
}


def totals(rows):
    return {
        dimension: {name: totals_by_variant(seg) for name, seg in segments.items()}
        for dimension, segments in segment_rows(rows).items()
    }


def test_the_largest_segments_are_kept_and_the_rest_summed_into_other():
    # Units per platform: iOS 600, Android 500, Windows 400, Mac 300, Linux 200, Chrome OS 100,
    # and 50 without a known system; each split between control and treatment. Two agents of
    # one system are one platform.
    sizes = dict(zip(AGENTS, (600, 500, 400, 300, 200, 100), strict=True))
    rows = [
        row("platform", AGENTS[name] + suffix, variant, n // 4, n // 40)
        for name, n in sizes.items()
        for variant in ("control", "treatment")
        for suffix in ("", " Build/1")
    ]
    rows += [row("platform", "", "control", 25, 1), row("platform", "curl/8", "treatment", 25, 2)]
    rows += [
        row("visitor", kind, variant, 1_050, 10)
        for kind in ("new", "returning")
        for variant in ("control", "treatment")
    ]
    found = totals(rows)
    platforms = found["platform"]
    assert list(platforms) == ["iOS", "Android", "Windows", "Mac OS X", OTHER]
    other = platforms[OTHER]
    # Linux, Chrome OS and the unknown agents.
    assert other["control"].units == 200 // 2 + 100 // 2 + 25
    assert other["treatment"].units == 200 // 2 + 100 // 2 + 25
    assert other["treatment"].conversions == 2 * (200 // 40 + 100 // 40) + 2
    assert platforms["iOS"]["control"].units == 300
    assert platforms["iOS"]["treatment"].units_pre_sum == pytest.approx(3.0)
    assert set(found["visitor"]) == {"new", "returning"}
    # A dimension without rows is left out.
    assert "country" not in found


def test_few_segments_are_all_kept_and_an_unknown_country_is_other():
    rows = [row("platform", AGENTS["iOS"], "control", 10, 1), row("platform", "", "b", 10, 1)]
    rows += [row("country", "DE", "control", 10, 1), row("country", "", "b", 10, 1)]
    found = segment_rows(rows)
    assert list(found["platform"]) == ["iOS", OTHER]
    assert list(found["country"]) == ["DE", OTHER]
