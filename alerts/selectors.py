from django.db.models import F, QuerySet

from alerts.models import Alert


def alerts_feed(*, source: str | None = None, limit: int = 200) -> QuerySet[Alert]:
    """Open alerts first, newest first; then recently closed ones."""
    alerts = Alert.objects.all()
    if source:
        alerts = alerts.filter(source=source)
    return alerts.order_by(F("closed_at").asc(nulls_first=True), "-opened_at")[:limit]
