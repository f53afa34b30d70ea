from django.apps import AppConfig
from django.core import checks


class PipelineConfig(AppConfig):
    name = "pipeline"

    def ready(self) -> None:
        checks.register(check_settings)


def check_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The pipeline's settings name real thresholds with sensible values and real tables."""
    from django.conf import settings

    from pipeline.health import Thresholds
    from warehouse.lake import contract

    errors = []
    try:
        Thresholds.from_mapping(settings.PIPELINE_THRESHOLDS)
    except ValueError as err:
        errors.append(checks.Error(f"PIPELINE_THRESHOLDS: {err}", id="pipeline.E001"))
    for name in ("PIPELINE_FRESHNESS_STREAM_TABLES", "PIPELINE_FRESHNESS_DAILY_TABLES"):
        unknown = sorted(set(getattr(settings, name)) - set(contract.TABLES))
        if unknown:
            message = f"{name}: {unknown[0]!r} is not a table of the lake contract"
            errors.append(checks.Error(message, id="pipeline.E002"))
    return errors
