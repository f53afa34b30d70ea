"""The warehouse API's request and answers, as /api/schema/ describes them."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.engines import ENGINE_NAMES
from warehouse import params as query_params
from warehouse.models import QueryRun
from warehouse.result_cache import CachedResult

SCALAR = {"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}


@extend_schema_field(
    {
        "type": "object",
        "description": 'Name to value: a JSON scalar, or {"type": one of '
        f'{", ".join(query_params.TYPES)}, "value": ...}} (dates as YYYY-MM-DD).',
        "additionalProperties": {
            "anyOf": [
                SCALAR,
                {
                    "type": "object",
                    "properties": {
                        "type": {"type": "string", "enum": list(query_params.TYPES)},
                        "value": SCALAR,
                    },
                    "required": ["type", "value"],
                },
            ]
        },
    }
)
class QueryParamsField(serializers.JSONField):
    """Decoded by warehouse.params (its core.errors.InputError names params.<name>): the typed
    form the same parameters take in API bodies, QueryRun rows and task messages."""

    def to_internal_value(self, data):
        return query_params.decode(super().to_internal_value(data))


@extend_schema_field({**SCALAR, "nullable": True})
class CellField(serializers.JSONField):
    """A result cell: string, number, boolean or null."""


class ResultSerializer(serializers.Serializer):
    columns = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(child=serializers.ListField(child=CellField()))


class QuerySubmitSerializer(serializers.Serializer):
    sql = serializers.CharField(max_length=100_000)
    params = QueryParamsField(required=False, default=dict)
    engine = serializers.ChoiceField(choices=ENGINE_NAMES, required=False)
    force_refresh = serializers.BooleanField(default=False)
    label = serializers.CharField(max_length=200, required=False, default="")


class QueryAnswerSerializer(serializers.Serializer):
    """A run, or a result served from the cache (from_cache: then only run_id, status,
    cached_at, data_as_of and result)."""

    run_id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=QueryRun.Status.values)
    from_cache = serializers.BooleanField()
    engine = serializers.CharField(required=False)
    label = serializers.CharField(required=False, allow_blank=True)
    sql_hash = serializers.CharField(required=False)
    queued_at = serializers.DateTimeField(required=False)
    started_at = serializers.DateTimeField(required=False, allow_null=True)
    finished_at = serializers.DateTimeField(required=False, allow_null=True)
    duration_s = serializers.FloatField(required=False, allow_null=True)
    rows = serializers.IntegerField(required=False, allow_null=True)
    bytes_scanned = serializers.IntegerField(required=False, allow_null=True)
    cost_usd = serializers.FloatField(required=False, allow_null=True)
    error = serializers.CharField(required=False, allow_null=True)
    cached_at = serializers.DateTimeField(allow_null=True)
    data_as_of = serializers.CharField(allow_null=True)
    result = ResultSerializer(allow_null=True)


class RunPendingSerializer(serializers.Serializer):
    """The query still runs: GET poll_url until it is done, or ask again."""

    status = serializers.ChoiceField(choices=QueryRun.IN_FLIGHT)
    run_id = serializers.IntegerField()
    poll_url = serializers.CharField(required=False)


class RunFailedSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=QueryRun.Status.values)
    run_id = serializers.IntegerField()
    error = serializers.CharField(allow_null=True, allow_blank=True)


# The answers are built as plain dicts, as metrics.serializers.data_payload is: the result rows
# are JSON-ready, and a serializer field per cell would cost more than the rest of the answer.
# tests/test_api_schema.py checks that they are what QueryAnswerSerializer describes.


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
