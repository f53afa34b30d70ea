from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class QueryRun(models.Model):
    """One run of canonical SQL on a warehouse engine, from queued to finished."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    IN_FLIGHT = (Status.QUEUED, Status.RUNNING)

    engine = models.CharField(max_length=16)
    label = models.CharField(max_length=200, blank=True)
    sql_hash = models.CharField(max_length=16)
    canonical_sql = models.TextField()
    translated_sql = models.TextField(blank=True)
    params = models.JSONField(default=dict)
    scope = models.CharField(max_length=100)
    tables = models.JSONField(default=list)
    cache_key = models.CharField(max_length=64, db_index=True)
    watermark = models.CharField(max_length=64, blank=True)
    force_refresh = models.BooleanField(default=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    queued_at = models.DateTimeField(default=timezone.now)
    # The lease: when the run was (re)queued, or when its worker last reported while running.
    # An in-flight run whose lease is older than QUERY_RUN_LEASE_SECONDS is taken over.
    heartbeat_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    rows = models.BigIntegerField(null=True, blank=True)
    bytes_scanned = models.BigIntegerField(null=True, blank=True)
    cost_usd = models.FloatField(null=True, blank=True)
    engine_query_id = models.CharField(max_length=128, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-queued_at"]
        constraints = [
            # Single flight: at most one queued or running run per cache key.
            models.UniqueConstraint(
                fields=["cache_key"],
                condition=Q(status__in=["queued", "running"]),
                name="one_in_flight_run_per_cache_key",
            )
        ]
        indexes = [
            models.Index(fields=["label", "-queued_at"]),
            # The sweeper's and the per-user cap's look-ups of runs in flight.
            models.Index(
                fields=["status", "heartbeat_at"],
                condition=Q(status__in=["queued", "running"]),
                name="in_flight_run_lease",
            ),
            models.Index(
                fields=["requested_by", "status"],
                condition=Q(status__in=["queued", "running"]),
                name="in_flight_run_by_user",
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} {self.label or self.sql_hash} [{self.status}]"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    @property
    def duration_s(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None
