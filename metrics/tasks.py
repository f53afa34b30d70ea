"""Scheduled warming of dashboard tiles: once a day, and whenever the lake's watermark moves."""

from celery import shared_task
from celery.schedules import crontab
from django.conf import settings

from metrics import warming
from portal.celery import app


@shared_task
def warm_dashboards() -> int:
    """Recompute every tile's default view, cached or not (remote warehouses whose loader does
    not report a watermark get fresh numbers at least daily)."""
    return warming.dashboards_warm(force_refresh=True)


@shared_task
def warm_dashboards_on_new_data() -> int:
    return warming.dashboards_warm_if_watermark_moved()


@app.on_after_finalize.connect
def _schedule(sender, **kwargs):
    sender.add_periodic_task(
        crontab(hour=settings.METRICS_WARM_HOUR_UTC, minute=0),
        warm_dashboards.s(),
        name="metrics: warm dashboards daily",
    )
    sender.add_periodic_task(
        settings.METRICS_WARM_CHECK_SECONDS,
        warm_dashboards_on_new_data.s(),
        name="metrics: warm dashboards when the lake watermark moves",
    )
