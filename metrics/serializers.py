"""What the metrics API returns (and the OpenAPI schema describes)."""

from dataclasses import asdict
from datetime import date, timedelta

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from sqlglot.errors import SqlglotError

from core.engines import ENGINE_NAMES
from metrics.catalogue import Metric
from metrics.dashboards import Dashboard
from metrics.params import MetricParams
from metrics.selectors import TileView
from metrics.summary import summarise
from metrics.windows import matured_window
from portal.local_cache import local_cache
from warehouse.models import QueryRun
from warehouse.result_cache import CachedResult
from warehouse.serializers import ResultSerializer
from warehouse.sql import SqlError, parse, translate


class DataOptionsSerializer(serializers.Serializer):
    """Query options of the data endpoint besides the metric's own parameters."""

    force_refresh = serializers.BooleanField(default=False)


class MetricSerializer(serializers.Serializer):
    slug = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    owner = serializers.CharField()
    area = serializers.CharField()
    area_title = serializers.CharField()
    unit = serializers.CharField()
    format = serializers.CharField()
    grains = serializers.ListField(child=serializers.CharField())
    dimensions = serializers.ListField(child=serializers.CharField())
    higher_is_better = serializers.BooleanField()
    is_ratio = serializers.BooleanField()
    version = serializers.IntegerField()
    timezone = serializers.CharField()
    audience = serializers.CharField(allow_null=True)
    matures_after_days = serializers.IntegerField(
        allow_null=True,
        help_text="Days after a cohort's day before its value is settled (censored metrics).",
    )
    tables = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    data_url = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_tables(self, metric: Metric) -> list[str]:
        return sorted(metric.tables)

    def get_url(self, metric: Metric) -> str:
        return reverse("metric-detail", args=[metric.slug])

    def get_data_url(self, metric: Metric) -> str:
        return reverse("api-metric-data", args=[metric.slug])


class HistorySerializer(serializers.Serializer):
    version = serializers.IntegerField()
    note = serializers.CharField()


class MetricDetailSerializer(MetricSerializer):
    sql = serializers.CharField()
    translations = serializers.SerializerMethodField()
    lineage = serializers.SerializerMethodField()
    history = serializers.SerializerMethodField()

    @extend_schema_field(serializers.DictField(child=serializers.CharField()))
    def get_translations(self, metric: Metric) -> dict[str, str]:
        return translations(metric)

    @extend_schema_field(
        serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    )
    def get_lineage(self, metric: Metric) -> dict[str, list[str]]:
        return {table: sorted(columns) for table, columns in metric.columns.items()}

    @extend_schema_field(HistorySerializer(many=True))
    def get_history(self, metric: Metric) -> list[dict]:
        return [{"version": v, "note": note} for v, note in reversed(metric.history)]


def translations(metric: Metric) -> dict[str, str]:
    """The query as each engine runs it (placeholders in that driver's binding style)."""
    canonical = parse(metric.sql)
    out = {}
    for engine in ENGINE_NAMES:
        try:
            out[engine] = translate(canonical, engine)
        except (SqlError, SqlglotError) as err:  # shown, not raised: the page must render
            out[engine] = f"-- cannot translate for {engine}: {err}"
    return out


class SummarySerializer(serializers.Serializer):
    value = serializers.FloatField(allow_null=True)
    method = serializers.ChoiceField(
        choices=["ratio_of_sums", "sum", "mean_of_periods", "none"],
        help_text="How the periods were combined into one number for the window.",
    )
    label = serializers.CharField()
    numerator = serializers.FloatField(allow_null=True)
    denominator = serializers.FloatField(allow_null=True)
    periods = serializers.IntegerField()


class ParamsSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    grain = serializers.CharField()
    split_by = serializers.CharField(allow_null=True)
    filters = serializers.DictField(child=serializers.CharField())


class MaturitySerializer(serializers.Serializer):
    matures_after_days = serializers.IntegerField()
    matured_through = serializers.DateField(
        allow_null=True, help_text="The newest cohort day that has matured by data_as_of."
    )
    note = serializers.CharField(
        help_text="Says which cohorts of the window have not matured; empty when all have."
    )


class MetricDataSerializer(serializers.Serializer):
    metric = serializers.CharField()
    status = serializers.CharField()
    run_id = serializers.IntegerField()
    poll_url = serializers.CharField()
    cached_at = serializers.DateTimeField()
    data_as_of = serializers.CharField(allow_null=True, help_text="Newest lake partition.")
    params = ParamsSerializer()
    result = ResultSerializer()
    summary = SummarySerializer()
    maturity = MaturitySerializer(
        allow_null=True, help_text="Censored metrics only (matures_after_days); else null."
    )


class RunQueuedSerializer(serializers.Serializer):
    metric = serializers.CharField()
    status = serializers.ChoiceField(choices=QueryRun.IN_FLIGHT)
    run_id = serializers.IntegerField()
    poll_url = serializers.CharField(help_text="GET it until status is succeeded or failed.")


def params_payload(params: MetricParams) -> dict:
    return {
        "start": params.start.isoformat(),
        "end": params.end.isoformat(),
        "grain": params.grain,
        "split_by": params.split_by,
        "filters": dict(params.filters),
    }


