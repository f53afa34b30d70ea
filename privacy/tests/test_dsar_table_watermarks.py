"""An erasure moves the watermarks of the tables it changed only: the cached results of metrics
reading other tables are still served afterwards, those reading a changed table are computed
again. Real DuckDB runs on a private copy of the small lake, the configured cache."""

from datetime import date

import pytest
from django.conf import settings

from metrics.catalogue import load_catalogue
from metrics.params import metric_params
from metrics.services import metric_params_submit
from portal.roles import Access
from privacy import dsar_job
from privacy.models import DsarRequest
from privacy.tests.builders import approved, holds
from privacy.tests.conftest import read_table
from warehouse import result_cache, services
from warehouse.lake import erasure, storage
from warehouse.models import QueryRun

pytestmark = pytest.mark.django_db

GENERAL = frozenset({Access.GENERAL})
TOUCHED = {"consent_changes", "dim_identities", "fact_messages_sent"}
# Dashboard tiles: one reads a table the erasure changes, the others do not.
CHANGED_METRIC = "email_digest_ctr"  # fact_messages_sent
KEPT_METRICS = ("refund_rate", "search_to_view_ctr")  # fact_bookings, fact_funnel_events


def subject_in_three_tables(root) -> str:
    """An identity whose rows, and those of the ids dim_identities links to it (two steps, as
    the erasure links them), are in exactly consent_changes, dim_identities and
    fact_messages_sent: by pandas."""
    tables = erasure.erasable_tables()
    frames = {table.name: read_table(root, table.name) for table in tables}
    dim = frames["dim_identities"]
    for identity in sorted(set(frames["fact_messages_sent"]["identity_id"])):
        ids = {identity}
        for _ in range(2):
            rows = dim[dim["identity_id"].isin(ids) | dim["user_id"].isin(ids)]
            ids |= set(rows["identity_id"]) | set(rows["user_id"].dropna())
        touched = {t.name for t in tables if holds(frames[t.name], t, ids).any()}
        if touched == TOUCHED:
            return identity
    raise AssertionError("the small lake has no such identity")


def tile(slug: str):
    """A dashboard tile's view of the metric, submitted as the page submits it."""
    metric = load_catalogue().metrics[slug]
    params = metric_params(
        metric,
        start=date(2026, 1, 18),
        end=date(2026, 1, 31),
        grain="day",
        max_window_days=settings.METRICS_MAX_WINDOW_DAYS,
    )
    return metric_params_submit(metric=metric, params=params, scope=GENERAL)


def test_a_dsar_touching_three_tables_leaves_the_other_metrics_served(lake_copy, privacy_users):
    identity_id = subject_in_three_tables(lake_copy)
    warmed = {}
    for slug in (CHANGED_METRIC, *KEPT_METRICS):
        warmed[slug] = services.query_run_execute(run_id=tile(slug).run.pk)
        assert tile(slug).cached.run_id == warmed[slug].pk
    before = storage.read_watermark(lake_copy)

    dsar = approved(privacy_users, identity_id=identity_id)
    done = dsar_job.dsar_execute(request_id=dsar.pk)

    assert done.status == DsarRequest.Status.COMPLETED, done.error
    changed = set(done.tables.filter(rows_changed__gt=0).values_list("table", flat=True))
    assert changed == TOUCHED
    after = storage.read_watermark(lake_copy)
    assert {name for name, _ in after.tables} == TOUCHED and after.epoch == before.epoch
    runs = QueryRun.objects.count()
    for slug in KEPT_METRICS:
        # Served from the cache: the run computed before the erasure, and no new run.
        kept = tile(slug)
        assert kept.cached is not None and kept.cached.run_id == warmed[slug].pk, slug
        assert result_cache.get(warmed[slug].cache_key) is not None
    assert QueryRun.objects.count() == runs
    # The metric reading fact_messages_sent: its result went, and it is computed again.
    assert result_cache.get(warmed[CHANGED_METRIC].cache_key) is None
    again = tile(CHANGED_METRIC)
    assert again.cached is None and again.run.pk != warmed[CHANGED_METRIC].pk
    assert again.run.cache_key != warmed[CHANGED_METRIC].cache_key
    assert services.query_run_execute(run_id=again.run.pk).status == QueryRun.Status.SUCCEEDED
