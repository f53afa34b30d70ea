"""Dashboard warming as Celery beat runs it (settings.CELERY_BEAT_SCHEDULE): once a day, and
whenever the lake's watermark moves."""

from celery import shared_task

from metrics import warming


@shared_task
def warm_dashboards() -> int:
    """Recompute every tile's default view, cached or not (remote warehouses whose loader does
    not report a watermark get fresh numbers at least daily)."""
    return warming.dashboards_warm(force_refresh=True)


@shared_task
def warm_dashboards_on_new_data() -> int:
    return warming.dashboards_warm_if_watermark_moved()