def data_payload(metric: Metric, params: MetricParams, cached: CachedResult) -> dict:
    """The 200 answer (shaped as MetricDataSerializer documents it). Built as a plain dict: the
    rows are already JSON-ready, and a serializer field per cell would cost more than the rest
    of a cache hit together."""
    return {
        "metric": metric.slug,
        "status": QueryRun.Status.SUCCEEDED,
        "run_id": cached.run_id,
        "poll_url": reverse("api-run-detail", args=[cached.run_id]),
        "cached_at": cached.cached_at.isoformat(),
        "data_as_of": cached.data_as_of,
        "params": params_payload(params),
        "result": cached.payload,
        "summary": _summary(metric, params, cached),
        "maturity": _maturity(metric, params, cached.data_as_of),
    }


def _maturity(metric: Metric, params: MetricParams, data_as_of: str | None) -> dict | None:
    """Which cohorts of a censored metric's window have matured by the result's data."""
    if metric.matures_after_days is None:
        return None
    days = metric.matures_after_days
    latest = date.fromisoformat(data_as_of) - timedelta(days=days) if data_as_of else None
    if latest is None or latest >= params.end:
        note = ""
    elif latest < params.start:
        note = f"No cohort of this window has matured: cohorts mature after {days} days."
    else:
        note = f"Cohorts to {latest.isoformat()} only: newer cohorts mature after {days} days."
    return {
        "matures_after_days": days,
        "matured_through": latest.isoformat() if latest else None,
        "note": note,
    }


def _summary(metric: Metric, params: MetricParams, cached: CachedResult) -> dict:
    """The headline of a cached result, computed once per process: a run's result never
    changes, and every tile load of a dashboard asks for it again."""
    stamp = f"{cached.run_id}:{cached.cached_at.isoformat()}"
    key = f"summary:{stamp}:{metric.unit}:{metric.is_ratio}:{params.grain}"
    if (found := local_cache().get(key)) is None:
        summary = summarise(
            cached.frame, unit=metric.unit, is_ratio=metric.is_ratio, grain=params.grain
        )
        found = asdict(summary)
        local_cache().set(key, found, timeout=settings.RESULT_CACHE_TTL_SECONDS)
    return found


def queued_payload(metric: Metric, run: QueryRun) -> dict:
    return RunQueuedSerializer(
        {
            "metric": metric.slug,
            "status": run.status,
            "run_id": run.pk,
            "poll_url": reverse("api-run-detail", args=[run.pk]),
        }
    ).data


class TileSerializer(serializers.Serializer):
    metric = serializers.CharField(source="tile.metric")
    title = serializers.SerializerMethodField()
    chart = serializers.CharField(source="tile.chart")
    size = serializers.CharField(source="tile.size")
    split_by = serializers.CharField(source="tile.split_by", allow_null=True)
    grains = serializers.SerializerMethodField()
    broken = serializers.SerializerMethodField()
    window = serializers.SerializerMethodField()

    def get_title(self, view: TileView) -> str:
        return view.metric.title if view.metric else view.tile.metric

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_grains(self, view: TileView) -> list[str]:
        return list(view.metric.grains) if view.metric else []

    @extend_schema_field(serializers.ListField(child=serializers.CharField(), allow_null=True))
    def get_broken(self, view: TileView) -> list[str] | None:
        return list(view.broken.errors) if view.broken else None

    @extend_schema_field(
        serializers.DictField(
            child=serializers.CharField(),
            help_text="The window the tile reads by default: the dashboard's, or for a censored "
            "metric its latest matured cohorts (see the metric's matures_after_days).",
        )
    )
    def get_window(self, view: TileView) -> dict[str, str]:
        start, end = self.context["default_window"]
        data_as_of = self.context.get("data_as_of")
        if view.metric is not None and data_as_of:  # as the page's tile: no data, no shift
            start, end = matured_window(
                start,
                end,
                data_as_of=date.fromisoformat(data_as_of),
                matures_after_days=view.metric.matures_after_days,
            )
        return {"start": start.isoformat(), "end": end.isoformat()}


class DashboardSerializer(serializers.Serializer):
    slug = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    default_days = serializers.IntegerField()
    default_grain = serializers.CharField()
    default_compare = serializers.BooleanField()
    url = serializers.SerializerMethodField()

    def get_url(self, dashboard: Dashboard) -> str:
        return reverse("dashboard-detail", args=[dashboard.slug])


class WindowSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()


class DashboardDetailSerializer(DashboardSerializer):
    tiles = serializers.SerializerMethodField()
    default_window = serializers.SerializerMethodField()

    @extend_schema_field(TileSerializer(many=True))
    def get_tiles(self, dashboard: Dashboard) -> list[dict]:
        return TileSerializer(self.context["tiles"], many=True, context=self.context).data

    @extend_schema_field(WindowSerializer)
    def get_default_window(self, dashboard: Dashboard) -> dict:
        start, end = self.context["default_window"]
        return {"start": start.isoformat(), "end": end.isoformat()}
