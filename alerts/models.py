from django.db import models
from django.db.models import Q


class Alert(models.Model):
    """One breach of one condition: opened once, updated while it lasts, closed on recovery."""

    class Severity(models.TextChoices):
        WARNING = "warning"
        ALARM = "alarm"

    key = models.CharField(max_length=200, help_text="identifies the condition, e.g. 'srm:exp_x'")
    source = models.CharField(max_length=32)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    title = models.CharField(max_length=300)
    detail = models.TextField(blank=True)
    values = models.JSONField(default=dict, blank=True)
    link = models.CharField(max_length=300, blank=True)
    opened_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    updates = models.PositiveIntegerField(default=0)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["key"], condition=Q(closed_at__isnull=True), name="one_open_alert_per_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.severity}: {self.title}"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None
