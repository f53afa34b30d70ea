"""Pipeline health stored as time series (one row per check, bucket and subject), the latest
verdict of each check, dead-letter triage, and admin overrides of the thresholds."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from pipeline.health import Cadence, Status, Thresholds, display, display_budget, duration


class Grain(models.TextChoices):
    HOUR = "hour"
    DAY = "day"


class Stage(models.TextChoices):
    SILVER = "silver", "ingest → silver"
    GOLD = "gold", "silver → gold"


class Check(models.TextChoices):
    LOSS = "loss", "Event loss"
    LAG_SILVER = "lag_silver", "Lag ingest → silver"
    LAG_GOLD = "lag_gold", "Lag silver → gold"
    VOLUME = "volume", "Volume by event type"
    FRESHNESS = "freshness", "Table freshness"
    DEAD_LETTERS = "dead_letters", "Dead letters"
    SCHEMAS = "schemas", "Schemas"


STATUS_CHOICES = [(s.value, s.value) for s in Status]


class Bucket(models.Model):
    """A bucket of a time series: its grain and start (UTC), and whether it is settled (past
    the settle time: no more events expected) and judged (enough events to judge)."""

    grain = models.CharField(max_length=4, choices=Grain.choices)
    start = models.DateTimeField()
    judged = models.BooleanField()
    settled = models.BooleanField()
    computed_at = models.DateTimeField()

    class Meta:
        abstract = True
        ordering = ["start"]


class LossPoint(Bucket):
    expected = models.BigIntegerField(help_text="bronze rows: events accepted by ingest")
    delivered = models.BigIntegerField(help_text="silver rows: events delivered")
    ratio = models.FloatField(null=True)
    breach = models.BooleanField()

    class Meta(Bucket.Meta):
        constraints = [
            models.UniqueConstraint(fields=["grain", "start"], name="pipeline_loss_bucket")
        ]

    def __str__(self) -> str:
        return f"loss {self.grain} {self.start:%Y-%m-%d %H:%M}: {self.ratio}"


class LagPoint(Bucket):
    stage = models.CharField(max_length=6, choices=Stage.choices)
    events = models.BigIntegerField()
    p50_s = models.FloatField(null=True)
    p95_s = models.FloatField(null=True)
    max_s = models.FloatField(null=True)
    breach = models.BooleanField()

    class Meta(Bucket.Meta):
        constraints = [
            models.UniqueConstraint(fields=["stage", "grain", "start"], name="pipeline_lag_bucket")
        ]

    def __str__(self) -> str:
        return f"{self.stage} lag {self.grain} {self.start:%Y-%m-%d %H:%M}: p95 {self.p95_s}"


class VolumePoint(Bucket):
    event_name = models.CharField(max_length=200)
    events = models.BigIntegerField()
    baseline = models.FloatField(null=True, help_text="median of the same weekday (and hour)")
    low = models.FloatField(null=True, help_text="the expected range's lower end")
    high = models.FloatField(null=True, help_text="the expected range's upper end")
    score = models.FloatField(null=True, help_text="robust standard deviations from the baseline")
    anomaly = models.BooleanField()

    class Meta(Bucket.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["grain", "start", "event_name"], name="pipeline_volume_bucket"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_name} {self.grain} {self.start:%Y-%m-%d %H:%M}: {self.events}"


class DeadLetterPoint(Bucket):
    dead_letters = models.BigIntegerField()
    accepted = models.BigIntegerField()
    rate = models.FloatField(null=True)
    breach = models.BooleanField()

    class Meta(Bucket.Meta):
        constraints = [
            models.UniqueConstraint(fields=["grain", "start"], name="pipeline_dead_letter_bucket")
        ]

    def __str__(self) -> str:
        return f"dead letters {self.grain} {self.start:%Y-%m-%d %H:%M}: {self.rate}"


class DeadLetterCount(models.Model):
    """Rejected events per receive hour, reason and event name."""

    hour = models.DateTimeField()
    reason = models.CharField(max_length=300)
    event_name = models.CharField(max_length=200)
    events = models.BigIntegerField()
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "reason", "event_name"], name="pipeline_dead_letter_count"
            )
        ]
        indexes = [models.Index(fields=["reason", "hour"])]

    def __str__(self) -> str:
        return f"{self.reason} {self.hour:%Y-%m-%d %H:%M}: {self.events}"


class SchemaVersionSeen(models.Model):
    """Bronze events per day, event name and schema (major) version."""

    day = models.DateField()
    event_name = models.CharField(max_length=200)
    schema_version = models.IntegerField()
    events = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "event_name", "schema_version"], name="pipeline_schema_seen"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_name} v{self.schema_version} {self.day}: {self.events}"


class TableFreshness(models.Model):
    """The latest freshness of one lake table."""

    table_name = models.CharField(max_length=100, unique=True)
    cadence = models.CharField(max_length=8, choices=[(c.value, c.value) for c in Cadence])
    newest_partition = models.DateField(null=True)
    newest_ts = models.DateTimeField(null=True)
    newest_column = models.CharField(max_length=100)
    age_s = models.FloatField(null=True)
    budget_s = models.FloatField(null=True)
    status = models.CharField(max_length=8, choices=STATUS_CHOICES)
    error = models.TextField(blank=True)
    checked_at = models.DateTimeField()

    class Meta:
        ordering = ["table_name"]
        verbose_name_plural = "table freshness"

    def __str__(self) -> str:
        return f"{self.table_name}: {self.status}"

    @property
    def age_display(self) -> str:
        return "no recent data" if self.age_s is None else duration(self.age_s)

    @property
    def budget_display(self) -> str:
        return "no budget" if self.budget_s is None else duration(self.budget_s)


class CheckState(models.Model):
    """The latest verdict of one check: the number against the budget."""

    name = models.CharField(max_length=16, choices=Check.choices, unique=True)
    status = models.CharField(max_length=8, choices=STATUS_CHOICES)
    value = models.FloatField(null=True)
    budget = models.FloatField(null=True)
    unit = models.CharField(max_length=16)
    summary = models.CharField(max_length=500)
    breaches = models.JSONField(default=list)
    evaluated_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name}: {self.status}"

    @property
    def value_display(self) -> str:
        return display(self.value, self.unit)

    @property
    def budget_display(self) -> str:
        return display_budget(self.name, self.budget, self.unit)


class HealthRun(models.Model):
    """One run of the health checks (Celery beat or `manage.py pipeline_health`)."""

    class Outcome(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    as_of = models.DateTimeField()
    days = models.PositiveIntegerField()
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.RUNNING)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"health run {self.pk} as of {self.as_of:%Y-%m-%d %H:%M} [{self.outcome}]"


class DeadLetterReason(models.Model):
    """A triage group: every rejected event with the same reason."""

    reason = models.CharField(max_length=300, unique=True)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    samples = models.JSONField(default=list, help_text="newest payloads, personal data masked")
    triaged_at = models.DateTimeField(null=True)
    triaged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    triage_note = models.TextField(blank=True)
    digested_at = models.DateTimeField(null=True, help_text="when a digest first reported it")

    class Meta:
        ordering = ["reason"]

    def __str__(self) -> str:
        return self.reason


class TriageNote(models.Model):
    """The audit trail of triage: who marked which reason triaged, when, and why."""

    reason = models.ForeignKey(DeadLetterReason, on_delete=models.CASCADE, related_name="notes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    note = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.reason_id} triaged by {self.user_id} at {self.created_at:%Y-%m-%d %H:%M}"


THRESHOLD_CHOICES = [(f, f) for f in Thresholds.__dataclass_fields__]


class ThresholdOverride(models.Model):
    """An admin's value for one threshold, replacing settings.PIPELINE_THRESHOLDS' until
    deleted; the next health run uses it."""

    name = models.CharField(max_length=40, choices=THRESHOLD_CHOICES, unique=True)
    value = models.FloatField()
    note = models.CharField(max_length=300, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} = {self.value:g}"

    def clean(self) -> None:
        try:
            Thresholds.check_value(self.name, self.value)
        except ValueError as err:
            raise ValidationError({"value": str(err)}) from None
