from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "metrics"

    def ready(self) -> None:
        # Here, not at the top: models may be imported only once the app registry is ready.
        from annotations.selectors import note_scopes_register
        from metrics.selectors import dashboard_metrics_readable, metric_readable

        # Notes on a metric or a dashboard are for those who may read it.
        note_scopes_register(metric=metric_readable, dashboard=dashboard_metrics_readable)
