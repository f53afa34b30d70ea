"""Opening, updating and closing alerts. A condition that stays broken updates its one open
alert; it never opens a second one or sends a second email (no alert storms)."""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from alerts.models import Alert
from alerts.selectors import alert_recipients

log = logging.getLogger(__name__)


@transaction.atomic
def alert_raise(
    *,
    key: str,
    source: str,
    severity: str,
    title: str,
    detail: str = "",
    values: dict | None = None,
    link: str = "",
) -> tuple[Alert, bool]:
    """Open the alert for ``key``, or update the one already open. Returns (alert, opened)."""
    alert = Alert.objects.select_for_update().filter(key=key, closed_at__isnull=True).first()
    if alert is not None:
        alert.severity, alert.title, alert.detail = severity, title, detail
        alert.values, alert.link = values or {}, link
        alert.updates += 1
        alert.save()
        return alert, False
    alert = Alert.objects.create(
        key=key,
        source=source,
        severity=severity,
        title=title,
        detail=detail,
        values=values or {},
        link=link,
    )
    transaction.on_commit(lambda: alert_email(alert_id=alert.pk))
    return alert, True


@transaction.atomic
def alert_resolve(*, key: str) -> Alert | None:
    """Close the open alert for ``key`` if there is one (the condition recovered)."""
    alert = Alert.objects.select_for_update().filter(key=key, closed_at__isnull=True).first()
    if alert is not None:
        alert.closed_at = timezone.now()
        alert.save(update_fields=["closed_at", "updated_at"])
    return alert


def alert_email(*, alert_id: int) -> None:
    """Email the configured recipients once per alert (those who may open its source: see
    alert_recipients); a mail failure never loses the alert."""
    alert = Alert.objects.get(pk=alert_id)
    if alert.emailed_at is not None:
        return
    recipients = alert_recipients(alert, settings.ALERT_EMAILS)
    if not recipients:
        return
    try:
        send_mail(
            subject=f"[portal {alert.severity}] {alert.title}",
            message=f"{alert.detail}\n\n{alert.link}".strip(),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=recipients,
        )
    except OSError:
        log.exception("could not email alert %s", alert.pk)
        return
    Alert.objects.filter(pk=alert_id).update(emailed_at=timezone.now())
