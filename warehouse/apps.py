from django.apps import AppConfig

from warehouse.engines.registry import get_engine


class WarehouseConfig(AppConfig):
    name = "warehouse"

    def ready(self) -> None:
        # Here, not at the top: portal.health reads models (worker heartbeats), which may be
        # imported only once the app registry is ready.
        from portal.health import health_check_register

        health_check_register(name="warehouse", check=lambda: get_engine().ping())
