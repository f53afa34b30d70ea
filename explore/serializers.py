"""The explore API's answers, as the schema documents them."""

from hashlib import sha256

from django.conf import settings
from django.urls import reverse
from rest_framework import serializers

from explore.forms import ExploreState
from explore.selectors import Explored, explored
from portal.local_cache import local_cache
from warehouse.models import QueryRun
from warehouse.result_cache import CachedResult
from warehouse.services import Submission


class ExploreWindowSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()


class ExploreSeriesSerializer(serializers.Serializer):
    name = serializers.CharField(help_text='A value of the breakdown, "Other", or "all".')
    periods = serializers.ListField(child=serializers.DateField())
    values = serializers.ListField(child=serializers.FloatField(allow_null=True))
    compare_periods = serializers.ListField(child=serializers.DateField(allow_null=True))
    compare_values = serializers.ListField(child=serializers.FloatField(allow_null=True))


class ExploreTotalSerializer(serializers.Serializer):
    name = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    compare_value = serializers.FloatField(allow_null=True)
    label = serializers.CharField()


class ExploreTableRowSerializer(serializers.Serializer):
    period = serializers.DateField()
    series = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    numerator = serializers.FloatField(allow_null=True, required=False, help_text="Ratios.")
    denominator = serializers.FloatField(allow_null=True, required=False, help_text="Ratios.")
    compare_period = serializers.DateField(
        allow_null=True, required=False, help_text="With a comparison: the period compared."
    )
    compare_value = serializers.FloatField(allow_null=True, required=False)
    change = serializers.FloatField(allow_null=True, required=False, help_text="value - compare")
    change_relative = serializers.FloatField(
        allow_null=True, required=False, help_text="change / |compare_value|"
    )


class ExploreTableSerializer(serializers.Serializer):
    columns = serializers.ListField(child=serializers.CharField(), help_text="In this order.")
    rows = ExploreTableRowSerializer(many=True)


class ExploreDataSerializer(serializers.Serializer):
    metric = serializers.CharField()
    status = serializers.CharField()
    query = serializers.DictField(
        child=serializers.CharField(), help_text="The GET parameters of this view."
    )
    grain = serializers.CharField()
    window = ExploreWindowSerializer()
    compare_window = ExploreWindowSerializer(allow_null=True)
    series = ExploreSeriesSerializer(many=True)
    totals = ExploreTotalSerializer(many=True)
    table = ExploreTableSerializer()
    notes = serializers.ListField(child=serializers.CharField())
    run_ids = serializers.ListField(child=serializers.IntegerField())
    data_as_of = serializers.CharField(allow_null=True)
    cached_at = serializers.DateTimeField()


class ExploreQueuedSerializer(serializers.Serializer):
    metric = serializers.CharField()
    status = serializers.ChoiceField(choices=QueryRun.IN_FLIGHT)
    run_id = serializers.IntegerField()
    poll_url = serializers.CharField(help_text="GET it until status is succeeded or failed.")


class MetricValueSerializer(serializers.Serializer):
    value = serializers.CharField()
    items = serializers.IntegerField(help_text="Rows of the metric's data with this value.")


class MetricValuesSerializer(serializers.Serializer):
    metric = serializers.CharField()
    dimension = serializers.CharField()
    status = serializers.CharField()
    run_id = serializers.IntegerField()
    cached_at = serializers.DateTimeField()
    data_as_of = serializers.CharField(allow_null=True)
    values = MetricValueSerializer(many=True)


def queued_payload(slug: str, run: QueryRun) -> dict:
    return {
        "metric": slug,
        "status": run.status,
        "run_id": run.pk,
        "poll_url": reverse("api-run-detail", args=[run.pk]),
    }


def first_pending(submissions: list[Submission]) -> QueryRun | None:
    return next((s.run for s in submissions if s.cached is None), None)


def explore_payload_of(state: ExploreState, results: list[CachedResult]) -> dict:
    """The 200 answer for ``state`` from its runs' results, shaped once per process: the key
    names the results (run and time cached, so a scope's own) and the whole state, and a warm
    view then costs what a warm tile does."""
    stamp = ",".join(f"{r.run_id}:{r.cached_at.isoformat()}" for r in results)
    key = "explore:" + sha256(f"{stamp}|{state.urlencode()}".encode()).hexdigest()
    if (found := local_cache().get(key)) is None:
        found = explore_payload(explored(state, results))
        local_cache().set(key, found, timeout=settings.RESULT_CACHE_TTL_SECONDS)
    return found


def explore_payload(view: Explored) -> dict:
    """The 200 answer, as a plain dict (ExploreDataSerializer documents it)."""
    state, table = view.state, view.table
    series = []
    for name in view.names:
        rows = table[table["series"] == name]
        entry = {
            "name": name,
            "periods": [p.isoformat() for p in rows["period"]],
            "values": _floats(rows["value"]),
            "compare_periods": [],
            "compare_values": [],
        }
        if "compare_period" in rows:
            entry["compare_periods"] = [p.isoformat() if p else None for p in rows.compare_period]
            entry["compare_values"] = _floats(rows["compare_value"])
        series.append(entry)
    window = state.compare_window
    newest = max(view.results, key=lambda r: r.cached_at)
    return {
        "metric": state.metric.slug,
        "status": QueryRun.Status.SUCCEEDED,
        "query": state.query(),
        "grain": state.grain,
        "window": {"start": state.start.isoformat(), "end": state.end.isoformat()},
        "compare_window": (
            {"start": window[0].isoformat(), "end": window[1].isoformat()} if window else None
        ),
        "series": series,
        "totals": [t.__dict__ for t in view.totals],
        "table": {"columns": list(table.columns), "rows": _rows(table)},
        "notes": view.notes,
        "run_ids": [r.run_id for r in view.results],
        "data_as_of": view.results[0].data_as_of,
        "cached_at": newest.cached_at.isoformat(),
    }


def values_payload(slug: str, dimension: str, cached: CachedResult) -> dict:
    frame = cached.frame
    return {
        "metric": slug,
        "dimension": dimension,
        "status": QueryRun.Status.SUCCEEDED,
        "run_id": cached.run_id,
        "cached_at": cached.cached_at.isoformat(),
        "data_as_of": cached.data_as_of,
        "values": [
            {"value": str(v), "items": int(n)}
            for v, n in zip(frame["value"], frame["items"], strict=True)
        ],
    }


def _floats(column) -> list[float | None]:
    return [None if v is None or v != v else float(v) for v in column]


def _rows(table) -> list[dict]:
    def cell(v):
        if v is None or (isinstance(v, float) and v != v):
            return None
        return v.isoformat() if hasattr(v, "isoformat") else v

    columns = list(table.columns)
    return [
        dict(zip(columns, (cell(v) for v in row), strict=True))
        for row in table.itertuples(index=False)
    ]
