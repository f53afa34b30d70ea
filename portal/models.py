import hashlib
import secrets

from django.db import models


class ServiceToken(models.Model):
    """An API token for an app (a service account), with its own narrow scopes.

    Only a hash is stored; the token itself is shown once, when it is created.
    """

    SCOPES = ("assignment:read", "consent:read", "consent:write")

    name = models.CharField(max_length=100, unique=True)
    token_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def hash(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @staticmethod
    def generate() -> str:
        return "pst_" + secrets.token_urlsafe(32)


class WorkerHeartbeat(models.Model):
    """The last sign of life of one Celery worker (portal.heartbeat); /healthz counts the
    workers that beat lately. In the portal DB, so that it works with every broker."""

    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField(db_index=True)

    class Meta:
        # Two workers may share a node name (two on one host without -n): each has its row.
        constraints = [
            models.UniqueConstraint(fields=["hostname", "pid"], name="one_heartbeat_per_worker")
        ]

    def __str__(self) -> str:
        return f"{self.hostname} (pid {self.pid})"
