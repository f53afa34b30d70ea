from functools import partial

from django.apps import AppConfig
from django.conf import settings
from django.core import checks

from pipeline.health import Thresholds
from portal.roles import Capability, may
from warehouse.lake import contract


class PipelineConfig(AppConfig):
    name = "pipeline"

    def ready(self) -> None:
        # Here, not at the top: models may be imported only once the app registry is ready.
        from alerts.selectors import alert_source_register
        from privacy.signals import identity_erased

        checks.register(check_settings)
        can_read = partial(may, capability=Capability.PIPELINE_READ)
        alert_source_register(source="pipeline", may_open=can_read)
        identity_erased.connect(_erase_samples, dispatch_uid="pipeline.dead_letter_samples")


def _erase_samples(sender, *, identity_id: str, user_id: str, linked_ids, tombstone: str, **kw):
    """A DSAR erasure reaches the dead-letter samples the portal keeps."""
    # Here, not at the top: services use models, which load after this module.
    from pipeline.services import dead_letter_samples_erase

    ids = [v for v in (identity_id, user_id, *linked_ids) if v]
    dead_letter_samples_erase(ids=ids, tombstone=tombstone)


def check_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The pipeline's settings name real thresholds with sensible values and real tables."""
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
