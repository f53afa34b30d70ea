from django.conf import settings
from django.db import models
from django.db.models import Q

TEXT_MAX = 1000


class Note(models.Model):
    """A person's note on the time axis: on every chart (no scope), or on one metric's charts,
    or on one dashboard's. Only its author changes it."""

    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(db_index=True)
    text = models.TextField(max_length=TEXT_MAX)
    metric = models.CharField(max_length=100, blank=True, help_text="a metric's slug, or empty")
    dashboard = models.CharField(
        max_length=100, blank=True, help_text="a dashboard's slug, or empty"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(metric="") | Q(dashboard=""), name="note_one_scope")
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d} {self.text[:40]}"
