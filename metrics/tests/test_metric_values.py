"""Every metric's SQL, run on DuckDB over a lake, against an independent pandas computation of
the metric's definition over the same lake's Parquet files (metrics/tests/references.py)."""

import pytest

from metrics.tests.references import (
    INNER_WINDOW,
    LONG_INNER,
    LONG_METRICS,
    LONG_WINDOW,
    REFERENCES,
    SMALL_WINDOW,
    SPARSE_ON_SMALL_LAKE,
    Q,
    cases,
    check_metric,
)


def test_every_metric_has_a_reference(catalogue):
    assert set(REFERENCES) == set(catalogue.metrics)


@pytest.mark.parametrize("slug", sorted(REFERENCES))
def test_small_lake_values_match_pandas(slug, catalogue, small_frames, lake_settings):
    check_metric(catalogue.get(slug), small_frames, (SMALL_WINDOW, INNER_WINDOW))


@pytest.mark.parametrize("slug", LONG_METRICS)
def test_long_lake_values_match_pandas(slug, catalogue, long_frames, long_lake_settings):
    metric = catalogue.get(slug)
    for q in cases(metric, long_frames, (LONG_WINDOW, LONG_INNER)):
        assert REFERENCES[slug](long_frames, q).value.notna().any(), f"nothing to compare: {q}"
    check_metric(metric, long_frames, (LONG_WINDOW, LONG_INNER))


@pytest.mark.parametrize("slug", sorted(set(REFERENCES) - set(SPARSE_ON_SMALL_LAKE)))
def test_small_lake_gives_values(slug, small_frames):
    """Not a vacuous comparison: every metric but the sparse ones (checked on the long lake)
    has values on the small lake (digests go out on Mondays only: two of them), not all zero."""
    values = REFERENCES[slug](small_frames, Q(*SMALL_WINDOW, "day")).value.dropna()
    assert len(values) >= 2 and (values != 0).any()
