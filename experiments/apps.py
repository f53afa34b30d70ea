from functools import partial

from django.apps import AppConfig

from portal.roles import Capability, may


class ExperimentsConfig(AppConfig):
    name = "experiments"

    def ready(self) -> None:
        # Here, not at the top: models may be imported only once the app registry is ready.
        from alerts.selectors import alert_source_register
        from annotations.selectors import annotation_source_register
        from experiments.results import SOURCE
        from experiments.selectors import annotations
        from warehouse.selectors import run_page_register

        can_read = partial(may, capability=Capability.EXPERIMENTS_READ)

        # Results, their health checks and baselines are read on experiment pages only: their
        # runs and alerts are for the same readers.
        for prefix in ("experiment results:", "experiment health:", "experiment baseline"):
            run_page_register(label_prefix=prefix, may_open=can_read)
        alert_source_register(source=SOURCE, may_open=can_read)
        # Launches, kills and conclusions on every time-series chart, for the same readers.
        annotation_source_register(name="experiments", may_see=can_read, events=annotations)
