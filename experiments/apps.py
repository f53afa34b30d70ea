from django.apps import AppConfig


class ExperimentsConfig(AppConfig):
    name = "experiments"

    def ready(self) -> None:
        from alerts.selectors import alert_source_register
        from experiments.results import SOURCE
        from experiments.roles import can_read
        from warehouse.selectors import run_page_register

        # Results and baselines are read on experiment pages only: their runs and alerts are
        # for the same readers.
        for prefix in ("experiment results:", "experiment baseline"):
            run_page_register(label_prefix=prefix, may_open=can_read)
        alert_source_register(source=SOURCE, may_open=can_read)
