from rest_framework import serializers

from warehouse.engines.registry import ENGINE_NAMES
from warehouse.models import QueryRun
from warehouse.result_cache import CachedResult


class QuerySubmitSerializer(serializers.Serializer):
    sql = serializers.CharField(max_length=100_000)
    params = serializers.JSONField(required=False, default=dict)
    engine = serializers.ChoiceField(choices=ENGINE_NAMES, required=False)
    force_refresh = serializers.BooleanField(default=False)
    label = serializers.CharField(max_length=200, required=False, default="")


def cached_payload(cached: CachedResult) -> dict:
    return {
        "run_id": cached.run_id,
        "status": QueryRun.Status.SUCCEEDED,
        "from_cache": True,
        "cached_at": cached.cached_at.isoformat(),
        "data_as_of": cached.data_as_of,
        "result": cached.payload,
    }


def run_payload(run: QueryRun, cached: CachedResult | None) -> dict:
    return {
        "run_id": run.pk,
        "status": run.status,
        "from_cache": False,
        "engine": run.engine,
        "label": run.label,
        "sql_hash": run.sql_hash,
        "queued_at": run.queued_at.isoformat(),
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "duration_s": run.duration_s,
        "rows": run.rows,
        "bytes_scanned": run.bytes_scanned,
        "cost_usd": run.cost_usd,
        "error": run.error or None,
        "cached_at": cached.cached_at.isoformat() if cached else None,
        "data_as_of": cached.data_as_of if cached else None,
        "result": cached.payload if cached else None,
    }
